package main

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/app"
	"github.com/athena-gateway/athena/config"
)

// gatewayProcess is one gateway built exactly as `athena serve` builds it
// (app.Serve), served in-process.
type gatewayProcess struct {
	engine *gin.Engine
}

func startGateway(t *testing.T, cfg config.Config) *gatewayProcess {
	t.Helper()
	var engine *gin.Engine
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := app.Start(ctx, app.Serve(app.Params{Config: cfg, Version: "test", Logger: log}), &engine)
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = a.Stop(ctx)
	})
	return &gatewayProcess{engine: engine}
}

func (g *gatewayProcess) do(method, path, client, key, body string, admin ...string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if client != "" {
		req.Header.Set("X-Athena-Client", client)
	}
	if key != "" {
		req.Header.Set("X-Athena-Key", key)
	}
	if len(admin) > 0 {
		req.Header.Set("X-Athena-Admin-Key", admin[0])
	}
	rec := httptest.NewRecorder()
	g.engine.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// TestKeyLifecycleAcrossProcesses is issue 4's "done when": a key created
// with the CLI can read orders but not write them, is refused on another
// client, and stops working once revoked — in two gateway processes, within
// the documented cache window (5 s).
func TestKeyLifecycleAcrossProcesses(t *testing.T) {
	loggingURL, conn := keysTestDB(t) // private schema for the control plane
	ctx := context.Background()
	gin.SetMode(gin.ReleaseMode)
	u, err := url.Parse(loggingURL)
	if err != nil {
		t.Fatal(err)
	}
	schema := pgx.Identifier{u.Query().Get("search_path")}.Sanitize()
	if _, err := conn.Exec(ctx, `SET search_path TO `+schema+`; CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL);
		INSERT INTO orders (item) VALUES ('book'), ('pen')`); err != nil {
		t.Fatal(err)
	}
	const adminKey = "e2e-admin-key-abcdefghijklmnop"
	t.Setenv("ATHENA_ADMIN_KEY", adminKey)
	cfg := config.Default()
	cfg.API.Host, cfg.API.Port = "127.0.0.1", 0
	cfg.Temporal.Address = "127.0.0.1:1" // lazy client: not needed here
	cfg.Gateway.DirectURI.Enabled = true // the keyless direct-URI rule is checked below
	cfg.Clients = map[string]config.Client{
		// Tenants share the schema that holds orders; the control plane
		// is the same private schema (its tables are distinct).
		"shop":           {URI: loggingURL},
		"other":          {URI: loggingURL},
		"athena_logging": {URI: loggingURL},
	}
	// The private schema stands in for public, for clients and direct URIs.
	cfg.Postgres.ExposedSchemas = []string{u.Query().Get("search_path")}
	a, b := startGateway(t, cfg), startGateway(t, cfg)

	// Temporal is down (127.0.0.1:1): /health says so but stays 200, since
	// the synchronous routes do not need it; the logging database is up.
	if code, body := a.do("GET", "/health", "", "", ""); code != 200 ||
		!strings.Contains(body, `"temporal":{"status":"down","required":false`) ||
		!strings.Contains(body, `"logging_database":{"status":"ok","required":true`) {
		t.Errorf("health with Temporal down: %d %s", code, body)
	}

	// Turn enforcement on through the admin API of process A.
	if code, body := a.do("PUT", "/admin/api-key-config", "", "", `{"enforce":true,"fail_mode":"fail_closed"}`, adminKey); code != 200 {
		t.Fatalf("enable enforcement: %d %s", code, body)
	}
	env := func(k string) string {
		if k == "ATHENA_LOGGING_DATABASE_URL" {
			return loggingURL
		}
		return ""
	}
	code, out, errs := runKeys(env, "create", "--name", "orders reader", "--client", "shop", "--right", "orders.read")
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, errs)
	}
	key := strings.TrimSpace(out)

	read := `{"table_name":"orders"}`
	write := `{"table_name":"orders","insert_body":{"item":"cup"}}`
	// Both processes must reach the new state within the cache window;
	// poll with a bound instead of sleeping.
	eventually := func(what string, ok func(g *gatewayProcess) bool) {
		t.Helper()
		for _, g := range []*gatewayProcess{a, b} {
			deadline := time.Now().Add(15 * time.Second)
			for !ok(g) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not reached within 15s", what)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	eventually("enforcement on: no key is 401", func(g *gatewayProcess) bool {
		code, _ := g.do("POST", "/gateway/fetch", "shop", "", read)
		return code == 401
	})
	for name, g := range map[string]*gatewayProcess{"A": a, "B": b} {
		if code, body := g.do("POST", "/gateway/fetch", "shop", key, read); code != 200 || !strings.Contains(body, "book") {
			t.Errorf("%s: read orders: %d %s", name, code, body)
		}
		if code, body := g.do("PUT", "/gateway/insert", "shop", key, write); code != 403 || !strings.Contains(body, "orders.write") {
			t.Errorf("%s: write orders: %d %s, want 403 naming orders.write", name, code, body)
		}
		if code, body := g.do("POST", "/gateway/fetch", "other", key, read); code != 403 || !strings.Contains(body, "client mismatch") {
			t.Errorf("%s: other client: %d %s, want 403 API key client mismatch", name, code, body)
		}
		if code, _ := g.do("POST", "/gateway/query", "shop", key, `{"query":"select 1"}`); code != 403 {
			t.Errorf("%s: raw query without gateway.query: %d, want 403", name, code)
		}
		if code, _ := g.do("POST", "/gateway/fetch", "shop", key, `{bad json`); code != 400 {
			t.Errorf("%s: authenticated bad body: %d, want 400", name, code)
		}
		if code, _ := g.do("POST", "/gateway/fetch", "shop", "", `{bad json`); code != 401 {
			t.Errorf("%s: unauthenticated bad body: %d, want 401 (auth before parsing)", name, code)
		}
		if code, _ := g.do("POST", "/gateway/fetch", "athena_logging", key, `{"table_name":"api_keys"}`); code != 403 {
			t.Errorf("%s: the logging database is reserved: %d, want 403", name, code)
		}
		if code, _ := g.do("GET", "/admin/api-keys", "", key, ""); code != 403 {
			t.Errorf("%s: admin route with a tenant key: %d, want 403", name, code)
		}
	}

	// Direct URIs (spec §1.1): credentials in the URI waive the key; a URI
	// without a password does not.
	withPassword := strings.Replace(loggingURL, "postgres://postgres@", "postgres://postgres:secret@", 1)
	if withPassword == loggingURL {
		t.Fatalf("test URL %q has an unexpected shape", loggingURL)
	}
	direct := func(uri string) int {
		req := httptest.NewRequest("POST", "/gateway/fetch", strings.NewReader(read))
		req.Header.Set("x-pg-uri", uri)
		rec := httptest.NewRecorder()
		a.engine.ServeHTTP(rec, req)
		if strings.Contains(rec.Body.String(), "secret") {
			t.Errorf("direct-URI answer leaks the password: %s", rec.Body.String())
		}
		return rec.Code
	}
	if code := direct(withPassword); code != 200 {
		t.Errorf("direct URI with user and password, no key: %d, want 200 (keyless rule)", code)
	}
	if code := direct(loggingURL); code != 401 {
		t.Errorf("direct URI without password, no key: %d, want 401", code)
	}

	pub := key[len("ath_"):strings.Index(key, ".")]
	if code, _, errs := runKeys(env, "revoke", pub); code != 0 {
		t.Fatalf("keys revoke: %s", errs)
	}
	eventually("revoked key refused", func(g *gatewayProcess) bool {
		code, _ := g.do("POST", "/gateway/fetch", "shop", key, read)
		return code == 401
	})
}
