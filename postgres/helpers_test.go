package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/internal/testenv"
	"github.com/athena-gateway/athena/postgres/postgrestest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// testURL is the database tests run against (the one definition, in
// postgrestest).
var testURL = postgrestest.URL

// testEnv is one test's private schema and a DB whose connections default
// to it.
type testEnv struct {
	db     *DB
	pool   *pgxpool.Pool
	schema string
}

// testDB creates a uniquely named schema, a pool whose search_path is that
// schema, and drops both when the test ends.
func testDB(t testing.TB, opts ...Options) *testEnv {
	t.Helper()
	ctx := context.Background()
	var sfx [6]byte
	_, _ = rand.Read(sfx[:])
	schema := "athena_test_" + hex.EncodeToString(sfx[:])

	admin, err := pgx.Connect(ctx, testURL())
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL", err)
	}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	_ = admin.Close(ctx)

	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.ExposedSchemas == nil {
		// The private schema stands in for public.
		o.ExposedSchemas = []string{schema}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		c, err := pgx.Connect(context.Background(), testURL())
		if err != nil {
			t.Errorf("cleanup connect: %v", err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema: %v", err)
		}
	})
	return &testEnv{db: New(pool, o), pool: pool, schema: schema}
}

func (e *testEnv) exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := e.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

const fixtureSQL = `
CREATE TABLE users (
  id serial PRIMARY KEY,
  email text UNIQUE NOT NULL,
  name text,
  age int CHECK (age >= 0),
  score numeric(10,2),
  active boolean DEFAULT true,
  uid uuid DEFAULT gen_random_uuid(),
  created_at timestamptz DEFAULT now(),
  born date,
  tags text[],
  meta jsonb
);
CREATE TABLE posts (
  id serial PRIMARY KEY,
  author_id int REFERENCES users(id),
  editor_id int REFERENCES users(id),
  title text NOT NULL,
  body text
);
CREATE TABLE comments (
  id serial PRIMARY KEY,
  post_id int NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  user_id int REFERENCES users(id),
  body text
);
INSERT INTO users (email, name, age, score, active, uid, created_at, born, tags, meta) VALUES
  ('alice@x.io', 'alice', 30, 10.50, true,  '11111111-1111-1111-1111-111111111111', '2024-01-01T10:00:00Z', '1990-01-02', '{a,b}', '{"k":1,"nested":{"x":true}}'),
  ('bob@x.io',   'bob',   25, 7.25,  false, '22222222-2222-2222-2222-222222222222', '2024-02-01T10:00:00Z', '1995-05-05', '{b}',   '{"k":2}'),
  ('carol@y.io', NULL,    NULL, NULL, NULL, '33333333-3333-3333-3333-333333333333', '2024-03-01T10:00:00Z', NULL, NULL, NULL);
INSERT INTO posts (author_id, editor_id, title, body) VALUES
  (1, 2, 'Hello', 'first'),
  (1, NULL, 'World', NULL),
  (2, NULL, 'Bob post', 'x');
INSERT INTO comments (post_id, user_id, body) VALUES
  (1, 2, 'nice'), (1, 3, 'meh'), (3, 1, 'hi bob');
`

// fixtureDB is testDB with the users/posts/comments fixture loaded.
func fixtureDB(t testing.TB, opts ...Options) *testEnv {
	t.Helper()
	e := testDB(t, opts...)
	e.exec(t, fixtureSQL)
	return e
}

func tbl(name string) gateway.TableRef { return gateway.TableRef{Name: name} }

func cols(names ...string) gateway.Selection {
	s := gateway.Selection{}
	for _, n := range names {
		s.Items = append(s.Items, gateway.SelectItem{Column: n})
	}
	return s
}

func num(s string) json.Number { return json.Number(s) }

func i64(n int64) *int64 { return &n }

// decodeRows unmarshals a JSON array of rows.
func decodeRows(t testing.TB, raw json.RawMessage) []map[string]any {
	t.Helper()
	var rows []map[string]any
	dec := json.NewDecoder(bytesReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&rows); err != nil {
		t.Fatalf("decode rows %s: %v", raw, err)
	}
	return rows
}

// ids extracts the "id" of each row as int64.
func ids(t testing.TB, raw json.RawMessage) []int64 {
	t.Helper()
	out := []int64{}
	for _, r := range decodeRows(t, raw) {
		n, err := r["id"].(json.Number).Int64()
		if err != nil {
			t.Fatalf("id in %v: %v", r, err)
		}
		out = append(out, n)
	}
	return out
}

// wantCode asserts err maps to code and returns the mapped error.
func wantCode(t testing.TB, err error, code gateway.Code) *gateway.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	ge := MapError(err)
	if ge.Code != code {
		t.Fatalf("got code %s (%v), want %s", ge.Code, err, code)
	}
	return ge
}

func ctxT(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

// compact removes insignificant whitespace (json_agg separates elements
// with a newline) so results compare as text.
func compact(raw []byte) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
