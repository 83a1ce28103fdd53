package api

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/telemetry"
)

func TestMetricsRecordRequests(t *testing.T) {
	h := newHarness(t)
	m := telemetry.NewMetrics()
	h.engine = New(registryDeps(h.reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Metrics: m}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.do("POST", "/gateway/fetch", "test", `{"table_name":"users"}`).want(t, 200)
	h.do("POST", "/gateway/fetch", "test", `{"table_name":"nope"}`).want(t, 404)
	h.do("GET", "/does/not/exist/42", "", "").want(t, 404)
	r := h.do("GET", "/metrics", "", "").want(t, 200)
	body := string(r.Body)
	for _, want := range []string{
		`athena_http_requests_total{client="test",route="/gateway/fetch",status="200"} 1`,
		`athena_http_requests_total{client="test",route="/gateway/fetch",status="404"} 1`,
		`athena_http_requests_total{client="",route="unmatched",status="404"} 1`,
		`athena_http_request_duration_seconds_bucket{client="test",route="/gateway/fetch",le=`,
		`go_goroutines`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, "/does/not/exist/42") {
		t.Error("raw paths must not become label values")
	}
}
