package postgres

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// logStore is a LogStore over a freshly migrated private schema.
func logStore(t *testing.T) (*LogStore, *testEnv) {
	t.Helper()
	env := testDB(t)
	if _, _, err := Migrate(ctxT(t), env.pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return NewLogStore(env.pool), env
}

func TestLogStoreCopyRequests(t *testing.T) {
	s, env := logStore(t)
	ctx := ctxT(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	n, err := s.CopyRequests(ctx, []RequestLog{
		{RequestID: "r1", Time: at, Client: "shop", Method: "POST", Path: "/gateway/fetch", Status: 200,
			Duration: 1500 * time.Microsecond, IPv4: "10.0.0.1", UserAgent: "sdk/1", UserID: "u", CompanyID: "c",
			OrganizationID: "o", APIKeyID: "k", Cached: true},
		// Raw bytes from the network: invalid UTF-8 and a NUL must not fail the batch.
		{RequestID: "r2", Method: "GET", Path: "/x\xff\x00y", Status: 404, Error: "not_found", Message: "no route"},
	})
	if err != nil || n != 2 {
		t.Fatalf("copy: got %d, %v, want 2 rows", n, err)
	}
	var (
		client, ua, userID, keyID *string
		created                   time.Time
		ms                        float64
		cached                    bool
	)
	err = env.pool.QueryRow(ctx, `SELECT client, user_agent, user_id, api_key_id, created_at, duration_ms, cached
		FROM gateway_request_log WHERE request_id = 'r1'`).Scan(&client, &ua, &userID, &keyID, &created, &ms, &cached)
	if err != nil {
		t.Fatal(err)
	}
	if *client != "shop" || *ua != "sdk/1" || *userID != "u" || *keyID != "k" || !created.Equal(at) || ms != 1.5 || !cached {
		t.Fatalf("r1: got client=%s ua=%s user=%s key=%s at=%v ms=%v cached=%v", *client, *ua, *userID, *keyID, created, ms, cached)
	}
	var path string
	var errText *string
	err = env.pool.QueryRow(ctx, `SELECT path, error, client FROM gateway_request_log WHERE request_id = 'r2'`).Scan(&path, &errText, &client)
	if err != nil {
		t.Fatal(err)
	}
	if path != "/x\uFFFDy" || errText == nil || *errText != "not_found" || client != nil {
		t.Fatalf("r2: got path=%q error=%v client=%v, want sanitized path, error not_found, NULL client", path, errText, client)
	}
}

func TestLogStoreCopyOperations(t *testing.T) {
	s, env := logStore(t)
	ctx := ctxT(t)
	n, err := s.CopyOperations(ctx, []OperationLog{
		{RequestID: "r1", Client: "shop", Operation: "fetch", Table: "orders", Status: 200, Duration: time.Millisecond, Rows: 3, CacheKey: "k1"},
		{RequestID: "r2", Client: "shop", Operation: "insert", Status: 500, Rows: -1, Error: "internal_error"},
	})
	if err != nil || n != 2 {
		t.Fatalf("copy: got %d, %v, want 2 rows", n, err)
	}
	var table *string
	var rows *int64
	if err := env.pool.QueryRow(ctx, `SELECT table_name, rows FROM gateway_operation_log WHERE request_id = 'r1'`).Scan(&table, &rows); err != nil {
		t.Fatal(err)
	}
	if table == nil || *table != "orders" || rows == nil || *rows != 3 {
		t.Fatalf("r1: got table=%v rows=%v, want orders, 3", table, rows)
	}
	if err := env.pool.QueryRow(ctx, `SELECT table_name, rows FROM gateway_operation_log WHERE request_id = 'r2'`).Scan(&table, &rows); err != nil {
		t.Fatal(err)
	}
	if table != nil || rows != nil {
		t.Fatalf("r2: got table=%v rows=%v, want NULL, NULL", table, rows)
	}
}

func TestLogStorePruneDeletesOnlyOldRows(t *testing.T) {
	s, env := logStore(t)
	ctx := ctxT(t)
	now := time.Now()
	old := now.Add(-30 * 24 * time.Hour)
	var reqs []RequestLog
	var ops []OperationLog
	for i := 0; i < 5; i++ {
		reqs = append(reqs, RequestLog{RequestID: "old", Time: old, Method: "GET", Path: "/", Status: 200})
		ops = append(ops, OperationLog{RequestID: "old", Time: old, Client: "c", Operation: "fetch", Status: 200})
	}
	reqs = append(reqs, RequestLog{RequestID: "new", Time: now, Method: "GET", Path: "/", Status: 200})
	ops = append(ops, OperationLog{RequestID: "new", Time: now, Client: "c", Operation: "fetch", Status: 200})
	if _, err := s.CopyRequests(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CopyOperations(ctx, ops); err != nil {
		t.Fatal(err)
	}
	cutoff := now.Add(-14 * 24 * time.Hour)
	// Batches of 2: 2, 2, 1, then nothing.
	for _, want := range []int64{2, 2, 1, 0} {
		r, o, err := s.PruneLogs(ctx, cutoff, 2)
		if err != nil {
			t.Fatal(err)
		}
		if r != want || o != want {
			t.Fatalf("prune batch: got %d request / %d operation rows, want %d each", r, o, want)
		}
	}
	for _, table := range []string{"gateway_request_log", "gateway_operation_log"} {
		var ids []string
		rows, err := env.pool.Query(ctx, "SELECT request_id FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
		if len(ids) != 1 || ids[0] != "new" {
			t.Fatalf("%s after prune: got %v, want [new]", table, ids)
		}
	}
}

// TestLogPoolConfig: the logging pool is the control plane's database and
// schema with its own size, and commits without waiting for the WAL flush.
func TestLogPoolConfig(t *testing.T) {
	_, env := logStore(t)
	pc := LogPoolConfig(env.pool.Config(), 3, "athena-logs-test")
	pool, err := pgxpool.NewWithConfig(ctxT(t), pc)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var sync, app, path string
	if err := pool.QueryRow(ctxT(t), `SELECT current_setting('synchronous_commit'), current_setting('application_name'), current_setting('search_path')`).Scan(&sync, &app, &path); err != nil {
		t.Fatal(err)
	}
	if sync != "off" || app != "athena-logs-test" || path != env.schema || pool.Config().MaxConns != 3 || pool.Config().MinConns != 0 {
		t.Errorf("logging pool: synchronous_commit %q, application_name %q, search_path %q (want %q), max %d, min %d",
			sync, app, path, env.schema, pool.Config().MaxConns, pool.Config().MinConns)
	}
	if env.pool.Config().ConnConfig.RuntimeParams["synchronous_commit"] == "off" {
		t.Error("LogPoolConfig changed the control plane's own configuration")
	}
}
