package api

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/registry"
)

// newSmallPoolHarness is newHarness whose client "test" has one pooled
// connection, so every request reuses the session the previous one left,
// and a 1 s statement timeout.
func newSmallPoolHarness(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	cfg := config.Default()
	cfg.Postgres.MaxConns = 1
	cfg.Postgres.AcquireTimeout = 10 * time.Second
	sep := "&"
	if !strings.Contains(testDatabaseURL(), "?") {
		sep = "?"
	}
	cfg.Clients = map[string]config.Client{"test": {
		URI:              testDatabaseURL() + sep + "search_path=" + h.schema,
		StatementTimeout: time.Second,
		ExposedSchemas:   []string{h.schema},
	}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(cfg, log)
	t.Cleanup(reg.Close)
	h.reg = reg
	h.engine = New(registryDeps(reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, log)
	return h
}

// Nothing raw SQL does to its session outlives the request (spec §3.6):
// search_path, statement_timeout, role, temp tables, advisory locks and
// prepared statements are gone for the next caller of the same pooled
// connection, and table metadata is not learned through a caller's
// search_path.
func TestRawQuerySessionStateDoesNotLeak(t *testing.T) {
	h := newSmallPoolHarness(t)
	other := h.sideSchemaName("other")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// A decoy "users" with other rows: a fetch resolved through the
	// leaked search_path would read it.
	h.createSideSchema(t, other, "CREATE TABLE "+other+".users (id bigint, email text); INSERT INTO "+other+".users VALUES (99, 'decoy@example.com')")

	lock := time.Now().UnixNano() % 1000000007
	raw := fmt.Sprintf(`{"query":"SET search_path TO %s; SET statement_timeout = 0; SET ROLE pg_read_all_data; CREATE TEMP TABLE leak (x int); SELECT pg_advisory_lock(%d); PREPARE leaked AS SELECT 1"}`, other, lock)
	h.do("POST", "/gateway/query", "test", raw).want(t, 200)

	for i := 0; i < 20; i++ {
		r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","columns":"email","sort_by":{"field":"id"}}`).want(t, 200)
		if rows := r.rows(t); len(rows) < 3 || rows[0]["email"] != "ada@example.com" || strings.Contains(string(r.Body), "decoy") {
			t.Fatalf("fetch %d after a raw SET search_path read %s", i, r.Body)
		}
		r = h.do("PUT", "/gateway/insert", "test", fmt.Sprintf(`{"table_name":"users","insert_body":{"email":"n%d@example.com"},"columns":"id"}`, i)).want(t, 201)
	}
	var decoys int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+other+".users").Scan(&decoys); err != nil || decoys != 1 {
		t.Errorf("inserts reached the decoy table: %d rows (err %v)", decoys, err)
	}

	check := func(sql string, want any) {
		t.Helper()
		r := h.do("POST", "/gateway/query", "test", `{"query":"`+sql+`"}`).want(t, 200)
		rows := r.rows(t)
		if len(rows) != 1 {
			t.Fatalf("%s: got %s", sql, r.Body)
		}
		for _, v := range rows[0] {
			if num(v) != fmt.Sprint(want) {
				t.Errorf("%s: got %s, want %v", sql, r.Body, want)
			}
		}
	}
	check("SELECT current_setting('search_path') = '"+h.schema+"' AS v", true)
	check("SELECT current_user AS v", "postgres")
	check("SELECT to_regclass('pg_temp.leak') IS NULL AS v", true)
	check(fmt.Sprintf("SELECT count(*) AS v FROM pg_locks WHERE locktype = 'advisory' AND objid = %d", lock), 0)
	check("SELECT count(*) AS v FROM pg_prepared_statements WHERE from_sql", 0)

	// DEALLOCATE ALL drops the statements pgx prepared on the connection:
	// pgx forgets them too, so the next fetch prepares again instead of
	// failing with "prepared statement does not exist".
	fetch := `{"table_name":"users","columns":"email","limit":1}`
	h.do("POST", "/gateway/fetch", "test", fetch).want(t, 200)
	h.do("POST", "/gateway/query", "test", `{"query":"DEALLOCATE ALL"}`).want(t, 200)
	h.do("POST", "/gateway/fetch", "test", fetch).want(t, 200)

	// statement_timeout = 0 did not survive: the client's 1 s applies.
	r := h.do("POST", "/gateway/query", "test", `{"query":"SELECT pg_sleep(4)"}`)
	if r.Status != 504 || r.code() != "statement_timeout" {
		t.Errorf("pg_sleep(4) after SET statement_timeout = 0: got %d %s, want 504 statement_timeout", r.Status, r.Body)
	}
}
