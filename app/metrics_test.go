package app

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

func TestMetricsFamilies(t *testing.T) {
	cfg := config.Default()
	cfg.Clients = map[string]config.Client{"demo": {URI: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(cfg, log)
	defer reg.Close()
	if _, err := reg.Lookup("demo"); err != nil { // opens the pool
		t.Fatal(err)
	}
	c, err := cache.New(cache.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m := newMetrics(reg, c, telemetry.NewLimiter(2))
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`athena_pool_max_connections{client="demo",kind="client"} 10`,
		`athena_pool_in_use_connections{client="demo"`,
		`athena_cache_requests_total{outcome="hit_local"} 0`,
		`athena_cache_redis_errors_total 0`,
		`athena_cache_redis_degraded 0`,
		`athena_telemetry_task_slots 2`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, rec.Body.String())
		}
	}
}

// TestMetricsSwitch: telemetry.metrics false hands the HTTP layer no
// metrics (nothing recorded per request, /metrics not served); true, the
// default, hands it the process's registry.
func TestMetricsSwitch(t *testing.T) {
	m := telemetry.NewMetrics()
	for _, tt := range []struct {
		give bool
		want *telemetry.Metrics
	}{{true, m}, {false, nil}} {
		cfg := config.Default()
		cfg.Telemetry.Metrics = tt.give
		got := newAPIOptions(cfg, "test", nil, apiTelemetry{Metrics: m}).Metrics
		if got != tt.want {
			t.Errorf("telemetry.metrics=%v: got metrics %p, want %p", tt.give, got, tt.want)
		}
	}
	if !config.Default().Telemetry.Metrics {
		t.Error("metrics are off by default, want on")
	}
}
