package api

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/registry"
)

// directEngine is a gateway without clients whose direct-URI settings are d.
func directEngine(t *testing.T, d config.DirectURI) *harness {
	t.Helper()
	gin.SetMode(gin.TestMode)
	cfg := config.Default()
	cfg.Gateway.DirectURI = d
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(cfg, log)
	t.Cleanup(reg.Close)
	return &harness{t: t, engine: New(registryDeps(reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, log), reg: reg}
}

// TestDirectURIOptIn checks that the direct-URI headers (spec §1.1) are
// refused unless the operator enables them, and then only reach allowed
// hosts: otherwise any caller makes the gateway connect anywhere (SSRF).
func TestDirectURIOptIn(t *testing.T) {
	u, err := pgx.ParseConfig(testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	hostPort := net.JoinHostPort(u.Host, "5432")
	uri := "postgres://" + u.User + "@" + hostPort + "/" + u.Database + "?sslmode=disable"
	jdbc := "jdbc:postgresql://" + hostPort + "/" + u.Database + "?user=" + u.User + "&sslmode=disable"
	q := `{"query":"select 1 as one"}`
	headers := []struct{ name, value string }{{"x-pg-uri", uri}, {"x-athena-jdbc-url", jdbc}, {"x-jdbc-url", jdbc}}

	t.Run("off by default", func(t *testing.T) {
		h := directEngine(t, config.Default().Gateway.DirectURI)
		for _, hd := range headers {
			r := h.do("POST", "/gateway/query", "", q, hd.name, hd.value).wantCode(t, 403, gateway.CodeForbidden)
			if msg, _ := r.JSON["message"].(string); !strings.Contains(msg, "gateway.direct_uri.enabled") {
				t.Errorf("%s: message %q does not say how to enable direct URIs", hd.name, msg)
			}
		}
		// Nothing was dialled: no direct pool exists.
		for _, s := range h.reg.Stats() {
			if s.Kind == "direct" {
				t.Errorf("a direct pool was created while direct URIs are off: %+v", s)
			}
		}
	})

	t.Run("enabled, host not allowed", func(t *testing.T) {
		h := directEngine(t, config.DirectURI{Enabled: true, AllowedHosts: []string{"db.internal", "10.0.0.0/8", u.Host + ":6543"}})
		for _, v := range []string{
			uri,
			// A host= parameter, or a second host, must not slip past the list.
			"postgres://" + u.User + "@db.internal:5432/" + u.Database + "?sslmode=disable&host=" + u.Host,
			"postgres://" + u.User + "@10.1.2.3:5432," + hostPort + "/" + u.Database + "?sslmode=disable",
		} {
			r := h.do("POST", "/gateway/query", "", q, "x-pg-uri", v).wantCode(t, 403, gateway.CodeForbidden)
			if msg, _ := r.JSON["message"].(string); !strings.Contains(msg, "allowed_hosts") {
				t.Errorf("%s: message %q does not name allowed_hosts", v, msg)
			}
		}
	})

	t.Run("enabled and allowed", func(t *testing.T) {
		for _, allowed := range [][]string{nil, {u.Host}, {hostPort}, {"127.0.0.0/8", "::1/128", "localhost"}} {
			if allowed != nil && allowed[0] == "127.0.0.0/8" && u.Host != "127.0.0.1" && u.Host != "localhost" {
				continue
			}
			h := directEngine(t, config.DirectURI{Enabled: true, AllowedHosts: allowed})
			for _, hd := range headers {
				r := h.do("POST", "/gateway/query", "", q, hd.name, hd.value).want(t, 200)
				if rows := r.rows(t); len(rows) != 1 || num(rows[0]["one"]) != "1" {
					t.Errorf("allowed %v, %s: %s", allowed, hd.name, r.Body)
				}
			}
		}
	})
}
