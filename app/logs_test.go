package app

import (
	"io"
	"log/slog"
	"testing"

	"go.uber.org/fx/fxtest"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// TestNewLogWriterOnlyWithControlPlane: the writer exists whenever there is
// a logging database, because the admin audit trail goes through it; with
// telemetry.enabled false api gets it for the audit trail only, never as
// the request logger. (Until the audit trail, telemetry off meant no
// writer at all.)
func TestNewLogWriterOnlyWithControlPlane(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		name         string
		controlPlane bool
		enabled      bool
		want         bool
	}{
		{"control plane, enabled", true, true, true},
		{"control plane, disabled", true, false, true},
		{"no control plane", false, true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Clients = map[string]config.Client{"demo": {URI: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"}}
			if tt.controlPlane {
				// Pools connect lazily: nothing here touches the database.
				cfg.Clients[config.DefaultControlPlaneClient] = config.Client{URI: "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"}
			}
			cfg.Telemetry.Enabled = tt.enabled
			reg := registry.New(cfg, log)
			defer reg.Close()
			lc := fxtest.NewLifecycle(t)
			w, err := newLogWriter(lc, reg, cfg, telemetry.NewLimiter(2), telemetry.NewMetrics(), log)
			if err != nil {
				t.Fatal(err)
			}
			if got := w != nil; got != tt.want {
				t.Fatalf("writer built: got %v, want %v", got, tt.want)
			}
			opts := newAPIOptions(cfg, "test", nil, apiTelemetry{Logs: w})
			if opts.Audit != w || (opts.Logs != nil) != (w != nil && tt.enabled) {
				t.Fatalf("api options: audit %v logs %v; want audit = writer, logs only with telemetry", opts.Audit, opts.Logs)
			}
			lc.RequireStart()
			lc.RequireStop()
		})
	}
}
