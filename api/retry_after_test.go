package api

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
)

// TestRetryAfterReflectsBackoff: a fresh failure's Retry-After is the time
// before the gateway really tries again, rounded up to whole seconds
// (minimum 1), not a constant 5: a pool dials again at the next acquire, a
// failed direct-URI pool is not cached, and key-store failures are not
// cached, so each answers 1. A configured value is kept.
func TestRetryAfterReflectsBackoff(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/gateway/fetch", "dead", `{"table_name":"users"}`).wantCode(t, 503, gateway.CodeBackendUnavailable)
	if got := r.Header.Get("Retry-After"); got != "1" {
		t.Errorf("dead client database: Retry-After %q, want 1 (no reconnect backoff)", got)
	}

	d := directEngine(t, config.DirectURI{Enabled: true})
	r = d.do("POST", "/gateway/query", "", `{"query":"select 1"}`, "x-pg-uri", "postgres://u@127.0.0.1:1/db?sslmode=disable&connect_timeout=1")
	if r.Status != 503 || r.Header.Get("Retry-After") != "1" {
		t.Errorf("dead direct URI: got %d Retry-After %q, want 503 with 1; %s", r.Status, r.Header.Get("Retry-After"), r.Body)
	}

	pc, err := pgxpool.ParseConfig("postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	dead, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dead.Close)
	g, _ := auth.GenerateKey()
	for _, tt := range []struct {
		configured int
		want       string
	}{{0, "1"}, {7, "7"}} {
		e := newKeyEnv(t, dead, auth.Options{FailMode: auth.FailClosed, RetryAfter: tt.configured})
		r := e.do("POST", "/probe", "app", `{}`, "X-Athena-Key", g.Plaintext).wantCode(t, 503, gateway.CodeBackendUnavailable)
		if got := r.Header.Get("Retry-After"); got != tt.want {
			t.Errorf("key store down (configured %d): Retry-After %q, want %s", tt.configured, got, tt.want)
		}
	}
}
