package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/registry"
)

func TestHealthRequiredAndOptionalChecks(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(config.Default(), log)
	t.Cleanup(reg.Close)
	down := func(context.Context) error { return errors.New("dial tcp: refused") }
	up := func(context.Context) error { return nil }
	tests := []struct {
		name   string
		checks []HealthCheck
		want   int
	}{
		{"all up", []HealthCheck{{"temporal", false, up}, {"logging_database", true, up}}, 200},
		{"optional down", []HealthCheck{{"temporal", false, down}, {"logging_database", true, up}}, 200},
		{"required down", []HealthCheck{{"temporal", false, up}, {"logging_database", true, down}}, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &harness{t: t, engine: New(registryDeps(reg, nil), Options{Version: "t", Checks: tt.checks}, log)}
			r := h.do("GET", "/health", "", "").want(t, tt.want)
			checks, _ := r.JSON["checks"].(map[string]any)
			for _, c := range tt.checks {
				got, _ := checks[c.Name].(map[string]any)
				want := "ok"
				if c.Check(context.Background()) != nil {
					want = "down"
				}
				if got["status"] != want || got["required"] != c.Required {
					t.Errorf("check %s: got %v, want status %s required %v", c.Name, got, want, c.Required)
				}
				if _, leaks := got["error"].(string); leaks && got["error"] == "dial tcp: refused" {
					t.Errorf("check %s leaks the underlying error", c.Name)
				}
			}
		})
	}
}
