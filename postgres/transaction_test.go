package postgres

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5/pgxpool"
)

func fetchOp(id string, r gateway.FetchRequest) gateway.TransactionOp {
	return gateway.TransactionOp{ID: id, Kind: gateway.OpFetch, Fetch: &r}
}

func insertOp(id string, r gateway.InsertRequest) gateway.TransactionOp {
	return gateway.TransactionOp{ID: id, Kind: gateway.OpInsert, Insert: &r}
}

func updateOp(id string, r gateway.UpdateRequest) gateway.TransactionOp {
	return gateway.TransactionOp{ID: id, Kind: gateway.OpUpdate, Update: &r}
}

func deleteOp(id string, r gateway.DeleteRequest) gateway.TransactionOp {
	return gateway.TransactionOp{ID: id, Kind: gateway.OpDelete, Delete: &r}
}

func eq(col string, v any) []gateway.Condition {
	return []gateway.Condition{{Column: col, Op: gateway.OpEq, Value: v}}
}

// userCount counts users with email outside any transaction.
func userCount(t *testing.T, e *testEnv, email string) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM users WHERE email = $1", email).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTransactionCommitsMixedOps(t *testing.T) {
	e := fixtureDB(t)
	ctx := ctxT(t)
	req := gateway.TransactionRequest{Ops: []gateway.TransactionOp{
		insertOp("new", gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"email": "dan@x.io", "name": "dan"}}, Returning: cols("email")}),
		updateOp("rename", gateway.UpdateRequest{Table: tbl("users"), Set: map[string]any{"name": "Dan"}, Conditions: eq("email", "dan@x.io"), Returning: cols("name")}),
		fetchOp("read", gateway.FetchRequest{Table: tbl("users"), Selection: cols("email", "name"), Conditions: eq("email", "dan@x.io"), Count: gateway.CountExact}),
		deleteOp("drop", gateway.DeleteRequest{Table: tbl("comments"), Conditions: eq("body", "meh"), Returning: cols("body")}),
		fetchOp("head", gateway.FetchRequest{Table: tbl("posts"), Head: true}),
	}}
	out, err := e.db.Transaction(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		rows  string
		count *int64
	}{
		{`[{"email":"dan@x.io"}]`, i64(1)},
		{`[{"name":"Dan"}]`, i64(1)},
		{`[{"email":"dan@x.io","name":"Dan"}]`, i64(1)}, // the update is visible to the later read
		{`[{"body":"meh"}]`, i64(1)},
		{`[]`, nil},
	}
	if len(out.Results) != len(want) {
		t.Fatalf("got %d results, want %d", len(out.Results), len(want))
	}
	for i, w := range want {
		r := out.Results[i]
		if r.ID != req.Ops[i].ID || compact(r.Rows) != w.rows {
			t.Errorf("result %d: got %s %s, want %s %s", i, r.ID, compact(r.Rows), req.Ops[i].ID, w.rows)
		}
		if (r.Count == nil) != (w.count == nil) || (r.Count != nil && *r.Count != *w.count) {
			t.Errorf("result %d count: got %v, want %v", i, r.Count, w.count)
		}
	}
	if got := out.Written; len(got) != 2 || got[0] != tbl("users") || got[1] != tbl("comments") {
		t.Errorf("written: got %v, want [users comments]", got)
	}
	if n := userCount(t, e, "dan@x.io"); n != 1 {
		t.Errorf("committed user rows: got %d, want 1", n)
	}
}

func TestTransactionRollsBackOnFailure(t *testing.T) {
	e := fixtureDB(t)
	ctx := ctxT(t)
	req := gateway.TransactionRequest{Ops: []gateway.TransactionOp{
		insertOp("a", gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"email": "eve@x.io"}}}),
		fetchOp("b", gateway.FetchRequest{Table: tbl("users")}),
		insertOp("c", gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"email": "alice@x.io"}}}), // duplicate
		deleteOp("d", gateway.DeleteRequest{Table: tbl("comments"), Conditions: eq("body", "nice")}),
	}}
	_, err := e.db.Transaction(ctx, req)
	var oe *gateway.OpError
	if !errors.As(err, &oe) || oe.Index != 2 || oe.ID != "c" {
		t.Fatalf("got %v, want OpError for operation 3 (c)", err)
	}
	ge := wantCode(t, err, gateway.CodeUniqueViolation)
	if ge.Details["constraint"] != "users_email_key" {
		t.Errorf("details: got %v, want constraint users_email_key", ge.Details)
	}
	if n := userCount(t, e, "eve@x.io"); n != 0 {
		t.Errorf("operation 1's insert is visible after the rollback: %d rows", n)
	}
	var comments int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM comments WHERE body = 'nice'").Scan(&comments); err != nil || comments != 1 {
		t.Errorf("comments: got %d (%v), want 1 (operation 4 never ran)", comments, err)
	}
	// The connection went back clean: the next transaction works.
	if _, err := e.db.Transaction(ctx, gateway.TransactionRequest{Ops: req.Ops[:2]}); err != nil {
		t.Fatalf("transaction after a rollback: %v", err)
	}
}

// TestTransactionPrepareErrorNamesOp: a statement PostgreSQL refuses while
// preparing it (before anything ran) is still traced to its operation.
func TestTransactionPrepareErrorNamesOp(t *testing.T) {
	e := fixtureDB(t)
	req := gateway.TransactionRequest{Ops: []gateway.TransactionOp{
		insertOp("a", gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"email": "fay@x.io"}}}),
		fetchOp("b", gateway.FetchRequest{Table: tbl("users"), Conditions: []gateway.Condition{{Column: "age", Op: gateway.OpLike, Value: "3%"}}}),
	}}
	_, err := e.db.Transaction(ctxT(t), req)
	var oe *gateway.OpError
	if !errors.As(err, &oe) || oe.Index != 1 {
		t.Fatalf("got %v, want OpError for operation 2 (b)", err)
	}
	wantCode(t, err, gateway.CodeInvalidValue)
	if n := userCount(t, e, "fay@x.io"); n != 0 {
		t.Errorf("insert visible after failed transaction: %d", n)
	}
}

func TestTransactionUnknownTableNamesOp(t *testing.T) {
	e := fixtureDB(t)
	req := gateway.TransactionRequest{Ops: []gateway.TransactionOp{
		fetchOp("a", gateway.FetchRequest{Table: tbl("users")}),
		fetchOp("b", gateway.FetchRequest{Table: tbl("nope")}),
	}}
	_, err := e.db.Transaction(ctxT(t), req)
	var oe *gateway.OpError
	if !errors.As(err, &oe) || oe.ID != "b" {
		t.Fatalf("got %v, want OpError for b", err)
	}
	wantCode(t, err, gateway.CodeUnknownTable)
}

// TestTransactionModes reads the transaction's own settings through a view
// evaluated inside it.
func TestTransactionModes(t *testing.T) {
	e := fixtureDB(t)
	e.exec(t, `CREATE VIEW txinfo AS SELECT current_setting('transaction_isolation') AS iso, current_setting('transaction_read_only') AS ro`)
	for _, tc := range []struct {
		give gateway.TransactionOptions
		want string
	}{
		{gateway.TransactionOptions{}, `[{"iso":"read committed","ro":"off"}]`},
		{gateway.TransactionOptions{Isolation: gateway.IsolationRepeatableRead}, `[{"iso":"repeatable read","ro":"off"}]`},
		{gateway.TransactionOptions{Isolation: gateway.IsolationSerializable, ReadOnly: true}, `[{"iso":"serializable","ro":"on"}]`},
		{gateway.TransactionOptions{ReadOnly: true}, `[{"iso":"read committed","ro":"on"}]`},
	} {
		out, err := e.db.Transaction(ctxT(t), gateway.TransactionRequest{Options: tc.give,
			Ops: []gateway.TransactionOp{fetchOp("x", gateway.FetchRequest{Table: tbl("txinfo")})}})
		if err != nil {
			t.Fatalf("%+v: %v", tc.give, err)
		}
		if got := compact(out.Results[0].Rows); got != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.give, got, tc.want)
		}
	}
}

func TestTransactionReadOnlyRefusesWrites(t *testing.T) {
	e := fixtureDB(t)
	req := gateway.TransactionRequest{Options: gateway.TransactionOptions{ReadOnly: true}, Ops: []gateway.TransactionOp{
		fetchOp("a", gateway.FetchRequest{Table: tbl("users")}),
		insertOp("b", gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"email": "gus@x.io"}}}),
	}}
	_, err := e.db.Transaction(ctxT(t), req)
	ge := wantCode(t, err, gateway.CodeInvalidQueryPayload)
	if ge.Details["sqlstate"] != "25006" {
		t.Errorf("details: got %v, want sqlstate 25006", ge.Details)
	}
	var oe *gateway.OpError
	if !errors.As(err, &oe) || oe.ID != "b" {
		t.Errorf("got %v, want OpError for b", err)
	}
	if n := userCount(t, e, "gus@x.io"); n != 0 {
		t.Errorf("read-only transaction wrote %d rows", n)
	}
}

// TestTransactionStatementTimeoutOption: with a per-operation timeout (the
// pool not configured for it) the set_config runs inside the transaction.
func TestTransactionStatementTimeoutOption(t *testing.T) {
	e := fixtureDB(t, Options{StatementTimeout: 1000000})
	out, err := e.db.Transaction(ctxT(t), gateway.TransactionRequest{Ops: []gateway.TransactionOp{
		fetchOp("a", gateway.FetchRequest{Table: tbl("users"), Count: gateway.CountExact, Head: true}),
	}})
	if err != nil || out.Results[0].Count == nil || *out.Results[0].Count != 3 {
		t.Fatalf("got %+v, %v; want count 3", out, err)
	}
}

// roundTrips counts client→server flights on a connection: each write that
// follows a read (or opens the connection) starts one round trip.
type roundTrips struct {
	n       atomic.Int64
	reading atomic.Bool
}

type countingConn struct {
	net.Conn
	rt *roundTrips
}

func (c countingConn) Write(b []byte) (int, error) {
	if c.rt.reading.Swap(false) {
		c.rt.n.Add(1)
	}
	return c.Conn.Write(b)
}

func (c countingConn) Read(b []byte) (int, error) {
	c.rt.reading.Store(true)
	return c.Conn.Read(b)
}

// TestTransactionRoundTrips: the whole transaction is one pgx.Batch — two
// round trips the first time its statement shapes are seen on a connection
// (prepare, then execute), one after; a failure adds the ROLLBACK.
func TestTransactionRoundTrips(t *testing.T) {
	base := fixtureDB(t)
	ctx := ctxT(t)
	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	cfg.ConnConfig.RuntimeParams["search_path"] = base.schema
	rt := &roundTrips{}
	dialer := &net.Dialer{}
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dialer.DialContext(ctx, network, addr)
		return countingConn{c, rt}, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	db := New(pool, Options{ExposedSchemas: []string{base.schema}})

	ops := func(email string) gateway.TransactionRequest {
		return gateway.TransactionRequest{Ops: []gateway.TransactionOp{
			fetchOp("a", gateway.FetchRequest{Table: tbl("users"), Count: gateway.CountExact}),
			insertOp("b", gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"email": email}}}),
			updateOp("c", gateway.UpdateRequest{Table: tbl("users"), Set: map[string]any{"name": "x"}, Conditions: eq("email", email)}),
			deleteOp("d", gateway.DeleteRequest{Table: tbl("users"), Conditions: eq("email", email)}),
			fetchOp("e", gateway.FetchRequest{Table: tbl("posts"), Selection: cols("id", "title")}),
		}}
	}
	// Warm up: connect and load table metadata.
	if _, err := db.Transaction(ctx, ops("warm@x.io")); err != nil {
		t.Fatal(err)
	}
	measure := func(req gateway.TransactionRequest) (int64, error) {
		rt.n.Store(0)
		rt.reading.Store(true)
		_, err := db.Transaction(ctx, req)
		return rt.n.Load(), err
	}
	if n, err := measure(ops("one@x.io")); err != nil || n != 1 {
		t.Errorf("prepared shapes: got %d round trips (%v), want 1", n, err)
	}
	fresh := ops("two@x.io")
	fresh.Options.Isolation = gateway.IsolationRepeatableRead // a new BEGIN text to prepare
	fresh.Ops[4].Fetch.Selection = cols("id")                 // and a new fetch shape
	if n, err := measure(fresh); err != nil || n > 2 {
		t.Errorf("new shapes: got %d round trips (%v), want at most 2", n, err)
	}
	bad := ops("alice@x.io") // the insert is a duplicate
	if n, err := measure(bad); err == nil || n != 2 {
		t.Errorf("failing transaction: got %d round trips (%v), want 2 (batch + ROLLBACK) and an error", n, err)
	}
	// pgx forgets a failed batch's prepared statements (it cannot tell a
	// schema change from a data error), so the next run deallocates and
	// prepares again once, then is back to one round trip.
	if n, err := measure(ops("three@x.io")); err != nil || n > 3 {
		t.Errorf("after a rollback: got %d round trips (%v), want at most 3", n, err)
	}
	if n, err := measure(ops("four@x.io")); err != nil || n != 1 {
		t.Errorf("steady state: got %d round trips (%v), want 1", n, err)
	}
}

func TestTransactionResultsStore(t *testing.T) {
	e := testDB(t)
	ctx := ctxT(t)
	if _, _, err := Migrate(ctx, e.pool); err != nil {
		t.Fatal(err)
	}
	s := NewTransactionResults(e.pool, 0)
	replay, claimed, err := s.Reserve(ctx, "client|key1", "k", "h1")
	if err != nil || !claimed || replay != nil {
		t.Fatalf("first reserve: got %s %v %v, want claimed", replay, claimed, err)
	}
	if _, _, err := s.Reserve(ctx, "client|key1", "k", "h1"); MapError(err).Code != gateway.CodeIdempotencyConflict {
		t.Fatalf("reserve while running: got %v, want idempotency_conflict", err)
	}
	body := []byte(`{"status":"success","data":{"b":1,"a":[2]}}`)
	if err := s.Complete(ctx, "client|key1", "k", body); err != nil {
		t.Fatal(err)
	}
	replay, claimed, err = s.Reserve(ctx, "client|key1", "k", "h1")
	if err != nil || claimed || string(replay) != string(body) {
		t.Fatalf("replay: got %s %v %v, want the stored body verbatim", replay, claimed, err)
	}
	if _, _, err := s.Reserve(ctx, "client|key1", "k", "other"); MapError(err).Code != gateway.CodeIdempotencyConflict {
		t.Fatalf("reuse with another request: got %v, want idempotency_conflict", err)
	}
	if _, claimed, err := s.Reserve(ctx, "client|key2", "k", "h1"); err != nil || !claimed {
		t.Fatalf("same key in another scope: got %v %v, want claimed", claimed, err)
	}
	// A released claim (the transaction failed) may run again.
	if err := s.Release(ctx, "client|key2", "k"); err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := s.Reserve(ctx, "client|key2", "k", "h1"); err != nil || !claimed {
		t.Fatalf("after release: got %v %v, want claimed", claimed, err)
	}
	// A stale reservation (its process died) is taken over.
	e.exec(t, `UPDATE gateway_transactions SET created_at = now() - interval '1 hour' WHERE scope = 'client|key2'`)
	if _, claimed, err := s.Reserve(ctx, "client|key2", "k", "h1"); err != nil || !claimed {
		t.Fatalf("stale reservation: got %v %v, want claimed", claimed, err)
	}
}
