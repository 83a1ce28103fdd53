package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/admission"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// admissionEnv is a control plane (logging database in its own schema)
// with two tenant clients on the fixture schema, "test" and "other", and
// a log writer flushing admission events to the table.
type admissionEnv struct {
	h     *harness
	reg   *registry.Registry
	auth  *auth.Authenticator
	logs  *telemetry.LogWriter
	store *postgres.AdmissionStore
}

func newAdmissionEnv(t *testing.T) *admissionEnv {
	t.Helper()
	h := newHarness(t)
	ctx := context.Background()
	cpSchema := h.sideSchemaName("cp")
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+cpSchema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testDatabaseURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+cpSchema+" CASCADE")
	})
	sep := "&"
	if !strings.Contains(testDatabaseURL(), "?") {
		sep = "?"
	}
	cfg := config.Default()
	cfg.Postgres.MaxConns = 8
	cfg.ControlPlane.PollInterval = time.Minute
	cfg.Gateway.DirectURI.Enabled = true
	tenant := config.Client{URI: testDatabaseURL() + sep + "search_path=" + h.schema, ExposedSchemas: []string{h.schema}}
	cfg.Clients = map[string]config.Client{
		"athena_logging": {URI: testDatabaseURL() + sep + "search_path=" + cpSchema},
		"test":           tenant,
		"other":          tenant,
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.NewWithOptions(cfg, log, registry.Options{Getenv: func(string) string { return "" }})
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := reg.Start(sctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	a := auth.New(nil, auth.Options{AdminKey: testAdminKey, KeysOptional: true})
	t.Cleanup(a.Close)
	cp := reg.ControlPlane()
	w := telemetry.NewLogWriter(postgres.NewLogStore(cp), telemetry.LogOptions{FlushInterval: 10 * time.Millisecond, Retention: -1}, nil, nil)
	w.Start()
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	h.reg = reg
	return &admissionEnv{h: h, reg: reg, auth: a, logs: w, store: postgres.NewAdmissionStore(cp)}
}

// server builds one gateway process over the environment with lim as its
// admission limiter (nil: off).
func (e *admissionEnv) server(lim *admission.Limiter) *Server {
	deps := registryDeps(e.reg, e.auth)
	deps.Admission = e.store
	deps.Audit = postgres.NewAuditStore(e.reg.ControlPlane())
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return newServer(deps, Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(),
		Admission: lim, AdmissionEvents: e.logs, Audit: e.logs}, log)
}

// use makes s (with its engine) the one e.h.do talks to.
func (e *admissionEnv) use(s *Server) *gin.Engine {
	e.h.engine = s.engine()
	return e.h.engine
}

const fetchUsers = `{"table_name":"users","columns":"id","limit":1}`

// perMinute is a rate so slow that a test never sees a token come back:
// what a burst admits is all that is admitted.
const perMinute = 1.0 / 60

// randomPrefix keeps a test's Redis keys apart from every other test's.
func randomPrefix(t *testing.T) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "athena-test:admission:" + hex.EncodeToString(b[:]) + ":"
}

// admissionEvents polls GET /admin/admission-events?query until want
// rows are listed (the log writer flushes every 10ms) or fails after a
// bounded wait.
func admissionEvents(t *testing.T, h *harness, query string, want int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := h.do("GET", "/admin/admission-events"+query, "", "", "X-Athena-Admin-Key", testAdminKey).want(t, 200)
		list, _ := r.JSON["data"].([]any)
		if len(list) >= want || time.Now().After(deadline) {
			out := make([]map[string]any, len(list))
			for i, v := range list {
				out[i] = v.(map[string]any)
			}
			if len(out) < want {
				t.Fatalf("GET /admin/admission-events%s: %d rows, want %d: %s", query, len(out), want, r.Body)
			}
			return out
		}
		time.Sleep(10 * time.Millisecond) // polling the table, bounded by the deadline
	}
}

// TestAdmissionOverloadedClient: one client over its limit gets 429 with
// Retry-After on reads and the deferral answer on writes (503
// deferred_queue_unavailable until a queue exists), each decision lands
// in gateway_admission_events with its reason, and another client is
// unaffected.
func TestAdmissionOverloadedClient(t *testing.T) {
	env := newAdmissionEnv(t)
	lim := admission.New(admission.Options{
		ClientDefault: admission.Limit{RPS: 1000, Burst: 1000},
		Clients:       map[string]admission.Limit{"test": {RPS: perMinute, Burst: 3}},
	})
	env.use(env.server(lim))
	h := env.h

	for i := 0; i < 3; i++ {
		h.do("POST", "/gateway/fetch", "test", fetchUsers).want(t, 200)
	}
	r := h.do("POST", "/gateway/fetch", "test", fetchUsers).want(t, 429)
	if r.code() != "rate_limited" {
		t.Errorf("code: got %q, want rate_limited; %s", r.code(), r.Body)
	}
	// One token per minute: the real wait is most of a minute, never the
	// default second.
	if ra, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || ra < 30 || ra > 60 {
		t.Errorf("Retry-After: got %q, want the limiter's wait (30-60s)", r.Header.Get("Retry-After"))
	}
	if d, _ := r.JSON["data"].(map[string]any)["details"].(map[string]any); d["reason"] != "client_rate" {
		t.Errorf("details: got %v, want reason client_rate", d)
	}
	// GET /rpc is a read too: 429.
	h.do("GET", "/rpc/add_numbers?a=1&b=2", "test", "").want(t, 429)
	// Writes are deferred: with no deferred queue that is 503
	// deferred_queue_unavailable, never the write itself.
	for _, w := range []struct{ method, path, body string }{
		{"PUT", "/gateway/insert", `{"table_name":"users","insert_body":{"email":"deferred@example.com","name":"D"}}`},
		{"POST", "/gateway/update", `{"table_name":"users","set":{"age":1},"conditions":[{"eq_column":"id","eq_value":1}]}`},
		{"POST", "/gateway/query", `{"query":"SELECT 1"}`},
		{"POST", "/rpc/add_numbers", `{"a":1,"b":2}`},
	} {
		r := h.do(w.method, w.path, "test", w.body)
		if r.Status != 503 || r.code() != "deferred_queue_unavailable" || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s over the limit: got %d %s, want 503 deferred_queue_unavailable with Retry-After", w.method, w.path, r.Status, r.Body)
		}
	}
	var n int
	if err := env.reg.ControlPlane().QueryRow(context.Background(), "SELECT count(*) FROM "+h.schema+".users WHERE email = 'deferred@example.com'").Scan(&n); err != nil || n != 0 {
		t.Errorf("the deferred insert ran: %d rows (%v)", n, err)
	}
	// Another client is unaffected.
	for i := 0; i < 10; i++ {
		h.do("POST", "/gateway/fetch", "other", fetchUsers).want(t, 200)
	}

	// Every decision is recorded with its reason.
	rejected := admissionEvents(t, h, "?client=test&decision=rejected", 2)
	for _, e := range rejected {
		if e["reason"] != "client_rate" || e["request_id"] == "" || e["window_limit"] != jsonNumber(3) {
			t.Errorf("rejected event: %v", e)
		}
	}
	deferred := admissionEvents(t, h, "?client=test&decision=deferred", 4)
	routes := map[any]bool{}
	for _, e := range deferred {
		routes[e["route"]] = true
	}
	for _, want := range []string{"/gateway/insert", "/gateway/update", "/gateway/query", "/rpc/:function"} {
		if !routes[want] {
			t.Errorf("no deferred event for %s: %v", want, deferred)
		}
	}
	admissionEvents(t, h, "?client=test&decision=admitted", 3)
	admissionEvents(t, h, "?client=other&decision=admitted", 10)
	if r := h.do("GET", "/admin/admission-events?client=other&decision=rejected", "", "", "X-Athena-Admin-Key", testAdminKey).want(t, 200); len(r.JSON["data"].([]any)) != 0 {
		t.Errorf("other was refused: %s", r.Body)
	}

	// Paging: before walks back without repeating or skipping.
	seen := map[any]bool{}
	query := "?client=other&limit=3"
	for pages := 0; ; pages++ {
		r := h.do("GET", "/admin/admission-events"+query, "", "", "X-Athena-Admin-Key", testAdminKey).want(t, 200)
		for _, v := range r.JSON["data"].([]any) {
			id := v.(map[string]any)["id"]
			if seen[id] {
				t.Fatalf("event %v listed twice", id)
			}
			seen[id] = true
		}
		next := r.JSON["next_before"]
		if next == nil {
			break
		}
		query = fmt.Sprintf("?client=other&limit=3&before=%v", next)
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 10 {
		t.Errorf("paged through %d events of other, want 10", len(seen))
	}
	h.do("GET", "/admin/admission-events?decision=maybe", "", "", "X-Athena-Admin-Key", testAdminKey).want(t, 400)
	// Admin only.
	h.do("GET", "/admin/admission-events", "", "").want(t, 401)
}

func jsonNumber(n int) any { return json.Number(strconv.Itoa(n)) }

// TestAdmissionDirectURINeverDeferred: a direct-URI write over the limit
// is refused with 429, never deferred.
func TestAdmissionDirectURINeverDeferred(t *testing.T) {
	env := newAdmissionEnv(t)
	lim := admission.New(admission.Options{Clients: map[string]admission.Limit{directClient: {RPS: perMinute, Burst: 1}}})
	env.use(env.server(lim))
	insert := `{"table_name":"users","insert_body":{"email":"direct@example.com","name":"D"}}`
	first := env.h.do("PUT", "/gateway/insert", "", insert, "X-Pg-Uri", testDatabaseURL())
	if first.Status == 429 || first.Status == 503 {
		t.Fatalf("first direct insert refused: %d %s", first.Status, first.Body)
	}
	r := env.h.do("PUT", "/gateway/insert", "", `{"table_name":"users","insert_body":{"email":"direct2@example.com","name":"D"}}`, "X-Pg-Uri", testDatabaseURL())
	if r.Status != 429 || r.code() != "rate_limited" {
		t.Errorf("direct write over the limit: got %d %s, want 429 rate_limited", r.Status, r.Body)
	}
	ev := admissionEvents(t, env.h, "?client="+directClient+"&decision=rejected", 1)
	if ev[0]["route"] != "/gateway/insert" {
		t.Errorf("event: %v", ev[0])
	}
}

// TestAdmissionInFlightCap: with a cap of one request in flight, a second
// read while the first is held is refused (client_in_flight), and the
// slot comes back when the request ends, also when its handler panics.
func TestAdmissionInFlightCap(t *testing.T) {
	env := newAdmissionEnv(t)
	lim := admission.New(admission.Options{Clients: map[string]admission.Limit{"test": {MaxInFlight: 1}}})
	s := env.server(lim)
	e := env.use(s)
	e.POST("/probe/panic", s.handle("fetch", func(c *gin.Context) error {
		if _, _, err := s.begin(c); err != nil {
			return err
		}
		panic("probe")
	}))
	h := env.h
	inFlight := func() int64 { m, _ := lim.InFlight(); return m["test"] }

	// Hold a fetch: the table is locked by an open transaction.
	ctx := context.Background()
	tx, err := env.reg.ControlPlane().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, "LOCK TABLE "+h.schema+".users IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	held := make(chan response, 1)
	go func() { held <- h.do("POST", "/gateway/fetch", "test", fetchUsers) }()
	waitFor(t, "the held fetch to be in flight", func() bool { return inFlight() == 1 })

	r := h.do("POST", "/gateway/fetch", "test", fetchUsers).want(t, 429)
	if d, _ := r.JSON["data"].(map[string]any)["details"].(map[string]any); d["reason"] != "client_in_flight" {
		t.Errorf("refusal: %s", r.Body)
	}
	// A write over the cap is deferred (503 with today's seam).
	if r := h.do("POST", "/gateway/delete", "test", `{"table_name":"users","resource_id":"999"}`); r.code() != "deferred_queue_unavailable" {
		t.Errorf("write over the in-flight cap: got %d %s", r.Status, r.Body)
	}
	// Another client has no cap.
	h.do("POST", "/gateway/fetch", "other", `{"table_name":"posts","columns":"id","limit":1}`).want(t, 200)

	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if r := <-held; r.Status != 200 {
		t.Fatalf("held fetch: %d %s", r.Status, r.Body)
	}
	waitFor(t, "the slot to come back", func() bool { return inFlight() == 0 })
	h.do("POST", "/gateway/fetch", "test", fetchUsers).want(t, 200)

	// A panicking handler gives its slot back too.
	req := h.do("POST", "/probe/panic", "test", "")
	if req.Status != 500 {
		t.Fatalf("panic probe: %d %s", req.Status, req.Body)
	}
	if n := inFlight(); n != 0 {
		t.Fatalf("in flight after a panic: %d, want 0", n)
	}
	h.do("POST", "/gateway/fetch", "test", fetchUsers).want(t, 200)
	admissionEvents(t, h, "?client=test&decision=rejected", 1)
}

// waitFor polls cond until it holds or fails the test after a bounded wait.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // polling, bounded by the deadline
	}
}

// TestAdmissionAdminLimits: limits stored through the admin route take
// effect at once, show where they come from, are audited, and removing
// them brings the configuration's back.
func TestAdmissionAdminLimits(t *testing.T) {
	env := newAdmissionEnv(t)
	lim := admission.New(admission.Options{ClientDefault: admission.Limit{RPS: 1000, Burst: 1000}})
	env.use(env.server(lim))
	h := env.h
	h.adminKey = testAdminKey

	r := h.do("GET", "/admin/clients/other/admission", "", "").want(t, 200)
	data := r.JSON["data"].(map[string]any)
	if data["source"] != "default" || data["database"] != nil || data["enabled"] != true {
		t.Errorf("before: %s", r.Body)
	}
	for _, bad := range []string{`{"rps":-1}`, `{"rps":1,"brust":2}`, `not json`, `{"max_in_flight":1.5}`} {
		if r := h.do("PUT", "/admin/clients/other/admission", "", bad); r.Status != 400 {
			t.Errorf("PUT %s: got %d %s, want 400", bad, r.Status, r.Body)
		}
	}
	h.do("PUT", "/admin/clients/bad%20name/admission", "", `{"rps":1}`).want(t, 400)

	r = h.do("PUT", "/admin/clients/other/admission", "", fmt.Sprintf(`{"rps":%v,"burst":2}`, perMinute)).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["source"] != "database" {
		t.Errorf("after PUT: %s", r.Body)
	}
	h.adminKey = "" // tenant requests below run as anonymous callers
	h.do("POST", "/gateway/fetch", "other", fetchUsers).want(t, 200)
	h.do("POST", "/gateway/fetch", "other", fetchUsers).want(t, 200)
	h.do("POST", "/gateway/fetch", "other", fetchUsers).want(t, 429)
	h.do("POST", "/gateway/fetch", "test", fetchUsers).want(t, 200)

	// Stored in the client's athena_client_configs row.
	doc, err := env.store.ClientAdmission(context.Background(), "other")
	if err != nil || !strings.Contains(string(doc), `"burst": 2`) {
		t.Errorf("stored: %s (%v)", doc, err)
	}
	// A second gateway process reads it at its reload.
	lim2 := admission.New(admission.Options{ClientDefault: admission.Limit{RPS: 1000, Burst: 1000}})
	docs, err := env.store.ClientAdmissions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	over := map[string]admission.Limit{}
	for n, d := range docs {
		if over[n], err = admission.ParseLimit(d); err != nil {
			t.Fatal(err)
		}
	}
	lim2.ReplaceOverrides(over)
	if l, src := lim2.Effective("other"); src != admission.SourceDatabase || l.Burst != 2 {
		t.Errorf("reloaded: %+v from %s", l, src)
	}

	h.adminKey = testAdminKey
	h.do("DELETE", "/admin/clients/other/admission", "", "").want(t, 200)
	h.adminKey = ""
	h.do("POST", "/gateway/fetch", "other", fetchUsers).want(t, 200)
	h.adminKey = testAdminKey
	if r := h.do("GET", "/admin/clients/other/admission", "", "").want(t, 200); r.JSON["data"].(map[string]any)["source"] != "default" {
		t.Errorf("after DELETE: %s", r.Body)
	}
	// Both changes are in the audit trail.
	rows := auditRows(t, h, "?target=client:other")
	var actions []string
	for _, a := range rows {
		actions = append(actions, a["action"].(string))
	}
	if strings.Join(actions, ",") != "client.admission.delete,client.admission.set" {
		t.Errorf("audit: got %v", actions)
	}
}

// TestAdmissionRedisDown: with Redis configured but not answering (a dead
// port), limits are enforced per process and nothing answers 5xx.
func TestAdmissionRedisDown(t *testing.T) {
	env := newAdmissionEnv(t)
	dead, err := cache.NewRedis("redis://127.0.0.1:18379/0") // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dead.Close() })
	lim := admission.New(admission.Options{Redis: dead, Prefix: randomPrefix(t),
		Clients: map[string]admission.Limit{"test": {RPS: perMinute, Burst: 4}}})
	env.use(env.server(lim))
	admitted := 0
	for i := 0; i < 10; i++ {
		r := env.h.do("POST", "/gateway/fetch", "test", fetchUsers)
		switch r.Status {
		case 200:
			admitted++
		case 429:
		default:
			t.Fatalf("request %d: got %d %s, want 200 or 429", i, r.Status, r.Body)
		}
	}
	if admitted != 4 {
		t.Errorf("admitted %d of 10, want the burst of 4 (per-process limit)", admitted)
	}
	if lim.Fallbacks() == 0 || lim.Shared() {
		t.Errorf("Redis failures %d, shared %v: the dead Redis was never tried", lim.Fallbacks(), lim.Shared())
	}
}

// TestAdmissionSharedThroughRedis: two gateway processes (two servers,
// two limiters) sharing one Redis limit admit together what one limit
// allows — the burst, give or take half of it — where separate limits
// would admit twice as much.
func TestAdmissionSharedThroughRedis(t *testing.T) {
	env := newAdmissionEnv(t)
	rdb := sharedRedis(t)
	prefix := randomPrefix(t)
	t.Cleanup(func() {
		keys, _ := rdb.Keys(context.Background(), "rate:"+prefix+"*").Result()
		if len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	const burst = 12
	engines := make([]*gin.Engine, 2)
	lims := make([]*admission.Limiter, 2)
	for i := range engines {
		lims[i] = admission.New(admission.Options{Redis: rdb, Prefix: prefix, Chunk: 8,
			Clients: map[string]admission.Limit{"test": {RPS: perMinute, Burst: burst}}})
		engines[i] = env.server(lims[i]).engine()
	}
	admitted := [2]int{}
	for i := 0; i < 3*burst; i++ {
		k := i % 2
		r := call(t, engines[k], "/gateway/fetch", fetchUsers)
		switch r.Status {
		case 200:
			admitted[k]++
		case 429:
		default:
			t.Fatalf("request %d: got %d %s", i, r.Status, r.Body)
		}
	}
	total := admitted[0] + admitted[1]
	if total < burst-burst/2 || total > burst+burst/2 {
		t.Errorf("admitted %d (%v) together, want %d ± %d (one shared limit)", total, admitted, burst, burst/2)
	}
	if admitted[0] == 0 || admitted[1] == 0 {
		t.Errorf("admitted %v: both processes should get tokens", admitted)
	}
	for _, l := range lims {
		if !l.Shared() || l.Fallbacks() != 0 {
			t.Errorf("limiter did not use Redis: shared %v, failures %d", l.Shared(), l.Fallbacks())
		}
	}
}

// TestAdmissionOffAdmitsEverything: without a limiter no gate is built
// (begin's step is one nil check) and every request runs.
func TestAdmissionOffAdmitsEverything(t *testing.T) {
	env := newAdmissionEnv(t)
	s := env.server(nil)
	env.use(s)
	if s.admission != nil {
		t.Fatal("admission gate built without a limiter")
	}
	for i := 0; i < 20; i++ {
		env.h.do("POST", "/gateway/fetch", "test", fetchUsers).want(t, 200)
	}
}

// BenchmarkAdmissionCacheHit is a cache hit (no database: the limiter's
// share of the request is largest) with admission off, on per process and
// on through Redis, limits never reached; compare them from one run
// (allocs/op are exact, ns/op noisy on a shared machine).
func BenchmarkAdmissionCacheHit(b *testing.B) {
	h := newHarness(b)
	c := newTestCache(b, nil, cache.Options{})
	lim := admission.Limit{RPS: 1e9, Burst: 1e8, MaxInFlight: 1 << 30}
	rdb := sharedRedis(b)
	var pb [6]byte
	_, _ = rand.Read(pb[:])
	prefix := "athena-bench:admission:" + hex.EncodeToString(pb[:]) + ":"
	b.Cleanup(func() {
		rdb.Del(context.Background(), "rate:"+prefix+"global", "rate:"+prefix+"client:test")
	})
	for _, tt := range []struct {
		name string
		lim  *admission.Limiter
	}{
		{"off", nil},
		{"on-local", admission.New(admission.Options{Global: lim, ClientDefault: lim})},
		{"on-redis", admission.New(admission.Options{Global: lim, ClientDefault: lim, Redis: rdb, Prefix: prefix})},
	} {
		b.Run(tt.name, func(b *testing.B) {
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			e := New(registryDeps(h.reg, nil), Options{Version: "bench", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Cache: c, Admission: tt.lim}, log)
			body := `{"table_name":"users","columns":"id,email","conditions":[{"eq_column":"id","eq_value":2}],"limit":1}`
			if r := call(b, e, "/gateway/fetch", body); r.Status != 200 {
				b.Fatalf("status %d: %s", r.Status, r.Body)
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest("POST", "/gateway/fetch", strings.NewReader(body))
					req.Header.Set("X-Athena-Client", "test")
					rec := httptest.NewRecorder()
					e.ServeHTTP(rec, req)
					if rec.Code != 200 {
						b.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
				}
			})
		})
	}
}
