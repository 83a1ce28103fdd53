package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/internal/testenv"
	"github.com/athena-gateway/athena/postgres/postgrestest"
	"github.com/athena-gateway/athena/registry"
)

// testDatabaseURL is the PostgreSQL the tests run against (`make test`
// makes sure it is up); the one definition is postgrestest.URL.
var testDatabaseURL = postgrestest.URL

const fixtureSQL = `
CREATE TABLE users (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, name text, age int, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE posts (id bigserial PRIMARY KEY, author_id bigint REFERENCES users(id), title text NOT NULL,
  status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','published','archived')), priority text, tags text[], meta jsonb,
  archived_at timestamptz, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE comments (id bigserial PRIMARY KEY, post_id bigint NOT NULL REFERENCES posts(id) ON DELETE CASCADE, body text NOT NULL);
CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), user_id bigint REFERENCES users(id), amount numeric(12,2) NOT NULL, status text NOT NULL DEFAULT 'open');
INSERT INTO users (email, name, age) VALUES ('ada@example.com','Ada',36), ('bob@example.com','Bob',NULL), ('cy@example.com','Cy',52);
INSERT INTO posts (author_id, title, status, priority, tags, meta, created_at) VALUES
  (1,'Hello','published','high','{go,sql}','{"views":10}','2026-01-01T10:00:00Z'),
  (1,'Draft','draft','low',NULL,NULL,'2026-01-01T12:00:00Z'),
  (2,'Urgent','published','urgent','{ops}','{"views":3}','2026-01-02T09:00:00Z');
INSERT INTO comments (post_id, body) VALUES (1,'first'),(1,'second'),(3,'third');
INSERT INTO orders (user_id, amount, status) VALUES (1, 10.50, 'open'), (2, 99.99, 'paid');
CREATE FUNCTION posts_by_status(p_status text) RETURNS SETOF posts LANGUAGE sql STABLE AS $$ SELECT * FROM posts WHERE status = p_status $$;
CREATE FUNCTION add_numbers(a int, b int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
`

type harness struct {
	t      testing.TB
	engine *gin.Engine
	reg    *registry.Registry
	schema string
	// adminKey, when set, is sent as X-Athena-Admin-Key on every request.
	adminKey string
}

// newHarness makes a fresh schema with the fixture tables and an engine
// whose client "test" has that schema on its search_path, plus a client
// "dead" whose database does not exist on the network.
func newHarness(t testing.TB) *harness {
	t.Helper()
	gin.SetMode(gin.TestMode)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL (run `make test`, which starts it)", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := fmt.Sprintf("api_test_%d_%s", time.Now().Unix(), hex.EncodeToString(b[:]))
	dropStaleSchemas(ctx, conn)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema+"; SET search_path TO "+schema+"; "+fixtureSQL); err != nil {
		t.Fatalf("create fixture: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testDatabaseURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	cfg := config.Default()
	cfg.Postgres.MaxConns = 4
	cfg.Postgres.ConnectTimeout = 2 * time.Second
	cfg.Postgres.AcquireTimeout = 2 * time.Second
	sep := "&"
	if !strings.Contains(testDatabaseURL(), "?") {
		sep = "?"
	}
	cfg.Clients = map[string]config.Client{
		"test": {URI: testDatabaseURL() + sep + "search_path=" + schema, ExposedSchemas: []string{schema}},
		"dead": {URI: "postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1"},
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(cfg, log)
	t.Cleanup(reg.Close)
	lim := gateway.DefaultLimits()
	lim.MaxInsertRows = 2000
	engine := New(registryDeps(reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: lim}, log)
	return &harness{t: t, engine: engine, reg: reg, schema: schema}
}

// sideSchemaName is the name of a schema a test creates beside its
// fixture; fixture-prefixed, so dropStaleSchemas also finds a leftover.
func (h *harness) sideSchemaName(suffix string) string { return h.schema + "_" + suffix }

// createSideSchema creates the schema name (from sideSchemaName), runs ddl
// after it, and drops it when the test ends on a connection of its own, so
// the cleanup works whatever the test did with its connections.
func (h *harness) createSideSchema(t *testing.T, name, ddl string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+name+";\n"+ddl); err != nil {
		t.Fatalf("create schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testDatabaseURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
	})
}

// dropStaleSchemas removes fixture schemas more than an hour old: fuzz
// workers are killed without running cleanups, and their schemas would
// otherwise pile up.
func dropStaleSchemas(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'api\_test\_%'`)
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	cutoff := time.Now().Add(-time.Hour).Unix()
	for _, n := range names {
		parts := strings.SplitN(n, "_", 4) // api, test, unix, rand
		if len(parts) != 4 {
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{n}.Sanitize()+" CASCADE")
			continue
		}
		if ts, err := strconv.ParseInt(parts[2], 10, 64); err == nil && ts < cutoff {
			_, _ = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{n}.Sanitize()+" CASCADE")
		}
	}
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

func (h *harness) do(method, path, client, body string, headers ...string) response {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if client != "" {
		req.Header.Set("X-Athena-Client", client)
	}
	req.Header.Set("Content-Type", "application/json")
	if h.adminKey != "" {
		req.Header.Set("X-Athena-Admin-Key", h.adminKey)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := serve(h.t, h.engine, req)
	r := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	_ = dec.Decode(&r.JSON)
	return r
}

// want fails unless the status matches, printing the body.
func (r response) want(t *testing.T, status int) response {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status: got %d, want %d; body %s", r.Status, status, r.Body)
	}
	return r
}

func (r response) rows(t *testing.T) []map[string]any {
	t.Helper()
	raw, ok := r.JSON["data"].([]any)
	if !ok {
		t.Fatalf("data is not an array: %s", r.Body)
	}
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i], _ = v.(map[string]any)
	}
	return out
}

func (r response) code() string {
	s, _ := r.JSON["code"].(string)
	return s
}

func num(v any) string {
	switch n := v.(type) {
	case json.Number:
		return n.String()
	case string:
		return n
	case nil:
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}
