package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5/pgxpool"
)

func TestQuery(t *testing.T) {
	e := fixtureDB(t)
	ctx := ctxT(t)

	t.Run("params", func(t *testing.T) {
		res, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT id, name FROM users WHERE id = ANY($1) AND email LIKE $2 ORDER BY id",
			Params: []any{[]any{num("1"), num("2")}, "%@x.io"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 2 || res.Rows[1]["name"] != "bob" || res.StatementCount != 1 || res.Writes {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("param injection stays data", func(t *testing.T) {
		res, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT count(*) AS n FROM users WHERE name = $1",
			Params: []any{"x' OR '1'='1"}})
		if err != nil || fmt.Sprint(res.Rows[0]["n"]) != "0" {
			t.Fatalf("got %v %v", res.Rows, err)
		}
	})
	t.Run("multi statement", func(t *testing.T) {
		res, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "UPDATE users SET age = age + 1 WHERE age IS NOT NULL; SELECT name, age FROM users WHERE id = 1; SELECT 1 WHERE false"})
		if err != nil {
			t.Fatal(err)
		}
		if res.StatementCount != 3 || !res.Writes || res.RowsAffected != 3 || len(res.Rows) != 0 {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("last statement with rows", func(t *testing.T) {
		res, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT 1 AS a; SELECT 2 AS b; SET LOCAL work_mem = '8MB'"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 1 || fmt.Sprint(res.Rows[0]["b"]) != "2" || res.Writes {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("atomic", func(t *testing.T) {
		_, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "INSERT INTO users (email) VALUES ('atomic@x.io'); INSERT INTO users (email) VALUES (NULL)"})
		wantCode(t, err, gateway.CodeConstraintViolation)
		res, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT count(*) AS n FROM users WHERE email = 'atomic@x.io'"})
		if err != nil || fmt.Sprint(res.Rows[0]["n"]) != "0" {
			t.Fatalf("first statement was not rolled back: %v %v", res.Rows, err)
		}
	})
	t.Run("search_path", func(t *testing.T) {
		e.exec(t, "CREATE SCHEMA "+e.schema+"_other; CREATE TABLE "+e.schema+"_other.things (v text); INSERT INTO "+e.schema+"_other.things VALUES ('there')")
		t.Cleanup(func() { e.exec(t, "DROP SCHEMA "+e.schema+"_other CASCADE") })
		for _, params := range [][]any{nil, {"there"}} {
			sql := "SELECT v FROM things"
			if params != nil {
				sql += " WHERE v = $1"
			}
			res, err := e.db.Query(ctx, gateway.QueryRequest{SQL: sql, Params: params, Schema: e.schema + "_other"})
			if err != nil || len(res.Rows) != 1 || res.Rows[0]["v"] != "there" {
				t.Fatalf("params %v: got %v %v", params, res.Rows, err)
			}
		}
		// The setting does not outlive the call.
		_, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT v FROM things"})
		wantCode(t, err, gateway.CodeUnknownTable)
	})
	t.Run("writes detection", func(t *testing.T) {
		tests := []struct {
			give string
			want bool
		}{
			{"SELECT 1", false},
			{"CREATE TABLE wd (a int)", true},
			{"INSERT INTO wd VALUES (1)", true},
			{"UPDATE wd SET a = 2", true},
			{"DELETE FROM wd", true},
			{"TRUNCATE wd", true},
			{"ALTER TABLE wd ADD COLUMN b int", true},
			{"MERGE INTO wd USING (SELECT 1 AS a) s ON wd.a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.a)", true},
			{"DROP TABLE wd", true},
			{"WITH x AS (SELECT 1) SELECT * FROM x", false},
		}
		for _, tt := range tests {
			res, err := e.db.Query(ctx, gateway.QueryRequest{SQL: tt.give})
			if err != nil || res.Writes != tt.want {
				t.Fatalf("%q: got writes=%v err=%v, want %v", tt.give, res.Writes, err, tt.want)
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		for _, sql := range []string{"", "   \n\t", ";", "-- only a comment"} {
			_, err := e.db.Query(ctx, gateway.QueryRequest{SQL: sql})
			wantCode(t, err, gateway.CodeEmptyQuery)
		}
	})
	t.Run("open transaction is rolled back", func(t *testing.T) {
		_, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "BEGIN; INSERT INTO users (email) VALUES ('open@x.io')"})
		wantCode(t, err, gateway.CodeInvalidQueryPayload)
		res, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT count(*) AS n FROM users WHERE email = 'open@x.io'"})
		if err != nil || fmt.Sprint(res.Rows[0]["n"]) != "0" {
			t.Fatalf("got %v %v", res.Rows, err)
		}
	})
	t.Run("syntax error", func(t *testing.T) {
		_, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELEC 1"})
		ge := wantCode(t, err, gateway.CodeInvalidQueryPayload)
		if ge.Details["sqlstate"] != "42601" {
			t.Fatalf("got %v", ge.Details)
		}
	})
}

// TestQueryValueForms checks the JSON-friendly forms of result values on
// both protocols (text results via simple, binary via extended).
func TestQueryValueForms(t *testing.T) {
	e := testDB(t)
	sql := `SELECT 1::int2 AS i2, 2::int4 AS i4, 9007199254740993::int8 AS i8, 1.5::float8 AS f8, 'NaN'::float8 AS nan,
  12345678901234567890.5::numeric AS num, true AS b, 'txt'::text AS t,
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u, '2024-06-01'::date AS d,
  '2024-06-01 12:30:00.5+02'::timestamptz AS tz, '2024-06-01 12:30:00'::timestamp AS ts,
  '\xdeadbeef'::bytea AS by, '{"k": 12345678901234567890}'::jsonb AS jb, '[1, "x"]'::json AS js,
  '10.0.0.1'::inet AS ip, '10.0.0.0/8'::cidr AS net, '1 day 02:00:00'::interval AS iv, '13:45:00'::time AS tm,
  ARRAY[1,2]::int[] AS arr, ARRAY['a', NULL]::text[] AS tarr, ARRAY['5f0c8d5c-0ab9-4d3a-9a0b-4f2e7b0d6c01']::uuid[] AS uarr,
  NULL::text AS nul, 'infinity'::timestamptz AS inf`
	want := map[string]string{
		"i2": "1", "i4": "2", "i8": "9007199254740993", "f8": "1.5", "nan": `"NaN"`,
		"num": "12345678901234567890.5", "b": "true", "t": `"txt"`,
		"u": `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`, "d": `"2024-06-01"`,
		"tz": `"2024-06-01T10:30:00.5Z"`, "ts": `"2024-06-01T12:30:00"`,
		"by": `"\\xdeadbeef"`, "jb": `{"k":12345678901234567890}`, "js": `[1,"x"]`,
		"ip": `"10.0.0.1"`, "net": `"10.0.0.0/8"`, "tm": `"13:45:00.000000"`,
		"arr": "[1,2]", "tarr": `["a",null]`, "uarr": `["5f0c8d5c-0ab9-4d3a-9a0b-4f2e7b0d6c01"]`,
		"nul": "null", "inf": `"infinity"`,
	}
	for _, params := range [][]any{nil, {num("1")}} {
		q := sql
		if params != nil {
			q += " WHERE $1::int = 1"
		}
		res, err := e.db.Query(ctxT(t), gateway.QueryRequest{SQL: q, Params: params})
		if err != nil {
			t.Fatal(err)
		}
		row := res.Rows[0]
		for k, w := range want {
			got, err := json.Marshal(row[k])
			if err != nil {
				t.Fatalf("params=%v %s: marshal %v: %v", params, k, row[k], err)
			}
			if string(got) != w {
				t.Errorf("params=%v %s: got %s, want %s", params, k, got, w)
			}
		}
		if iv, _ := row["iv"].(string); !strings.Contains(iv, "day") {
			t.Errorf("params=%v iv: got %v", params, row["iv"])
		}
	}
}

func TestRPC(t *testing.T) {
	e := fixtureDB(t)
	e.exec(t, `
CREATE FUNCTION users_older_than(min_age int, label text DEFAULT 'x')
  RETURNS TABLE (id int, name text, tag text) LANGUAGE sql STABLE
  AS $$ SELECT u.id, u.name, label FROM users u WHERE u.age > min_age $$;
CREATE FUNCTION add_one(n int) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT n + 1 $$;
CREATE FUNCTION echo_json(doc jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT doc $$;`)
	ctx := ctxT(t)
	tests := []struct {
		name      string
		give      gateway.RPCRequest
		want      string
		wantCount *int64
	}{
		{"table function", gateway.RPCRequest{Function: "users_older_than", Args: map[string]any{"min_age": num("0"), "label": "L"},
			Sort: []gateway.Sort{{Column: "id"}}}, `[{"id":1,"name":"alice","tag":"L"},{"id":2,"name":"bob","tag":"L"}]`, nil},
		{"select filter count", gateway.RPCRequest{Function: "users_older_than", Args: map[string]any{"min_age": "0"},
			Selection: cols("name"), Filters: []gateway.Condition{leaf("name", gateway.OpNeq, "bob")}, Count: gateway.CountExact},
			`[{"name":"alice"}]`, i64(1)},
		{"limit offset count", gateway.RPCRequest{Function: "users_older_than", Args: map[string]any{"min_age": num("0")},
			Selection: cols("id"), Sort: []gateway.Sort{{Column: "id", Descending: true}}, Limit: i64(1), Count: gateway.CountPlanned},
			`[{"id":2}]`, i64(2)},
		{"scalar", gateway.RPCRequest{Schema: e.schema, Function: "add_one", Args: map[string]any{"n": num("41")}}, `[{"add_one":42}]`, nil},
		{"json arg", gateway.RPCRequest{Function: "echo_json", Args: map[string]any{"doc": map[string]any{"a": []any{num("1")}}}}, `[{"echo_json":{"a":[1]}}]`, nil},
		{"injection arg", gateway.RPCRequest{Function: "users_older_than", Args: map[string]any{"min_age": num("0"), "label": "'); DROP TABLE users; --"},
			Selection: cols("tag"), Limit: i64(1)}, `[{"tag":"'); DROP TABLE users; --"}]`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := e.db.RPC(ctx, tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if compact(res.Rows) != tt.want {
				t.Fatalf("got %s, want %s", res.Rows, tt.want)
			}
			if (tt.wantCount == nil) != (res.Count == nil) || (tt.wantCount != nil && *tt.wantCount != *res.Count) {
				t.Fatalf("got count %v, want %v", res.Count, tt.wantCount)
			}
		})
	}
	_, err := e.db.RPC(ctx, gateway.RPCRequest{Function: "no_such_fn", Args: map[string]any{"a": "1"}})
	ge := wantCode(t, err, gateway.CodeUnknownFunction)
	if !strings.Contains(ge.Detail, "no_such_fn") || ge.Code.Status() != 404 {
		t.Fatalf("got %q", ge.Detail)
	}
	_, err = e.db.RPC(ctx, gateway.RPCRequest{Function: "add_one", Args: map[string]any{"n": num("1")}, Filters: []gateway.Condition{leaf("ghost", gateway.OpEq, "1")}})
	wantCode(t, err, gateway.CodeUnknownColumn)
	_, err = e.db.RPC(ctx, gateway.RPCRequest{Function: "add_one); DROP TABLE users; --"})
	wantCode(t, err, gateway.CodeInvalidRPCPayload)
}

func TestIntrospection(t *testing.T) {
	e := fixtureDB(t)
	e.exec(t, "CREATE VIEW adults AS SELECT * FROM users WHERE age >= 18; CREATE MATERIALIZED VIEW mv AS SELECT 1 AS x")
	ctx := ctxT(t)
	tables, err := e.db.Tables(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ti := range tables {
		if ti.Schema == e.schema {
			got[ti.Name] = ti.Type
		}
	}
	want := map[string]string{"users": "table", "posts": "table", "comments": "table", "adults": "view", "mv": "materialized view"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}

	columns, err := e.db.Columns(ctx, e.schema, "users")
	if err != nil {
		t.Fatal(err)
	}
	if len(columns) != 11 || columns[0].ColumnName != "id" || columns[0].IsNullable != "NO" || columns[0].ColumnDefault == nil ||
		columns[0].OrdinalPosition != 1 || columns[9].DataType != "text[]" || columns[4].DataType != "numeric(10,2)" {
		t.Fatalf("got %+v", columns)
	}
	all, err := e.db.Columns(ctx, e.schema, "")
	if err != nil || len(all) <= len(columns) {
		t.Fatalf("all columns: %d %v", len(all), err)
	}

	cons, err := e.db.Constraints(ctx, e.schema, "posts")
	if err != nil {
		t.Fatal(err)
	}
	var fk *ConstraintInfo
	for i := range cons {
		if cons[i].ConstraintName == "posts_author_id_fkey" {
			fk = &cons[i]
		}
	}
	if fk == nil || fk.ConstraintType != "FOREIGN KEY" || *fk.ForeignTableName != "users" ||
		fmt.Sprint(fk.Columns, fk.ForeignColumns) != "[author_id] [id]" || !strings.HasPrefix(fk.Definition, "FOREIGN KEY") {
		t.Fatalf("got %+v", cons)
	}
	out, _ := json.Marshal(cons[0])
	if !strings.Contains(string(out), `"constraint_name"`) {
		t.Fatalf("json: %s", out)
	}
}

func TestMapErrorFromServer(t *testing.T) {
	e := fixtureDB(t)
	ctx := ctxT(t)
	_, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"email": "alice@x.io"}}})
	ge := wantCode(t, err, gateway.CodeUniqueViolation)
	if ge.Detail != `duplicate key value violates unique constraint "users_email_key"` || ge.Code.Status() != 409 ||
		ge.Details["sqlstate"] != "23505" || ge.Details["constraint"] != "users_email_key" || ge.Details["table"] != "users" ||
		ge.Details["detail"] != "Key (email)=(alice@x.io) already exists." {
		t.Fatalf("got %+v", ge)
	}
	_, err = e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("posts"), Rows: []map[string]any{{"title": "x", "author_id": num("999")}}})
	ge = wantCode(t, err, gateway.CodeForeignKeyViolation)
	if !strings.Contains(ge.Detail, `violates foreign key constraint "posts_author_id_fkey"`) {
		t.Fatalf("got %q", ge.Detail)
	}
	_, err = e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("posts"), Rows: []map[string]any{{"body": "no title"}}})
	ge = wantCode(t, err, gateway.CodeConstraintViolation)
	if ge.Details["column"] != "title" || ge.Details["sqlstate"] != "23502" {
		t.Fatalf("got %+v", ge)
	}
	_, err = e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"email": "neg@x.io", "age": num("-5")}}})
	ge = wantCode(t, err, gateway.CodeConstraintViolation)
	if ge.Details["constraint"] != "users_age_check" {
		t.Fatalf("got %+v", ge)
	}
	_, err = e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT * FROM orders2"})
	ge = wantCode(t, err, gateway.CodeUnknownTable)
	if ge.Detail != `relation "orders2" does not exist` {
		t.Fatalf("got %q", ge.Detail)
	}
	_, err = e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT ghost FROM users"})
	ge = wantCode(t, err, gateway.CodeUnknownColumn)
	if ge.Detail != `column "ghost" does not exist` {
		t.Fatalf("got %q", ge.Detail)
	}
	_, err = e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT 'abc'::int"})
	wantCode(t, err, gateway.CodeInvalidValue)
}

func TestStatementTimeout(t *testing.T) {
	e := fixtureDB(t, Options{StatementTimeout: 50 * time.Millisecond})
	e.exec(t, "CREATE FUNCTION slow() RETURNS int LANGUAGE sql AS $$ SELECT pg_sleep(1)::text::int + 1 $$")
	ctx := ctxT(t)
	checks := map[string]func() error{
		"query simple": func() error {
			_, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT pg_sleep(1)"})
			return err
		},
		"query params": func() error {
			_, err := e.db.Query(ctx, gateway.QueryRequest{SQL: "SELECT pg_sleep($1)", Params: []any{num("1")}})
			return err
		},
		"rpc": func() error {
			_, err := e.db.RPC(ctx, gateway.RPCRequest{Function: "slow"})
			return err
		},
	}
	for name, run := range checks {
		t.Run(name, func(t *testing.T) {
			// statement_timeout is the only way the 1s sleep ends in an
			// error; no wall-clock bound (CI is noisy).
			ge := wantCode(t, run(), gateway.CodeStatementTimeout)
			if ge.Code.Status() != 504 {
				t.Fatalf("status %d", ge.Code.Status())
			}
		})
	}
	// Ordinary work still runs, and the setting did not leak into the pool.
	if _, err := e.db.Fetch(ctx, gateway.FetchRequest{Table: tbl("users")}); err != nil {
		t.Fatal(err)
	}
	var setting string
	if err := e.pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&setting); err != nil || setting != "0" {
		t.Fatalf("pool setting %q %v", setting, err)
	}
}

func TestStatementTimeoutViaPoolConfig(t *testing.T) {
	opts := Options{StatementTimeout: 50 * time.Millisecond}
	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatal(err)
	}
	ConfigurePool(cfg, opts)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := New(pool, opts)
	if db.timeout != "" {
		t.Fatalf("per-operation timeout %q set although the pool carries it", db.timeout)
	}
	_, err = db.Query(ctxT(t), gateway.QueryRequest{SQL: "SELECT pg_sleep(1)"})
	wantCode(t, err, gateway.CodeStatementTimeout)
}

func TestBackendDown(t *testing.T) {
	pool, err := pgxpool.New(context.Background(), "postgres://postgres:secret-pw@127.0.0.1:1/test?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := New(pool, Options{})
	// No caller deadline: only the connect timeout can end a hang here.
	_, err = db.Fetch(context.Background(), gateway.FetchRequest{Table: tbl("users")})
	ge := wantCode(t, err, gateway.CodeBackendUnavailable)
	if ge.RetryAfter == 0 || ge.Code.Status() != 503 {
		t.Fatalf("got %+v", ge)
	}
	if strings.Contains(ge.Error(), "secret-pw") || strings.Contains(ge.Error(), "127.0.0.1") {
		t.Fatalf("connection details leaked: %q", ge.Error())
	}
	_, err = db.Query(ctxT(t), gateway.QueryRequest{SQL: "SELECT 1"})
	wantCode(t, err, gateway.CodeBackendUnavailable)
}

func TestPoolExhausted(t *testing.T) {
	e := fixtureDB(t)
	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	cfg.ConnConfig.RuntimeParams["search_path"] = e.schema
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := New(pool, Options{AcquireTimeout: 100 * time.Millisecond, ExposedSchemas: []string{e.schema}})
	held, err := pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// No deadline on the caller's context: only AcquireTimeout can end
	// this wait (without it the test would hang), and pool_exhausted is
	// the answer only when it did. No wall-clock bound: CI is noisy.
	_, err = db.Fetch(context.Background(), gateway.FetchRequest{Table: tbl("users")})
	held.Release()
	ge := wantCode(t, err, gateway.CodePoolExhausted)
	if ge.RetryAfter != 1 || ge.Code.Status() != 503 {
		t.Fatalf("got %+v", ge)
	}
	if _, err := db.Fetch(ctxT(t), gateway.FetchRequest{Table: tbl("users")}); err != nil {
		t.Fatalf("after release: %v", err)
	}
	// A caller that gives up is not told the pool is exhausted.
	held, _ = pool.Acquire(context.Background())
	defer held.Release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = db.Fetch(ctx, gateway.FetchRequest{Table: tbl("users")})
	if MapError(err).Code != gateway.CodeInternal {
		t.Fatalf("canceled: got %v", err)
	}
}
