package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/internal/testenv"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
)

func testRedisURL() string {
	if u := os.Getenv("ATHENA_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// engineOn builds one more gateway process on the harness's schema: its
// own registry (pools, metadata cache) and the given read cache, as a
// second `athena serve` behind the same load balancer would have.
func (h *harness) engineOn(t testing.TB, c *cache.Cache) *gin.Engine {
	t.Helper()
	cfg := config.Default()
	cfg.Postgres.MaxConns = 8
	sep := "&"
	if !strings.Contains(testDatabaseURL(), "?") {
		sep = "?"
	}
	cfg.Clients = map[string]config.Client{"test": {URI: testDatabaseURL() + sep + "search_path=" + h.schema, ExposedSchemas: []string{h.schema}}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(cfg, log)
	t.Cleanup(reg.Close)
	return New(registryDeps(reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Cache: c}, log)
}

// newTestCache builds a cache (over rdb when not nil) closed at cleanup.
func newTestCache(t testing.TB, rdb *redis.Client, o cache.Options) *cache.Cache {
	t.Helper()
	o.Redis = rdb
	o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.RedisTTL == 0 && rdb != nil {
		o.RedisTTL = time.Minute
	}
	c, err := cache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func sharedRedis(t testing.TB) *redis.Client {
	t.Helper()
	rdb, err := cache.NewRedis(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	if err := cache.Ping(context.Background(), rdb); err != nil {
		t.Fatalf("redis at %s (make test starts it): %v", testRedisURL(), err)
	}
	return rdb
}

func call(t testing.TB, e *gin.Engine, path, body string, headers ...string) response {
	t.Helper()
	req := httptest.NewRequest("POST", path, strings.NewReader(body))
	req.Header.Set("X-Athena-Client", "test")
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := serve(t, e, req)
	r := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	_ = jsonDecode(r.Body, &r.JSON)
	return r
}

func outcome(r response) string { return r.Header.Get("X-Athena-Cache-Outcome") }

// ageOf reads user id's age through e, failing on anything but 200.
func ageOf(t testing.TB, e *gin.Engine, id int) (string, response) {
	t.Helper()
	r := call(t, e, "/gateway/fetch", fmt.Sprintf(`{"table_name":"users","columns":"id,age","conditions":[{"eq_column":"id","eq_value":%d}]}`, id))
	if r.Status != 200 {
		t.Fatalf("fetch: status %d: %s", r.Status, r.Body)
	}
	rows, _ := r.JSON["data"].([]any)
	if len(rows) != 1 {
		t.Fatalf("fetch: got %s", r.Body)
	}
	return num(rows[0].(map[string]any)["age"]), r
}

func setAge(t testing.TB, e *gin.Engine, id, age int) {
	t.Helper()
	r := call(t, e, "/gateway/update", fmt.Sprintf(`{"table_name":"users","update_body":{"age":%d},"conditions":[{"eq_column":"id","eq_value":%d}]}`, age, id))
	if r.Status != 200 {
		t.Fatalf("update: status %d: %s", r.Status, r.Body)
	}
}

func TestCacheOutcomesAndHeaders(t *testing.T) {
	h := newHarness(t)
	c := newTestCache(t, nil, cache.Options{Clients: map[string]cache.ClientOptions{}})
	e := h.engineOn(t, c)
	body := `{"table_name":"users","columns":"id,name","conditions":[{"eq_column":"id","eq_value":1}],"count":"exact"}`

	first := call(t, e, "/gateway/fetch", body)
	if first.Status != 200 || outcome(first) != "miss" || first.Header.Get("X-Athena-Cached") != "false" {
		t.Fatalf("first read: got %d %q cached=%q", first.Status, outcome(first), first.Header.Get("X-Athena-Cached"))
	}
	second := call(t, e, "/gateway/fetch", body)
	if outcome(second) != "hit_local" || second.Header.Get("X-Athena-Cached") != "true" {
		t.Fatalf("second read: got %q cached=%q", outcome(second), second.Header.Get("X-Athena-Cached"))
	}
	if string(first.Body) != string(second.Body) {
		t.Errorf("hit body differs:\n got %s\nwant %s", second.Body, first.Body)
	}
	if k, _ := first.JSON["cache_key"].(string); len(k) != 16 {
		t.Errorf("cache_key: got %q, want 16 hex digits", k)
	}
	if num(second.JSON["count"]) != "1" {
		t.Errorf("count of a hit: got %v", second.JSON["count"])
	}

	// The same read spelled differently (key order, whitespace, the
	// select alias) is the same normalised request.
	same := call(t, e, "/gateway/fetch", `{ "count":"exact", "select":"id,name", "conditions":[{"eq_column":"id","eq_value":1}], "table_name":"users" }`)
	if outcome(same) != "hit_local" {
		t.Errorf("equivalent body: got %q, want hit_local", outcome(same))
	}

	// no-cache bypasses and does not store.
	fresh := `{"table_name":"users","columns":"id,email","conditions":[{"eq_column":"id","eq_value":2}]}`
	for _, v := range []string{"no-cache", "max-age=0, No-Cache", "no-store"} {
		if r := call(t, e, "/gateway/fetch", fresh, "Cache-Control", v); outcome(r) != "bypass" || r.Header.Get("X-Athena-Cached") != "false" || r.Status != 200 {
			t.Errorf("Cache-Control %q: got %d %q", v, r.Status, outcome(r))
		}
	}
	if r := call(t, e, "/gateway/fetch", fresh); outcome(r) != "miss" {
		t.Errorf("after no-cache reads: got %q, want miss (no-cache must not store)", outcome(r))
	}
	if r := call(t, e, "/gateway/fetch", body, "Cache-Control", "no-cache"); outcome(r) != "bypass" {
		t.Errorf("no-cache over a cached entry: got %q, want bypass", outcome(r))
	}

	// head + count and post-processing answers are cached whole.
	for _, b := range []string{
		`{"table_name":"posts","head":true,"count":"exact"}`,
		`{"table_name":"posts","columns":"id,created_at,status","group_by":"status"}`,
	} {
		call(t, e, "/gateway/fetch", b)
		r := call(t, e, "/gateway/fetch", b)
		if outcome(r) != "hit_local" {
			t.Errorf("%s: second read got %q, want hit_local", b, outcome(r))
		}
	}

	// Errors are never cached.
	for range 2 {
		if r := call(t, e, "/gateway/fetch", `{"table_name":"nope"}`); r.Status != 404 || outcome(r) != "" {
			t.Errorf("unknown table: got %d outcome %q", r.Status, outcome(r))
		}
	}
	before := c.Stats().Loads
	for range 2 {
		if r := call(t, e, "/gateway/fetch", `{"table_name":"users","columns":"nope"}`); r.Status != 400 {
			t.Errorf("unknown column: got %d", r.Status)
		}
	}
	if got := c.Stats().Loads - before; got != 2 {
		t.Errorf("failing reads: got %d loads, want 2 (errors are not cached)", got)
	}

	// A view's rows change through other tables' names: never cached.
	h.exec(t, "CREATE VIEW adults AS SELECT * FROM users WHERE age >= 18")
	for range 2 {
		if r := call(t, e, "/gateway/fetch", `{"view_name":"adults"}`); r.Status != 200 || outcome(r) != "bypass" {
			t.Errorf("view: got %d %q, want 200 bypass", r.Status, outcome(r))
		}
	}

	// Without a cache every read says bypass.
	if r := h.do("POST", "/gateway/fetch", "test", body); outcome(r) != "bypass" || r.Header.Get("X-Athena-Cached") != "false" {
		t.Errorf("no cache configured: got %q", outcome(r))
	}
}

func TestCacheClientDisabledAndTTL(t *testing.T) {
	h := newHarness(t)
	var now atomic.Int64
	now.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }

	off := newTestCache(t, nil, cache.Options{Clients: map[string]cache.ClientOptions{"test": {Disabled: true}}})
	e := h.engineOn(t, off)
	body := `{"table_name":"users","conditions":[{"eq_column":"id","eq_value":1}]}`
	for range 2 {
		if r := call(t, e, "/gateway/fetch", body); outcome(r) != "bypass" {
			t.Errorf("disabled client: got %q, want bypass", outcome(r))
		}
	}

	c := newTestCache(t, nil, cache.Options{TTL: time.Hour, Now: clock, Clients: map[string]cache.ClientOptions{"test": {TTL: 5 * time.Second}}})
	e = h.engineOn(t, c)
	want := []struct {
		advance time.Duration
		outcome string
	}{{0, "miss"}, {0, "hit_local"}, {4 * time.Second, "hit_local"}, {2 * time.Second, "miss"}, {0, "hit_local"}}
	for i, w := range want {
		now.Add(int64(w.advance))
		if r := call(t, e, "/gateway/fetch", body); outcome(r) != w.outcome {
			t.Errorf("step %d (+%s): got %q, want %q (client ttl 5s)", i, w.advance, outcome(r), w.outcome)
		}
	}
}

// TestCacheWriteThenReadTwoEngines is the core guarantee: a read that
// starts after a write's response, through any gateway process sharing
// the Redis, sees the write.
func TestCacheWriteThenReadTwoEngines(t *testing.T) {
	h := newHarness(t)
	rdb := sharedRedis(t)
	a := h.engineOn(t, newTestCache(t, rdb, cache.Options{}))
	b := h.engineOn(t, newTestCache(t, rdb, cache.Options{}))
	engines := []*gin.Engine{a, b}

	for i := range 200 {
		w, r := engines[i%2], engines[(i/2)%2]
		// Warm both caches with the current value first, so a missed
		// invalidation would show as a stale hit.
		ageOf(t, a, 1)
		ageOf(t, b, 1)
		setAge(t, w, 1, 1000+i)
		got, resp := ageOf(t, r, 1)
		if got != strconv.Itoa(1000+i) {
			t.Fatalf("iteration %d: read after write got age %s (%s), want %d", i, got, outcome(resp), 1000+i)
		}
		if again, resp := ageOf(t, r, 1); again != got || !strings.HasPrefix(outcome(resp), "hit") {
			t.Fatalf("iteration %d: repeated read got %s %q, want a hit of %s", i, again, outcome(resp), got)
		}
	}

	// A second process finds what the first stored in Redis.
	c := h.engineOn(t, newTestCache(t, rdb, cache.Options{}))
	if _, r := ageOf(t, c, 1); outcome(r) != "hit_redis" {
		t.Errorf("fresh process: got %q, want hit_redis", outcome(r))
	}
	if _, r := ageOf(t, c, 1); outcome(r) != "hit_local" {
		t.Errorf("fresh process, again: got %q, want hit_local", outcome(r))
	}

	// Insert and delete invalidate too.
	list := `{"table_name":"users","columns":"email","sort_by":{"field":"id","direction":"asc"}}`
	count := func(e *gin.Engine) int { return len(call(t, e, "/gateway/fetch", list).JSON["data"].([]any)) }
	n := count(b)
	if r := call(t, a, "/gateway/insert", `{"table_name":"users","insert_body":{"email":"new@example.com"}}`); r.Status != 201 {
		t.Fatalf("insert: %d %s", r.Status, r.Body)
	}
	if got := count(b); got != n+1 {
		t.Errorf("after insert via A: B sees %d rows, want %d", got, n+1)
	}
	if r := call(t, b, "/gateway/delete", `{"table_name":"users","conditions":[{"eq_column":"email","eq_value":"new@example.com"}]}`); r.Status != 200 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if got := count(a); got != n {
		t.Errorf("after delete via B: A sees %d rows, want %d", got, n)
	}
	// Raw SQL that writes invalidates the whole scope.
	ageOf(t, b, 2)
	if r := call(t, a, "/gateway/query", `{"query":"UPDATE users SET age = 77 WHERE id = 2"}`); r.Status != 200 {
		t.Fatalf("query: %d %s", r.Status, r.Body)
	}
	if got, _ := ageOf(t, b, 2); got != "77" {
		t.Errorf("after raw UPDATE via A: B got age %s, want 77", got)
	}
}

// TestCacheConcurrentNoStaleRead runs writers and readers on two
// processes at once. A reader notes the last value whose write was
// acknowledged before its read started; the read must return at least
// that value (the column only grows).
func TestCacheConcurrentNoStaleRead(t *testing.T) {
	h := newHarness(t)
	rdb := sharedRedis(t)
	engines := []*gin.Engine{
		h.engineOn(t, newTestCache(t, rdb, cache.Options{})),
		h.engineOn(t, newTestCache(t, rdb, cache.Options{})),
	}
	setAge(t, engines[0], 3, 0)
	var acked atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	const writes = 300
	var writersDone atomic.Bool
	wg.Go(func() {
		defer writersDone.Store(true)
		for v := 1; v <= writes; v++ {
			setAge(t, engines[v%2], 3, v) // alternate the writing process
			acked.Store(int64(v))
		}
	})
	// Another row written concurrently through the other process keeps
	// the users generation moving under the readers' feet.
	wg.Go(func() {
		for v := 1; !writersDone.Load(); v++ {
			setAge(t, engines[(v+1)%2], 2, v)
		}
	})
	for r := range 6 {
		wg.Go(func() {
			for !writersDone.Load() {
				floor := acked.Load()
				got, resp := ageOf(t, engines[r%2], 3)
				n, _ := strconv.ParseInt(got, 10, 64)
				if n < floor {
					select {
					case errs <- fmt.Sprintf("reader %d: got %d (%s), but %d was acknowledged before the read began", r, n, outcome(resp), floor):
					default:
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestCacheEmbeddedTableInvalidates: a fetch of posts embedding its author
// depends on users, and a cascading delete of posts changes comments.
func TestCacheEmbeddedTableInvalidates(t *testing.T) {
	h := newHarness(t)
	rdb := sharedRedis(t)
	a := h.engineOn(t, newTestCache(t, rdb, cache.Options{}))
	b := h.engineOn(t, newTestCache(t, rdb, cache.Options{}))

	posts := `{"table_name":"posts","columns":"id,title,author:author_id(name)","conditions":[{"eq_column":"id","eq_value":1}]}`
	authorName := func(e *gin.Engine) (string, string) {
		r := call(t, e, "/gateway/fetch", posts)
		row := r.JSON["data"].([]any)[0].(map[string]any)
		return row["author"].(map[string]any)["name"].(string), outcome(r)
	}
	if n, _ := authorName(b); n != "Ada" {
		t.Fatalf("author: got %q", n)
	}
	if _, o := authorName(b); o != "hit_local" {
		t.Fatalf("second read: got %q", o)
	}
	if r := call(t, a, "/gateway/update", `{"table_name":"users","update_body":{"name":"Ada L."},"conditions":[{"eq_column":"id","eq_value":1}]}`); r.Status != 200 {
		t.Fatalf("update users: %d %s", r.Status, r.Body)
	}
	if n, o := authorName(b); n != "Ada L." {
		t.Errorf("after updating the embedded users row via A: B got %q (%s), want Ada L.", n, o)
	}

	// comments(post_id) REFERENCES posts ON DELETE CASCADE.
	comments := `{"table_name":"comments","columns":"body","sort_by":{"field":"id","direction":"asc"}}`
	if got := len(call(t, b, "/gateway/fetch", comments).JSON["data"].([]any)); got != 3 {
		t.Fatalf("comments: got %d", got)
	}
	if r := call(t, a, "/gateway/delete", `{"table_name":"posts","resource_id":1}`); r.Status != 200 {
		t.Fatalf("delete post: %d %s", r.Status, r.Body)
	}
	if r := call(t, b, "/gateway/fetch", comments); len(r.JSON["data"].([]any)) != 1 {
		t.Errorf("after deleting post 1 (cascade): B got %s (%s), want one comment", r.Body, outcome(r))
	}
}

// countingTracer counts row statements (fetches render rows with json_agg).
type countingTracer struct{ fetches atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	if strings.Contains(d.SQL, "json_agg") {
		c.fetches.Add(1)
	}
	return ctx
}
func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// tracedClients serves client "test" from a pool with a query tracer.
type tracedClients struct {
	*registry.Registry
	db *postgres.DB
}

func (tc tracedClients) Lookup(name string) (*postgres.DB, error) {
	if name == "test" {
		return tc.db, nil
	}
	return tc.Registry.Lookup(name)
}

func TestCacheSingleFlight(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pcfg, err := pgxpool.ParseConfig(testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.RuntimeParams["search_path"] = h.schema
	tracer := &countingTracer{}
	pcfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	c := newTestCache(t, nil, cache.Options{})
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := New(Deps{Clients: tracedClients{h.reg, postgres.New(pool, postgres.Options{ExposedSchemas: []string{h.schema}})}}, Options{BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Cache: c}, log)

	// Warm the table metadata with a different read, then count from zero.
	if r := call(t, e, "/gateway/fetch", `{"table_name":"users","limit":2}`); r.Status != 200 {
		t.Fatalf("warm-up: %d %s", r.Status, r.Body)
	}
	tracer.fetches.Store(0)

	// Hold the table so the one database query cannot finish before every
	// caller has joined it.
	lock, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close(ctx)
	tx, err := lock.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{h.schema, "users"}.Sanitize()+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	const n = 64
	body := `{"table_name":"users","columns":"id,email","conditions":[{"eq_column":"id","eq_value":1}]}`
	out := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = call(t, e, "/gateway/fetch", body) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Waiting < n {
		if time.Now().After(deadline) {
			_ = tx.Rollback(ctx)
			t.Fatalf("only %d of %d reads joined the load", c.Stats().Waiting, n)
		}
		time.Sleep(time.Millisecond) // polling a counter, bounded by the deadline
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got := tracer.fetches.Load(); got != 1 {
		t.Errorf("database queries: got %d, want 1", got)
	}
	for i, r := range out {
		if r.Status != 200 || string(r.Body) != string(out[0].Body) || outcome(r) != "miss" {
			t.Fatalf("caller %d: got %d %q %s, want the shared miss %s", i, r.Status, outcome(r), r.Body, out[0].Body)
		}
	}
	if got := c.Stats().Loads; got != 2 { // warm-up + the shared one
		t.Errorf("loads: got %d, want 2", got)
	}
}

// redisServer is a redis-server child process on a free port.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func startRedis(t *testing.T, port int) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/redis-server"); serr != nil {
			testenv.Unavailable(t, "redis-server", fmt.Errorf("not installed; this test kills and restarts its own Redis: %w", err))
		}
		bin = "/usr/bin/redis-server"
	}
	if port == 0 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
	}
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &redisServer{t: t, port: port, cmd: cmd}
	t.Cleanup(s.kill)
	rdb := redis.NewClient(&redis.Options{Addr: s.addr()})
	defer rdb.Close()
	deadline := time.Now().Add(10 * time.Second)
	for rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %d did not answer", port)
		}
		time.Sleep(10 * time.Millisecond) // polling readiness, bounded
	}
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

func (s *redisServer) kill() {
	if s.cmd.Process != nil && s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

func TestCacheRedisKilledMidTest(t *testing.T) {
	h := newHarness(t)
	srv := startRedis(t, 0)
	newClient := func() *redis.Client {
		rdb, err := cache.NewRedis("redis://" + srv.addr() + "/0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	ca := newTestCache(t, newClient(), cache.Options{ProbeInterval: 50 * time.Millisecond})
	cb := newTestCache(t, newClient(), cache.Options{ProbeInterval: 50 * time.Millisecond})
	a, b := h.engineOn(t, ca), h.engineOn(t, cb)

	setAge(t, a, 1, 1)
	ageOf(t, b, 1)
	if _, r := ageOf(t, b, 1); outcome(r) != "hit_local" {
		t.Fatalf("warm: got %q", outcome(r))
	}

	srv.kill()
	for i := 2; i <= 20; i++ {
		setAge(t, engines(a, b, i), 1, i) // writes succeed without Redis
		got, r := ageOf(t, engines(b, a, i), 1)
		if got != strconv.Itoa(i) {
			t.Fatalf("Redis down, iteration %d: got age %s (%s), want %d", i, got, outcome(r), i)
		}
		if o := outcome(r); o != "bypass" {
			t.Errorf("Redis down: outcome %q, want bypass", o)
		}
	}
	if ca.RedisErrors() == 0 || cb.RedisErrors() == 0 {
		t.Errorf("redis errors: got %d and %d, want both counted", ca.RedisErrors(), cb.RedisErrors())
	}
	if !ca.Stats().Degraded {
		t.Error("cache A is not degraded while Redis is down")
	}

	startRedis(t, srv.port)
	deadline := time.Now().Add(15 * time.Second)
	for ca.Stats().Degraded || cb.Stats().Degraded {
		if time.Now().After(deadline) {
			t.Fatal("caches did not resume after Redis came back")
		}
		time.Sleep(10 * time.Millisecond) // polling the probe's result, bounded
	}
	for i := 21; i <= 40; i++ {
		errsBefore := ca.RedisErrors() + cb.RedisErrors()
		setAge(t, engines(a, b, i), 1, i)
		got, r := ageOf(t, engines(b, a, i), 1)
		if got != strconv.Itoa(i) || outcome(r) != "miss" {
			t.Fatalf("after recovery, iteration %d: got age %s (%s), want %d (miss)", i, got, outcome(r), i)
		}
		_, r = ageOf(t, engines(b, a, i), 1)
		switch o := outcome(r); {
		case o == "hit_local":
		case ca.RedisErrors()+cb.RedisErrors() != errsBefore && o == "hit_redis":
			// A pooled connection from before the restart failed in this
			// iteration: the cache degraded and, on resuming, emptied its
			// local copy by design (it may have missed notices); the answer
			// still came from the cache, through Redis.
			t.Logf("iteration %d: a Redis error meanwhile; repeated read served from Redis", i)
		default:
			t.Fatalf("after recovery: repeated read got %q, want hit_local", o)
		}
	}
}

func engines(x, y *gin.Engine, i int) *gin.Engine {
	if i%2 == 0 {
		return x
	}
	return y
}

func jsonDecode(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

// exec runs SQL in the harness's schema.
func (h *harness) exec(t testing.TB, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{h.schema}.Sanitize()+"; "+sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestCacheRPCInvalidates: a database function may write any table, so a
// successful RPC must make cached reads of the client stale.
func TestCacheRPCInvalidates(t *testing.T) {
	h := newHarness(t)
	e := h.engineOn(t, newTestCache(t, nil, cache.Options{Clients: map[string]cache.ClientOptions{}}))
	fn := `{"query":"CREATE FUNCTION rename_user(p_id bigint, p_name text) RETURNS void LANGUAGE sql AS 'UPDATE users SET name = p_name WHERE id = p_id'"}`
	if r := call(t, e, "/gateway/query", fn); r.Status != 200 {
		t.Fatalf("create function: %d %s", r.Status, r.Body)
	}
	read := `{"table_name":"users","conditions":[{"eq_column":"id","eq_value":1}]}`
	call(t, e, "/gateway/fetch", read)
	if r := call(t, e, "/gateway/fetch", read); outcome(r) != "hit_local" {
		t.Fatalf("second read: outcome %q, want hit_local", outcome(r))
	}
	if r := call(t, e, "/gateway/rpc", `{"function":"rename_user","args":{"p_id":1,"p_name":"Renamed"}}`); r.Status != 200 {
		t.Fatalf("rpc: %d %s", r.Status, r.Body)
	}
	r := call(t, e, "/gateway/fetch", read)
	if rows := r.rows(t); len(rows) != 1 || rows[0]["name"] != "Renamed" {
		t.Fatalf("read after rpc: %s (outcome %s)", r.Body, outcome(r))
	}
}
