package api

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/registry"
)

// expose rebuilds h so that client "test" exposes exactly schemas (its
// fixture schema stands in for public in every other test).
func (h *harness) expose(t *testing.T, schemas ...string) {
	t.Helper()
	cfg := config.Default()
	cfg.Postgres.MaxConns = 4
	sep := "&"
	if !strings.Contains(testDatabaseURL(), "?") {
		sep = "?"
	}
	cfg.Clients = map[string]config.Client{"test": {URI: testDatabaseURL() + sep + "search_path=" + h.schema, ExposedSchemas: schemas}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(cfg, log)
	t.Cleanup(reg.Close)
	h.reg = reg
	h.engine = New(registryDeps(reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, log)
}

// wantErr reports, without stopping, unless r has the status and machine code.
func (r response) wantErr(t *testing.T, status int, code string) {
	t.Helper()
	if r.Status != status || r.code() != code {
		t.Errorf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
}

// System catalogs and schemas the client does not expose do not exist for
// fetch, insert, update, delete, embeds and RPC (spec §1.1): 404
// unknown_table / unknown_function, never a row of pg_authid.
func TestSystemSchemasAreNeverExposed(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{
		`{"table_name":"pg_catalog.pg_authid"}`,
		`{"table_name":"pg_authid","schema_name":"pg_catalog"}`,
		`{"table_name":"pg_authid"}`, // pg_catalog is on every search_path
		`{"table_name":"pg_shadow"}`,
		`{"table_name":"information_schema.tables"}`,
		`{"table_name":"pg_toast.pg_toast_1260"}`,
		`{"table_name":"athena.api_keys"}`,
		`{"view_name":"pg_roles"}`,
	} {
		r := h.do("POST", "/gateway/fetch", "test", body)
		r.wantErr(t, 404, "unknown_table")
		if strings.Contains(string(r.Body), "SCRAM") || strings.Contains(string(r.Body), "rolpassword") {
			t.Errorf("fetch %s leaks: %s", body, r.Body)
		}
	}
	h.do("PUT", "/gateway/insert", "test", `{"table_name":"pg_catalog.pg_authid","insert_body":{"rolname":"x"}}`).wantErr(t, 404, "unknown_table")
	h.do("POST", "/gateway/update", "test", `{"table_name":"pg_authid","schema_name":"pg_catalog","update_body":{"rolsuper":true},"conditions":[{"eq_column":"rolname","eq_value":"x"}]}`).wantErr(t, 404, "unknown_table")
	h.do("DELETE", "/gateway/delete", "test", `{"table_name":"pg_catalog.pg_authid","conditions":[{"eq_column":"rolname","eq_value":"x"}]}`).wantErr(t, 404, "unknown_table")
	if r := h.do("POST", "/gateway/transaction", "test", `{"operations":[{"id":"a","kind":"fetch","payload":{"table_name":"pg_catalog.pg_authid"}}]}`); r.Status != 404 {
		t.Errorf("transaction fetch of pg_authid: got %d %s, want 404", r.Status, r.Body)
	}

	// Embeds into pg_catalog answer like an embed of a table that does not exist.
	missing := h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","columns":"id,nowhere.nothing(x)"}`)
	if missing.Status != 400 {
		t.Fatalf("embed of a missing table: %d %s", missing.Status, missing.Body)
	}
	for _, body := range []string{
		`{"table_name":"users","columns":"id,pg_catalog.pg_authid(rolpassword)"}`,
		`{"table_name":"users","columns":"id,r:pg_catalog.pg_class(relname)"}`,
		`{"table_name":"users","select":{"id":true,"pg_authid":{"schema":"pg_catalog","select":"rolpassword"}}}`,
	} {
		r := h.do("POST", "/gateway/fetch", "test", body)
		if r.Status != missing.Status || r.code() != missing.code() || strings.Contains(string(r.Body), "SCRAM") {
			t.Errorf("embed %s: got %d %s, want %d %s", body, r.Status, r.Body, missing.Status, missing.code())
		}
	}

	// RPC calls no built-in: not unqualified, not through pg_catalog.
	for _, body := range []string{
		`{"function":"pg_terminate_backend","args":{"pid":1}}`,
		`{"function":"pg_catalog.now"}`,
		`{"function":"now","schema":"pg_catalog"}`,
		`{"function":"now"}`,
		`{"function":"pg_sleep","args":{"seconds":0}}`,
		`{"function":"information_schema._pg_truetypid"}`,
	} {
		h.do("POST", "/gateway/rpc", "test", body).wantErr(t, 404, "unknown_function")
	}
	h.do("GET", "/rpc/pg_terminate_backend?pid=1", "test", "").wantErr(t, 404, "unknown_function")
	h.do("GET", "/rpc/now?schema=pg_catalog", "test", "").wantErr(t, 404, "unknown_function")
	// The client's own functions still work, qualified or not.
	h.do("POST", "/gateway/rpc", "test", `{"function":"add_numbers","args":{"a":1,"b":2}}`).want(t, 200)
	h.do("POST", "/gateway/rpc", "test", `{"function":"add_numbers","schema":"`+h.schema+`","args":{"a":1,"b":2}}`).want(t, 200)

	// Raw SQL stays the one door (it needs gateway.query when keys are on).
	h.do("POST", "/gateway/query", "test", `{"query":"SELECT count(*) AS n FROM pg_catalog.pg_class"}`).want(t, 200)
}

// A user schema the client does not expose is as absent as pg_catalog;
// listing it in exposed_schemas makes it reachable, tables and functions,
// qualified or not (in list order).
func TestExposedSchemasPerClient(t *testing.T) {
	h := newHarness(t)
	hidden := h.sideSchemaName("hidden")
	users := pgx.Identifier{h.schema, "users"}.Sanitize()
	h.createSideSchema(t, hidden, `CREATE TABLE `+hidden+`.secrets (id int PRIMARY KEY, user_id bigint REFERENCES `+users+`(id), v text);
INSERT INTO `+hidden+`.secrets VALUES (1, 1, 'classified');
CREATE FUNCTION `+hidden+`.peek() RETURNS text LANGUAGE sql AS $$ SELECT 'peeked' $$;`)

	check := func(exposed bool) {
		t.Helper()
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/gateway/fetch", `{"table_name":"` + hidden + `.secrets"}`},
			{"POST", "/gateway/fetch", `{"table_name":"secrets","schema_name":"` + hidden + `"}`},
			{"POST", "/gateway/fetch", `{"table_name":"secrets"}`},
			{"POST", "/gateway/update", `{"table_name":"` + hidden + `.secrets","update_body":{"v":"classified"},"conditions":[{"eq_column":"id","eq_value":1}]}`},
			{"POST", "/gateway/rpc", `{"function":"peek"}`},
			{"POST", "/gateway/rpc", `{"function":"` + hidden + `.peek"}`},
		} {
			r := h.do(tc.method, tc.path, "test", tc.body)
			switch {
			case exposed && r.Status != 200:
				t.Errorf("exposed: %s %s: got %d %s, want 200", tc.path, tc.body, r.Status, r.Body)
			case !exposed && (r.Status != 404 || strings.Contains(string(r.Body), "classified") || strings.Contains(string(r.Body), "peeked")):
				t.Errorf("not exposed: %s %s: got %d %s, want 404", tc.path, tc.body, r.Status, r.Body)
			}
		}
		// An embed across the foreign key into the schema.
		r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","columns":"id,`+hidden+`.secrets(v)","conditions":[{"eq_column":"id","eq_value":1}]}`)
		if exposed != (r.Status == 200) || (!exposed && strings.Contains(string(r.Body), "classified")) {
			t.Errorf("embed, exposed %v: got %d %s", exposed, r.Status, r.Body)
		}
		r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","columns":"id,secrets(v)","conditions":[{"eq_column":"id","eq_value":1}]}`)
		if exposed != (r.Status == 200) || (!exposed && strings.Contains(string(r.Body), "classified")) {
			t.Errorf("unqualified embed, exposed %v: got %d %s", exposed, r.Status, r.Body)
		}
	}
	h.expose(t, h.schema)
	check(false)
	h.expose(t, h.schema, hidden)
	check(true)
}
