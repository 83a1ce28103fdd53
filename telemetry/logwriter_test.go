package telemetry

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/postgres/postgrestest"
)

// logPool is a pool on a private, migrated schema of the test database,
// dropped when the test ends.
func logPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, postgrestest.SchemaURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // before the schema is dropped
	if _, _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// spyStore is the real store, announcing each finished call so a test
// waits for the event instead of sleeping.
type spyStore struct {
	*postgres.LogStore
	copied chan int64
	pruned chan int64
}

func newSpy(pool *pgxpool.Pool) *spyStore {
	return &spyStore{LogStore: postgres.NewLogStore(pool), copied: make(chan int64, 100), pruned: make(chan int64, 100)}
}

func (s *spyStore) CopyRequests(ctx context.Context, rows []RequestEntry) (int64, error) {
	n, err := s.LogStore.CopyRequests(ctx, rows)
	s.copied <- n
	return n, err
}

func (s *spyStore) PruneLogs(ctx context.Context, before time.Time, limit int) (int64, int64, error) {
	r, o, err := s.LogStore.PruneLogs(ctx, before, limit)
	s.pruned <- r + o
	return r, o, err
}

func receive(t *testing.T, ch <-chan int64, what string) int64 {
	t.Helper()
	select {
	case n := <-ch:
		return n
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not happen", what)
		return 0
	}
}

func TestLogWriterFlushesFullBatch(t *testing.T) {
	pool := logPool(t)
	spy := newSpy(pool)
	// An interval far away: only the batch size can trigger the write.
	w := NewLogWriter(spy, LogOptions{BatchSize: 3, FlushInterval: time.Hour, Retention: -1}, nil, nil)
	w.Start()
	defer w.Close(context.Background())
	for i := 0; i < 3; i++ {
		w.Request(RequestEntry{RequestID: "batch", Method: "POST", Path: "/gateway/fetch", Status: 200, Client: "shop"})
	}
	if n := receive(t, spy.copied, "a COPY of the full batch"); n != 3 {
		t.Fatalf("copied: got %d rows, want 3", n)
	}
	if got := count(t, pool, "SELECT count(*) FROM gateway_request_log WHERE request_id = 'batch'"); got != 3 {
		t.Fatalf("rows: got %d, want 3", got)
	}
}

func TestLogWriterCloseFlushesQueued(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	pool := logPool(t)
	m := NewMetrics()
	w := NewLogWriter(postgres.NewLogStore(pool), LogOptions{BatchSize: 4, FlushInterval: time.Hour, Retention: -1}, m, nil)
	w.Start()
	for i := 0; i < 10; i++ {
		w.Request(RequestEntry{RequestID: "queued", Method: "GET", Path: "/ping", Status: 200})
		w.Operation(OperationEntry{RequestID: "queued", Client: "shop", Operation: "fetch", Status: 200, Rows: -1})
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if got := count(t, pool, "SELECT count(*) FROM gateway_request_log WHERE request_id = 'queued'"); got != 10 {
		t.Fatalf("request rows: got %d, want 10", got)
	}
	if got := count(t, pool, "SELECT count(*) FROM gateway_operation_log WHERE request_id = 'queued'"); got != 10 {
		t.Fatalf("operation rows: got %d, want 10", got)
	}
	if got := metricValue(t, m, "athena_log_written_total", "request"); got != 10 {
		t.Fatalf("athena_log_written_total{log=request}: got %v, want 10", got)
	}
	// Closed: further entries are discarded, not queued.
	w.Request(RequestEntry{RequestID: "late"})
	if got := metricValue(t, m, "athena_log_queue_depth", "request"); got != 0 {
		t.Fatalf("queue depth after close: got %v, want 0", got)
	}
	pool.Close()
}

func TestLogWriterCloseWithoutStartFlushes(t *testing.T) {
	pool := logPool(t)
	w := NewLogWriter(postgres.NewLogStore(pool), LogOptions{}, nil, nil)
	w.Request(RequestEntry{RequestID: "unstarted", Method: "GET", Path: "/", Status: 200})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := count(t, pool, "SELECT count(*) FROM gateway_request_log WHERE request_id = 'unstarted'"); got != 1 {
		t.Fatalf("rows: got %d, want 1", got)
	}
}

// mustReturn fails the test if f blocks: the request path may never wait
// on the logging database.
func mustReturn(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("call blocked")
	}
}

func TestLogWriterFullQueueDropsWithoutBlocking(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	// A "database" that accepts connections and never answers: the flusher's
	// COPY hangs in the connection handshake until Close cancels it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	cfg, err := pgxpool.ParseConfig("postgres://athena@" + ln.Addr().String() + "/logs?sslmode=disable&connect_timeout=60")
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMetrics()
	const queue = 4
	w := NewLogWriter(postgres.NewLogStore(pool), LogOptions{QueueSize: queue, BatchSize: 1, WriteTimeout: time.Minute, Retention: -1}, m, nil)
	w.Start()

	mustReturn(t, func() { w.Request(RequestEntry{RequestID: "first"}) })
	var conn net.Conn
	select {
	case conn = <-accepted: // the flusher holds "first" and is stuck writing it
	case <-time.After(10 * time.Second):
		t.Fatal("the flusher never connected")
	}
	for i := 0; i < queue+3; i++ {
		mustReturn(t, func() { w.Request(RequestEntry{RequestID: "more"}) })
	}
	for i := 0; i < queue+2; i++ {
		mustReturn(t, func() { w.Operation(OperationEntry{RequestID: "more"}) })
	}
	if got := w.Dropped("request"); got != 3 {
		t.Fatalf("dropped requests: got %d, want 3", got)
	}
	if got := metricValue(t, m, "athena_log_dropped_total", "operation"); got != 2 {
		t.Fatalf("athena_log_dropped_total{log=operation}: got %v, want 2", got)
	}
	if got := metricValue(t, m, "athena_log_queue_depth", "request"); got != queue {
		t.Fatalf("athena_log_queue_depth{log=request}: got %v, want %d", got, queue)
	}

	// Close cannot write (the database never answers): it gives up at its
	// deadline, cancels the stuck write and still stops every goroutine.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("close: got %v, want %v", err, context.DeadlineExceeded)
	}
	pool.Close()
	conn.Close()
	ln.Close()
	for c := range accepted {
		c.Close()
	}
}

func TestLogWriterRetentionDeletesOnlyOldRows(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	pool := logPool(t)
	store := postgres.NewLogStore(pool)
	ctx := context.Background()
	now := time.Now()
	var reqs []RequestEntry
	var ops []OperationEntry
	for _, at := range []time.Time{now.Add(-20 * 24 * time.Hour), now.Add(-15 * 24 * time.Hour), now.Add(-15 * 24 * time.Hour), now.Add(-time.Hour)} {
		reqs = append(reqs, RequestEntry{RequestID: "r", Time: at, Method: "GET", Path: "/", Status: 200})
		ops = append(ops, OperationEntry{RequestID: "r", Time: at, Client: "c", Operation: "fetch", Status: 200})
	}
	if _, err := store.CopyRequests(ctx, reqs); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CopyOperations(ctx, ops); err != nil {
		t.Fatal(err)
	}
	spy := newSpy(pool)
	// Batches of 2 rows: the job needs two statements per table, then a
	// third finds nothing.
	w := NewLogWriter(spy, LogOptions{Retention: 14 * 24 * time.Hour, RetentionBatch: 2, RetentionInterval: time.Hour, FlushInterval: time.Hour}, nil, nil)
	w.Start() // the job runs once right away
	for _, want := range []int64{4, 2} {
		if n := receive(t, spy.pruned, "a retention batch"); n != want {
			t.Fatalf("retention batch: got %d rows, want %d", n, want)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"gateway_request_log", "gateway_operation_log"} {
		if got := count(t, pool, "SELECT count(*) FROM "+table); got != 1 {
			t.Fatalf("%s rows left: got %d, want 1", table, got)
		}
		if got := count(t, pool, "SELECT count(*) FROM "+table+" WHERE created_at > now() - interval '2 hours'"); got != 1 {
			t.Fatalf("%s: the recent row was deleted", table)
		}
	}
	pool.Close()
}

// metricValue reads one labelled sample from the registry.
func metricValue(t *testing.T, m *Metrics, name, log string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "log" && l.GetValue() == log {
					if s.GetCounter() != nil {
						return s.GetCounter().GetValue()
					}
					return s.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("%s{log=%q} not registered", name, log)
	return 0
}
