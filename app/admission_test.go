package app

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/athena-gateway/athena/admission"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/telemetry"
)

// TestAdmissionWiring: admission off builds no limiter (the request path
// never consults one); on, the limiter carries the configured limits, the
// HTTP layer gets it with the record_admitted switch, and its metrics are
// served.
func TestAdmissionWiring(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	if lim := newAdmission(fxtest.NewLifecycle(t), cfg, nil, controlStores{}, telemetry.NewMetrics(), log); lim != nil {
		t.Fatal("admission off built a limiter")
	}
	cfg.Admission.Enabled = true
	cfg.Admission.RecordAdmitted = false
	cfg.Admission.Global = config.AdmissionLimit{RPS: 100}
	cfg.Admission.Clients = map[string]config.AdmissionLimit{"shop": {RPS: 1.0 / 60, Burst: 1, MaxInFlight: 2}}
	m := telemetry.NewMetrics()
	lc := fxtest.NewLifecycle(t)
	lim := newAdmission(lc, cfg, nil, controlStores{}, m, log)
	if lim == nil {
		t.Fatal("admission on built no limiter")
	}
	lc.RequireStart()
	defer lc.RequireStop()
	if l, src := lim.Effective("shop"); src != admission.SourceConfig || l.MaxInFlight != 2 || l.Burst != 1 {
		t.Errorf("shop: %+v from %s", l, src)
	}
	if g := lim.Global(); g.RPS != 100 || g.Burst != 100 {
		t.Errorf("global: %+v (a rate without a burst gets one second's worth)", g)
	}
	ctx := context.Background()
	lim.Admit(ctx, "shop")
	if _, v := lim.Admit(ctx, "shop"); v.Reason != admission.ReasonClientRate {
		t.Errorf("second shop request: %+v", v)
	}
	lim.Count("shop", admission.Rejected, admission.ReasonClientRate)
	opts := newAPIOptions(cfg, "test", nil, apiTelemetry{Admission: lim})
	if opts.Admission != lim || !opts.AdmissionSkipAdmitted {
		t.Errorf("api options: admission %p, skip admitted %v", opts.Admission, opts.AdmissionSkipAdmitted)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, want := range []string{
		`athena_admission_decisions_total{client="shop",decision="admitted",reason=""} 1`,
		`athena_admission_decisions_total{client="shop",decision="rejected",reason="client_rate"} 1`,
		`athena_admission_in_flight{client="shop"} 1`,
		`athena_admission_shared 0`,
	} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestServeRoleValidatesWithAdmission(t *testing.T) {
	cfg := config.Default()
	cfg.Admission.Enabled = true
	p := Params{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := fx.ValidateApp(Serve(p)); err != nil {
		t.Fatalf("serve role with admission does not validate: %v", err)
	}
}
