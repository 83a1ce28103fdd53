package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/app"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/orchestration/orchestrationtest"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// The burst that starved the original system: many concurrent requests on
// one client whose database also holds the logging tables and the API
// keys, on small pools. Sizes are kept modest so the test fits CI under
// the race detector; the shape (concurrency well above every pool size,
// telemetry stuck behind locks) is what matters.
const (
	burstConcurrency = 32
	burstPerPhase    = 600
	burstKeys        = 16 // distinct keys: each is first looked up mid-burst
	burstPoolSize    = 4  // postgres.max_conns: the tenant and control-plane pools
	// burstDeadlock bounds a phase. It is a hang detector, not a
	// performance bound: a phase takes a few seconds, and only a request
	// that waits on the locked telemetry tables would never finish.
	burstDeadlock = 2 * time.Minute
)

// TestStarvationBurst is issue 6's proof. Tenant, API keys and logging
// tables share one database, the pools have 4 connections, and 32 clients
// fire reads and writes with 16 different keys. During the first phase
// another session holds ACCESS EXCLUSIVE locks on the request log, the
// operation log and both statistics tables, so every log COPY and every
// StatsFlush activity is stuck; the test checks that they really are
// stuck, and that every request of the phase still succeeds (were a
// request to wait on telemetry, the phase could never end while the locks
// are held). The second phase runs unlocked. Afterwards every request is
// accounted for: the statistics equal the number of requests exactly, and
// every request log entry was either written or counted as dropped.
func TestStarvationBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("starvation burst: not in -short")
	}
	ctx := context.Background()
	gin.SetMode(gin.ReleaseMode)
	dbURL, conn := keysTestDB(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	schema := pgx.Identifier{u.Query().Get("search_path")}.Sanitize()
	if _, err := conn.Exec(ctx, `SET search_path TO `+schema+`;
		CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL, qty int NOT NULL DEFAULT 1);
		INSERT INTO orders (item) SELECT 'item ' || g FROM generate_series(1, 50) g`); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.API.Host, cfg.API.Port = "127.0.0.1", 0
	cfg.Postgres.MaxConns = burstPoolSize
	cfg.Cache.Enabled = false // every read reaches the tenant pool
	cfg.Clients = map[string]config.Client{
		"shop":           {URI: dbURL, ExposedSchemas: []string{u.Query().Get("search_path")}}, // tenant, keys and logs: one database
		"athena_logging": {URI: dbURL},
	}
	cfg.Telemetry.LogFlushInterval = 20 * time.Millisecond
	cfg.Telemetry.LogBatchSize = 50
	cfg.Telemetry.LogQueueSize = 400 // small, so the locked phase overflows it
	cfg.Telemetry.StatsInterval = 100 * time.Millisecond
	log := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The worker side (normally `athena worker`): its own registry and
	// limiter, on the in-process Temporal server.
	workerReg := registry.New(cfg, log)
	if err := workerReg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(workerReg.Close)
	acts := activities.New("starvation-worker", workerReg)
	acts.Telemetry = telemetry.NewLimiter(cfg.Telemetry.BackgroundTasks)
	h := orchestrationtest.NewHarness(t, orchestrationtest.Options{Activities: acts})
	cfg.Temporal.Address, cfg.Temporal.Namespace = h.Server.GetFrontendHostPort(), h.Namespace

	// Keys on the same database; enforcement on, failing closed. The
	// worker's registry has migrated the control plane.
	cp, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	keyStore := postgres.NewKeyStore(cp)
	keys := make([]string, burstKeys)
	for i := range keys {
		_, plain, err := keyStore.CreateKey(ctx, postgres.NewKey{Name: fmt.Sprintf("burst %d", i), ClientName: "shop", Rights: []string{"orders.read", "orders.write"}})
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = plain
	}
	if _, err := cp.Exec(ctx, `UPDATE api_key_config SET enforce = true, fail_mode = 'fail_closed'`); err != nil {
		t.Fatal(err)
	}

	// The gateway, built as `athena serve` builds it.
	var (
		engine *gin.Engine
		reg    *registry.Registry
		logs   *telemetry.LogWriter
		stats  *telemetry.Stats
		lim    *telemetry.Limiter
	)
	startCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	gw, err := app.Start(startCtx, app.Serve(app.Params{Config: cfg, Version: "test", Logger: log}), &engine, &reg, &logs, &stats, &lim)
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stopGateway := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := gw.Stop(ctx); err != nil {
			t.Errorf("stop gateway: %v", err)
		}
	}
	t.Cleanup(stopGateway)
	if logs == nil || stats == nil {
		t.Fatal("the gateway runs without the log writer or the statistics aggregator")
	}

	// Enforcement is on from the start: one keyless request is refused.
	if code, body := do(engine, "POST", "/gateway/fetch", "", `{"table_name":"orders","limit":1}`); code != 401 {
		t.Fatalf("keyless request with enforcement on: %d %s", code, body)
	}
	// That request is logged, but without a client (it never got past
	// authentication), so it is not in the client's statistics.
	const probes = 1

	phase1 := burst(t, engine, keys, "locked")
	locks, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = locks.Rollback(context.Background()) }() // if the test stops early
	// Take the locks, then run the phase; the locks are released only
	// after the phase has ended.
	if _, err := locks.Exec(ctx, `LOCK TABLE gateway_request_log, gateway_operation_log, client_statistics, client_table_statistics IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	lockedRes := phase1.run()
	// Telemetry really was stuck behind the locks while the phase ran: a
	// log write (pgx's COPY describes the table first) and a statistics
	// flush are waiting on them right now.
	waitFor(t, "a log write waiting on the locked tables", func() bool { return waitingOnLock(t, cp, "athena-logs", "gateway_request_log") })
	waitFor(t, "a StatsFlush activity waiting on the locked tables", func() bool { return waitingOnLock(t, cp, "", "client_statistics") }, func() string {
		return fmt.Sprintf("sessions %s; statistics flushes started %d, failed %d", sessions(cp), stats.Flushed(), stats.FailedFlushes())
	})
	if err := locks.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	unlockedRes := burst(t, engine, keys, "unlocked").run()

	for _, r := range []burstResult{lockedRes, unlockedRes} {
		if r.failed > 0 {
			t.Errorf("%s phase: %d of %d requests failed; first: %s", r.name, r.failed, r.total, r.firstFailure)
		}
	}
	poolStats := reg.Stats()
	stopGateway() // flushes the last statistics delta and the queued log entries

	total := lockedRes.total + unlockedRes.total
	flushes := stats.Flushed()
	// Every accepted flush is applied by the worker, exactly once: wait
	// until the worker has applied them all, then compare.
	waitFor(t, "every statistics flush applied", func() bool {
		return scalar(t, conn, `SELECT count(*) FROM `+schema+`.stats_flushes`) == flushes
	})
	clientTotal := scalar(t, conn, `SELECT coalesce(sum(total_requests), 0) FROM `+schema+`.client_statistics WHERE client_name = 'shop'`)
	clientOK := scalar(t, conn, `SELECT coalesce(sum(successful_requests), 0) FROM `+schema+`.client_statistics WHERE client_name = 'shop'`)
	tableTotal := scalar(t, conn, `SELECT coalesce(sum(total_requests), 0) FROM `+schema+`.client_table_statistics WHERE client_name = 'shop' AND table_name = 'orders'`)
	if clientTotal != int64(total) || clientOK != int64(total) {
		t.Errorf("client_statistics for shop: total %d, successful %d; want %d, the requests sent", clientTotal, clientOK, total)
	}
	if tableTotal != int64(total) {
		t.Errorf("client_table_statistics for shop/orders: total %d, want %d", tableTotal, total)
	}
	if d := stats.Dropped(); d != 0 {
		t.Errorf("statistics records dropped: %d", d)
	}
	logged := scalar(t, conn, `SELECT count(*) FROM `+schema+`.gateway_request_log`)
	dropped, lost := logs.Dropped("request"), logs.Failed("request")
	if logged != logs.Written("request") || logged+dropped+lost != int64(total+probes) {
		t.Errorf("request log: %d rows (writer says %d written), %d dropped, %d lost in failed writes; want every one of the %d requests accounted for",
			logged, logs.Written("request"), dropped, lost, total+probes)
	}

	t.Logf("starvation burst: concurrency %d, pools of %d connections (tenant, control plane), %d keys, tenant+keys+logs on one database", burstConcurrency, burstPoolSize, burstKeys)
	for _, r := range []burstResult{lockedRes, unlockedRes} {
		t.Logf("  %-8s phase: %d requests, %d failed, %.0f req/s, p50 %s, p99 %s, max %s", r.name, r.total, r.failed, float64(r.total)/r.elapsed.Seconds(), r.p(50), r.p(99), r.p(100))
	}
	for _, s := range poolStats {
		if s.Open {
			t.Logf("  pool %-15s %-13s max %d, acquires %d, waited %d times for %d ms in total", s.Client, s.Kind, s.MaxConns, s.AcquireCount, s.EmptyAcquires, s.AcquireWaitMS)
		}
	}
	t.Logf("  statistics: %d authenticated requests, client_statistics total %d (successful %d), table rows total %d, %d flushes applied", total, clientTotal, clientOK, tableTotal, flushes)
	t.Logf("  request log: %d written, %d dropped while the tables were locked, %d lost in failed writes; telemetry limiter waits: gateway %d, worker %d", logged, dropped, lost, lim.Waits(), acts.Telemetry.Waits())
}

// burstRun is one phase, prepared; run fires it.
type burstRun struct {
	t      *testing.T
	engine *gin.Engine
	keys   []string
	name   string
}

type burstResult struct {
	name          string
	total, failed int
	firstFailure  string
	elapsed       time.Duration
	latencies     []time.Duration // sorted
}

// p is the q-th percentile latency (100: the maximum).
func (r burstResult) p(q int) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	i := min(len(r.latencies)*q/100, len(r.latencies)-1)
	return r.latencies[i].Round(time.Microsecond)
}

func burst(t *testing.T, engine *gin.Engine, keys []string, name string) burstRun {
	return burstRun{t: t, engine: engine, keys: keys, name: name}
}

// run sends burstPerPhase requests from burstConcurrency goroutines: four
// reads (a filter, a page, a count) for every insert, each with one of the
// keys, and fails the test if the phase does not end within burstDeadlock.
func (b burstRun) run() burstResult {
	b.t.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	res := burstResult{name: b.name, total: burstPerPhase}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for range burstConcurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1)) - 1
					if i >= burstPerPhase {
						return
					}
					method, path, body := "POST", "/gateway/fetch", fmt.Sprintf(`{"table_name":"orders","conditions":[{"eq_column":"id","eq_value":%d}]}`, i%50+1)
					switch i % 5 {
					case 1:
						body = fmt.Sprintf(`{"table_name":"orders","limit":10,"offset":%d,"sort_by":{"field":"id","direction":"asc"}}`, i%40)
					case 2:
						body = `{"table_name":"orders","count":"exact","limit":1}`
					case 4:
						method, path, body = "PUT", "/gateway/insert", fmt.Sprintf(`{"table_name":"orders","insert_body":{"item":"burst %s %d","qty":%d}}`, b.name, i, i%7)
					}
					t0 := time.Now()
					code, out := do(b.engine, method, path, b.keys[i%len(b.keys)], body)
					d := time.Since(t0)
					mu.Lock()
					res.latencies = append(res.latencies, d)
					if code != 200 && code != 201 {
						if res.failed == 0 {
							res.firstFailure = fmt.Sprintf("%s %s → %d %s", method, path, code, out)
						}
						res.failed++
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(burstDeadlock):
		b.t.Fatalf("%s phase did not finish within %s: requests are waiting on something they must not (telemetry?)", b.name, burstDeadlock)
	}
	res.elapsed = time.Since(start)
	slices.Sort(res.latencies)
	return res
}

func do(engine *gin.Engine, method, path, key, body string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("X-Athena-Client", "shop")
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("X-Athena-Key", key)
	}
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// waitingOnLock reports whether a session (of application app, any when
// empty) whose query contains query is waiting for a lock.
// It must not run on the connection holding the locks: inside a
// transaction PostgreSQL keeps serving the first snapshot of
// pg_stat_activity.
func waitingOnLock(t *testing.T, conn *pgxpool.Pool, app, query string) bool {
	t.Helper()
	var n int64
	err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND ($1 = '' OR application_name = $1) AND query ILIKE '%' || $2 || '%' AND pid <> pg_backend_pid()`, app, query).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// sessions lists the other sessions on the database, for failure messages.
func sessions(conn *pgxpool.Pool) string {
	rows, err := conn.Query(context.Background(), `SELECT application_name, state, coalesce(wait_event_type, ''), left(regexp_replace(query, '\s+', ' ', 'g'), 80)
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a, st, w, q string
		if err := rows.Scan(&a, &st, &w, &q); err != nil {
			return err.Error()
		}
		out = append(out, fmt.Sprintf("[%s %s %s: %s]", a, st, w, q))
	}
	return strings.Join(out, " ")
}

func scalar(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// waitFor polls ok until it holds, failing the test after a generous bound
// (a hang detector, not a performance bound).
func waitFor(t *testing.T, what string, ok func() bool, diag ...func() string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			var extra string
			for _, d := range diag {
				extra += "; " + d()
			}
			t.Fatalf("%s: not reached within 60s%s", what, extra)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
