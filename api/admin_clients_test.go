package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
)

// newControlPlaneHarness is newHarness with a control plane: the logging
// tables in their own schema (client athena_logging), the fixture client
// "test" from the config file, and wildcard hosts *.db.example.test.
func newControlPlaneHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	ctx := context.Background()
	cpSchema := h.schema + "_cp"
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+cpSchema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testDatabaseURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+cpSchema+" CASCADE")
	})
	sep := "&"
	if !strings.Contains(testDatabaseURL(), "?") {
		sep = "?"
	}
	cfg := config.Default()
	cfg.Postgres.MaxConns = 4
	cfg.Postgres.ConnectTimeout = 2 * time.Second
	cfg.ControlPlane.PollInterval = time.Minute
	cfg.ControlPlane.WildcardHostPattern = "*.db.example.test"
	cfg.Gateway.DirectURI.Enabled = true // TestResolutionOrder sends direct URIs
	cfg.Clients = map[string]config.Client{
		"athena_logging": {URI: testDatabaseURL() + sep + "search_path=" + cpSchema},
		"test":           {URI: testDatabaseURL() + sep + "search_path=" + h.schema, ExposedSchemas: []string{h.schema}},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.NewWithOptions(cfg, log, registry.Options{Getenv: func(string) string { return "" }})
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := reg.Start(sctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	h.reg = reg
	// Admin routes need the admin key; h.do sends it.
	h.adminKey = testAdminKey
	// No key store: keys off explicitly, as api_keys.required: false.
	a := auth.New(nil, auth.Options{AdminKey: testAdminKey, KeysOptional: true})
	t.Cleanup(a.Close)
	h.engine = New(registryDeps(reg, a), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, log)
	return h
}

func TestAdminClients(t *testing.T) {
	h := newControlPlaneHarness(t)
	u, _ := pgx.ParseConfig(testDatabaseURL())
	shopURI := "postgres://" + u.User + ":topsecret@" + net.JoinHostPort(u.Host, "5432") + "/" + u.Database + "?sslmode=disable&search_path=" + h.schema

	r := h.do("POST", "/admin/clients", "", `{"client_name":"shop","pg_uri":"`+shopURI+`","metadata":{"team":"a"}}`).want(t, 201)
	if strings.Contains(string(r.Body), "topsecret") {
		t.Errorf("create answer leaks the password: %s", r.Body)
	}
	h.do("POST", "/admin/clients", "", `{"client_name":"shop","pg_uri":"`+shopURI+`"}`).want(t, 409)
	for _, bad := range []string{
		`{"client_name":"bad name","pg_uri":"postgres://u@h/db"}`,
		`{"client_name":"x","pg_uri":"mysql://u@h/db"}`,
		`{"client_name":"x"}`,
		`{"client_name":"x","pg_uri":"postgres://u@h/db","unknown":1}`,
		`{"client_name":"athena_logging","pg_uri":"postgres://u@h/db"}`,
		`{"client_name":"x'); DROP TABLE athena_clients; --","pg_uri":"postgres://u@h/db"}`,
		`not json`,
	} {
		if r := h.do("POST", "/admin/clients", "", bad); r.Status < 400 || r.Status >= 500 {
			t.Errorf("POST %s: got %d %s, want 4xx", bad, r.Status, r.Body)
		}
	}

	// Its URI's search_path does not expose the schema (spec §1.1): only
	// public is, and public has no comments table.
	if r := h.do("POST", "/gateway/fetch", "shop", `{"table_name":"comments","limit":1}`).want(t, 404); r.code() != "unknown_table" {
		t.Errorf("fetch from a schema shop does not expose: %s", r.Body)
	}
	// The control plane's metadata exposes it; a system schema is refused.
	for _, bad := range []string{`["pg_catalog"]`, `["athena"]`, `[]`, `"public"`, `["bad name"]`} {
		if r := h.do("PATCH", "/admin/clients/shop", "", `{"metadata":{"exposed_schemas":`+bad+`}}`); r.Status != 400 {
			t.Errorf("metadata exposed_schemas %s: got %d %s, want 400", bad, r.Status, r.Body)
		}
	}
	h.do("PATCH", "/admin/clients/shop", "", `{"metadata":{"team":"a","exposed_schemas":["`+h.schema+`"]}}`).want(t, 200)

	// The new client serves gateway requests at once.
	h.do("POST", "/gateway/fetch", "shop", `{"table_name":"users","limit":1}`).want(t, 200)
	h.do("POST", "/gateway/fetch", "shop", `{"table_name":"comments","limit":1}`).want(t, 200)

	r = h.do("GET", "/admin/clients", "", "").want(t, 200)
	if strings.Contains(string(r.Body), "topsecret") || !strings.Contains(string(r.Body), `"source":"config"`) {
		t.Errorf("GET /admin/clients: %s", r.Body)
	}

	h.do("PUT", "/admin/clients/shop/freeze", "", "").want(t, 200)
	r = h.do("POST", "/gateway/fetch", "shop", `{"table_name":"users"}`).want(t, 503)
	if r.code() != "client_frozen" || r.Header.Get("Retry-After") == "" {
		t.Errorf("frozen: code %q, Retry-After %q", r.code(), r.Header.Get("Retry-After"))
	}
	h.do("PUT", "/admin/clients/shop/freeze", "", `{"frozen":false}`).want(t, 200)
	h.do("POST", "/gateway/fetch", "shop", `{"table_name":"users"}`).want(t, 200)

	h.do("PATCH", "/admin/clients/shop", "", `{"is_active":false}`).want(t, 200)
	if r := h.do("POST", "/gateway/fetch", "shop", `{"table_name":"users"}`).want(t, 403); r.code() != "client_inactive" {
		t.Errorf("inactive: code %q", r.code())
	}
	h.do("PATCH", "/admin/clients/nobody", "", `{"is_active":false}`).want(t, 404)
	h.do("PATCH", "/admin/clients/test", "", `{"pg_uri":"postgres://u@h/db"}`).want(t, 400)

	if r := h.do("DELETE", "/admin/clients/test", "", "").want(t, 400); !strings.Contains(r.JSON["message"].(string), "config file") {
		t.Errorf("deleting a config client: %s", r.Body)
	}
	h.do("DELETE", "/admin/clients/shop", "", "").want(t, 200)
	if r := h.do("POST", "/gateway/fetch", "shop", `{"table_name":"users"}`).want(t, 400); r.code() != "invalid_client" {
		t.Errorf("deleted: code %q", r.code())
	}

	for _, path := range []string{"/clients", "/schema/clients"} {
		r := h.do("GET", path, "", "").want(t, 200)
		if got := string(r.Body); got != `{"clients":["test"]}` {
			t.Errorf("%s: got %s", path, got)
		}
	}
	r = h.do("GET", "/admin/pools", "", "").want(t, 200)
	if !strings.Contains(string(r.Body), `"kind":"control_plane"`) || !strings.Contains(string(r.Body), `"client":"test"`) {
		t.Errorf("pools: %s", r.Body)
	}

	// The logging database is not a tenant.
	if r := h.do("POST", "/gateway/query", "athena_logging", `{"query":"select 1"}`).want(t, 403); r.code() != "forbidden" {
		t.Errorf("reserved client: code %q", r.code())
	}
}

func TestResolutionOrder(t *testing.T) {
	h := newControlPlaneHarness(t)
	u, _ := pgx.ParseConfig(testDatabaseURL())
	direct := "postgres://" + u.User + "@" + net.JoinHostPort(u.Host, "5432") + "/" + u.Database + "?sslmode=disable&search_path=" + h.schema
	jdbc := "jdbc:postgresql://" + net.JoinHostPort(u.Host, "5432") + "/" + u.Database + "?user=" + u.User + "&password=pw&sslmode=disable&currentSchema=" + h.schema
	q := `{"query":"select count(*) as n from users"}`

	// Direct URI headers, in order, win over X-Athena-Client.
	h.do("POST", "/gateway/query", "nobody", q, "x-pg-uri", direct).want(t, 200)
	h.do("POST", "/gateway/query", "", q, "x-athena-jdbc-url", jdbc).want(t, 200)
	h.do("POST", "/gateway/query", "", q, "x-jdbc-url", jdbc).want(t, 200)
	h.do("POST", "/gateway/query", "", q, "x-pg-uri", "mysql://u:pw@h/db").want(t, 400)
	r := h.do("POST", "/gateway/query", "", q, "x-pg-uri", "postgres://u:hushhush@"+nonPostgres(t)+"/db?sslmode=disable")
	if r.Status != 503 && r.Status != 400 || strings.Contains(string(r.Body), "hushhush") {
		t.Errorf("non-PostgreSQL direct URI: %d %s", r.Status, r.Body)
	}
	// Schema routes ignore direct URIs (gateway CRUD/query routes only).
	if r := h.do("GET", "/schema/tables", "", "", "x-pg-uri", direct).want(t, 400); r.code() != "missing_client_header" {
		t.Errorf("direct URI on a schema route: %s", r.Body)
	}

	// Wildcard host, after the header.
	if _, err := h.reg.PutRoute(context.Background(), routeTo("acme", "test")); err != nil {
		t.Fatal(err)
	}
	h.doHost("POST", "/gateway/query", "ACME.db.example.test:4052", "", q).want(t, 200)
	if r := h.doHost("POST", "/gateway/query", "nope.db.example.test", "", q).want(t, 400); r.code() != "invalid_client" {
		t.Errorf("unknown route: %s", r.Body)
	}
	if r := h.doHost("POST", "/gateway/query", "elsewhere.example.org", "", q).want(t, 400); r.code() != "missing_client_header" {
		t.Errorf("no client at all: %s", r.Body)
	}
	if r := h.doHost("POST", "/gateway/query", "acme.db.example.test", "nobody", q).want(t, 400); r.code() != "invalid_client" {
		t.Errorf("X-Athena-Client must win over the host: %s", r.Body)
	}
	// Injection through the header stays data.
	if r := h.do("POST", "/gateway/query", "test' OR '1'='1", q).want(t, 400); r.code() != "invalid_client" {
		t.Errorf("injection in X-Athena-Client: %s", r.Body)
	}
}

// doHost is do with a Host header (wildcard routing).
func (h *harness) doHost(method, path, host, client, body string) response {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = host
	req.Header.Set("Content-Type", "application/json")
	if client != "" {
		req.Header.Set("X-Athena-Client", client)
	}
	rec := serve(h.t, h.engine, req)
	r := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	_ = json.Unmarshal(r.Body, &r.JSON)
	return r
}

func routeTo(key, client string) postgres.Route {
	return postgres.Route{Key: key, Client: client, Active: true}
}

// nonPostgres is the address of a listener that answers every connection
// with bytes that are not the PostgreSQL protocol.
func nonPostgres(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
			_ = c.Close()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return ln.Addr().String()
}
