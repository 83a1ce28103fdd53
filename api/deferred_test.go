package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/admission"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/devstack"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/internal/testenv"
	"github.com/athena-gateway/athena/orchestration"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/postgres/postgrestest"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/workflows"
)

// deferredFixture is the tenant schema of the deferred tests: events has no
// unique key, so a write that ran twice shows as two rows.
const deferredFixture = `
CREATE TABLE events (id bigserial PRIMARY KEY, tag text NOT NULL, n int);
CREATE TABLE names (id bigserial PRIMARY KEY, name text UNIQUE NOT NULL);
INSERT INTO names (name) VALUES ('taken');`

// deferredEnv is a gateway with deferred execution: a private tenant
// database (its ledger schema athena is the test's own), a logging
// database schema, the embedded Temporal server and a worker polling only
// the deferred queue.
type deferredEnv struct {
	t        *testing.T
	engine   *gin.Engine
	reg      *registry.Registry
	tenant   string // the tenant database's URI
	store    *postgres.DeferredStore
	srv      *temporaltest.TestServer
	tc       client.Client
	acts     *activities.Activities
	exec     *countingExecutor
	worker   *orchestration.Worker
	workerMu sync.Mutex
	// key, when set, is sent as X-Athena-Key by do (envOptions.rights).
	key string
}

// privateDatabase creates a database of the test's own on the test
// server (so the ledger schema it gets is the test's too) and drops it when
// the test ends; it returns its URI.
func privateDatabase(t *testing.T, base string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "athena_deferred_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

type envOptions struct {
	// queue replaces the Temporal queue (an unreachable one).
	queue DeferredQueue
	// maxConns sizes the tenant pool.
	maxConns int32
	// startTimeout bounds starting a workflow (default 30s: a loaded
	// machine's embedded server may take seconds).
	startTimeout time.Duration
	// rights, when not nil, turns the key store on (enforced) and makes
	// do send a key of client t1 with these rights; the gateway and its
	// executor check them.
	rights []string
	// admission is the admission limiter of the gateway and its executor
	// (nil: admission off).
	admission *admission.Limiter
	// otherClient adds client t2 on the same tenant database.
	otherClient bool
}

func newDeferredEnv(t *testing.T, tenantBase string, o envOptions) *deferredEnv {
	t.Helper()
	gin.SetMode(gin.TestMode)
	tenant := privateDatabase(t, tenantBase)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, deferredFixture); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	cfg := config.Default()
	cfg.ControlPlane.PollInterval = time.Minute
	cfg.Postgres.MaxConns = 4
	if o.maxConns > 0 {
		cfg.Postgres.MaxConns = o.maxConns
	}
	cfg.Postgres.ConnectTimeout = 2 * time.Second
	cfg.Postgres.AcquireTimeout = 2 * time.Second
	cfg.Clients = map[string]config.Client{
		"athena_logging": {URI: postgrestest.SchemaURL(t)},
		"t1":             {URI: tenant},
	}
	if o.otherClient {
		cfg.Clients["t2"] = config.Client{URI: tenant} // another client of the same database
	}
	reg := registry.NewWithOptions(cfg, nil, registry.Options{Getenv: func(string) string { return "" }})
	if err := reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	store := postgres.NewDeferredStore(reg.ControlPlane())
	if o.startTimeout == 0 {
		o.startTimeout = 30 * time.Second
	}
	opts := Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), DeferredStartTimeout: o.startTimeout,
		Admission: o.admission}
	e := &deferredEnv{t: t, reg: reg, tenant: tenant, store: store}
	var a *auth.Authenticator
	if o.rights != nil {
		keys := postgres.NewKeyStore(reg.ControlPlane())
		a = auth.New(keys, auth.Options{AdminKey: testAdminKey})
		t.Cleanup(a.Close)
		on := true
		if _, err := keys.SetConfig(ctx, &on, nil); err != nil {
			t.Fatal(err)
		}
		if _, e.key, err = keys.CreateKey(ctx, postgres.NewKey{Name: "deferred", ClientName: "t1", Rights: o.rights}); err != nil {
			t.Fatal(err)
		}
	}
	e.exec = &countingExecutor{inner: NewExecutor(Deps{Clients: reg, Auth: a}, opts, nil)}
	e.acts = activities.New("deferred-test", reg)
	e.acts.Deferred = e.exec

	queue := o.queue
	if queue == nil {
		e.srv = temporaltest.NewServer(temporaltest.WithT(t))
		e.tc = e.srv.GetDefaultClient()
		queue = testQueue{e.tc}
		e.startWorker()
		t.Cleanup(e.stopWorker) // before the server stops (LIFO)
	}
	e.engine = New(Deps{Clients: reg, Deferred: store, DeferredQueue: queue, Auth: a}, opts, nil)
	return e
}

// startWorker starts a worker polling only the deferred queue and waits
// until it polls.
func (e *deferredEnv) startWorker() {
	e.t.Helper()
	var q []workflows.Queue
	for _, x := range workflows.Queues() {
		if x.Name == workflows.TaskQueueDeferred {
			q = append(q, x)
		}
	}
	w := orchestration.NewWorker(e.tc, e.acts, orchestration.WorkerOptions{
		Identity: "deferred-test", Queues: q, MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second,
		StopTimeout: time.Second,
		Pacing:      map[string]orchestration.Pacing{workflows.TaskQueueDeferred: {MaxConcurrentActivities: 2, ActivitiesPerSecond: 1000}},
	})
	if err := w.Start(); err != nil {
		e.t.Fatal(err)
	}
	select {
	case <-w.Ready():
	case <-time.After(30 * time.Second):
		e.t.Fatal("deferred worker did not poll")
	}
	e.workerMu.Lock()
	e.worker = w
	e.workerMu.Unlock()
}

func (e *deferredEnv) stopWorker() {
	e.workerMu.Lock()
	w := e.worker
	e.worker = nil
	e.workerMu.Unlock()
	if w != nil {
		w.Stop()
	}
}

// testQueue starts DeferredRequest workflows as app's queue does.
type testQueue struct{ c client.Client }

func (q testQueue) WorkflowID(id string) string { return workflows.DeferredID(id) }

func (q testQueue) StartDeferred(ctx context.Context, id string, requeue bool) error {
	return workflows.StartDeferred(ctx, q.c, id, requeue)
}

// countingExecutor counts executions and lets a test hold them.
type countingExecutor struct {
	inner *Executor
	calls atomic.Int32
	// hook, when set, runs before each execution.
	hook atomic.Pointer[func(ctx context.Context, r postgres.DeferredRequest) error]
}

func (c *countingExecutor) Execute(ctx context.Context, r postgres.DeferredRequest) (int, []byte, error) {
	c.calls.Add(1)
	if h := c.hook.Load(); h != nil {
		if err := (*h)(ctx, r); err != nil {
			return 0, nil, err
		}
	}
	return c.inner.Execute(ctx, r)
}

func (e *deferredEnv) do(method, path, body string, headers ...string) response {
	e.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("X-Athena-Client", "t1")
	req.Header.Set("Content-Type", "application/json")
	if e.key != "" {
		req.Header.Set("X-Athena-Key", e.key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	r := response{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	_ = dec.Decode(&r.JSON)
	return r
}

// deferInsert sends an insert with Prefer: respond-async and returns its
// request id, checking the 202.
func (e *deferredEnv) deferInsert(body string) string {
	e.t.Helper()
	r := e.do("POST", "/gateway/insert", body, "Prefer", "respond-async")
	if r.Status != http.StatusAccepted {
		e.t.Fatalf("deferred insert: got %d, want 202; body %s", r.Status, r.Body)
	}
	data, _ := r.JSON["data"].(map[string]any)
	id, _ := data["request_id"].(string)
	if id == "" || data["status_url"] != "/gateway/deferred/"+id || r.Header.Get("Location") != "/gateway/deferred/"+id {
		e.t.Fatalf("deferred answer: %s, Location %q", r.Body, r.Header.Get("Location"))
	}
	if r.Header.Get("Preference-Applied") != "respond-async" || r.Header.Get("Retry-After") == "" || data["retry_after_seconds"] == nil {
		e.t.Fatalf("deferred answer headers: %v; body %s", r.Header, r.Body)
	}
	return id
}

type deferredStatusView struct {
	State      string          `json:"state"`
	Attempts   int             `json:"attempts"`
	StatusCode *int            `json:"status_code"`
	Result     json.RawMessage `json:"result"`
	Error      *string         `json:"error"`
}

func (e *deferredEnv) status(id string) deferredStatusView {
	e.t.Helper()
	r := e.do("GET", "/gateway/deferred/"+id, "")
	if r.Status != http.StatusOK {
		e.t.Fatalf("status of %s: got %d; body %s", id, r.Status, r.Body)
	}
	var out struct {
		Data deferredStatusView `json:"data"`
	}
	if err := json.Unmarshal(r.Body, &out); err != nil {
		e.t.Fatal(err)
	}
	return out.Data
}

// waitEnded polls the status route until the request has ended (bounded).
func (e *deferredEnv) waitEnded(id string, within time.Duration) deferredStatusView {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := e.status(id)
		if s.State == "completed" || s.State == "failed" {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("deferred request %s still %s after %s (attempts %d)", id, s.State, within, s.Attempts)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

func (e *deferredEnv) count(sql string, args ...any) int {
	e.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.tenant)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// withoutVolatile drops the fields of an envelope that differ between two
// runs of the same request (generated ids).
func envelopeShape(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("envelope %s: %v", raw, err)
	}
	if d, ok := m["data"].(map[string]any); ok {
		delete(d, "id")
	}
	return m
}

// TestDeferredPreferAsyncLandsOnce: writes sent with Prefer: respond-async
// answer 202, each lands exactly once, and the status route shows them
// completed with the envelope the synchronous route answers.
func TestDeferredPreferAsyncLandsOnce(t *testing.T) {
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{})
	const n = 12
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.deferInsert(fmt.Sprintf(`{"table_name":"events","insert_body":{"tag":"a%d","n":%d}}`, i, i))
	}
	sync := e.do("POST", "/gateway/insert", `{"table_name":"events","insert_body":{"tag":"sync","n":0}}`).want(t, http.StatusCreated)
	for i, id := range ids {
		s := e.waitEnded(id, time.Minute)
		if s.State != "completed" || s.StatusCode == nil || *s.StatusCode != http.StatusCreated {
			t.Fatalf("request %d: %+v, want completed with 201", i, s)
		}
		got := envelopeShape(t, s.Result)
		want := envelopeShape(t, sync.Body)
		want["data"].(map[string]any)["tag"] = fmt.Sprintf("a%d", i)
		want["data"].(map[string]any)["n"] = float64(i)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("request %d result: got %v, want the synchronous envelope %v", i, got, want)
		}
	}
	if got := e.count(`SELECT count(*) FROM events WHERE tag LIKE 'a%'`); got != n {
		t.Fatalf("rows: got %d, want %d", got, n)
	}
	if got := e.count(`SELECT count(DISTINCT tag) FROM events WHERE tag LIKE 'a%'`); got != n {
		t.Fatalf("distinct rows: got %d, want %d", got, n)
	}
	if got := e.count(`SELECT count(*) FROM athena.deferred_requests`); got != n {
		t.Fatalf("ledger rows: got %d, want %d", got, n)
	}
	// A GET of an unknown id is 404; another client's header finds nothing.
	if r := e.do("GET", "/gateway/deferred/nope", ""); r.Status != http.StatusNotFound {
		t.Fatalf("unknown id: got %d", r.Status)
	}
	req := httptest.NewRequest("GET", "/gateway/deferred/"+ids[0], nil)
	req.Header.Set("X-Athena-Client", "other")
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotFound {
		t.Fatalf("another client's header: got %d, want 404", rec.Code)
	}
	// A request that already completed cannot be requeued.
	if r := e.do("POST", "/gateway/deferred/"+ids[0]+"/requeue", ""); r.Status != http.StatusConflict || r.code() != string(gateway.CodeDeferredNotFailed) {
		t.Fatalf("requeue of a completed request: got %d %s", r.Status, r.Body)
	}
}

// TestDeferredValidationAnswersNow: a malformed deferred write gets the
// route's 400 at once and nothing is queued.
func TestDeferredValidationAnswersNow(t *testing.T) {
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{})
	for _, body := range []string{`{`, `{"table_name":"events","insert_body":{"tag":"x"},"limt":1}`, `{"table_name":"events"}`} {
		deferred := e.do("POST", "/gateway/insert", body, "Prefer", "respond-async")
		now := e.do("POST", "/gateway/insert", body)
		if deferred.Status != http.StatusBadRequest || string(deferred.Body) != string(now.Body) {
			t.Errorf("body %s: deferred answered %d %s, synchronous %d %s", body, deferred.Status, deferred.Body, now.Status, now.Body)
		}
	}
	var queued int
	if err := e.reg.ControlPlane().QueryRow(context.Background(), `SELECT count(*) FROM gateway_deferred_requests`).Scan(&queued); err != nil {
		t.Fatal(err)
	}
	if queued != 0 {
		t.Fatalf("queued rows: got %d, want 0", queued)
	}
	if e.exec.calls.Load() != 0 {
		t.Fatalf("executions: got %d, want 0", e.exec.calls.Load())
	}
}

// queuedRows counts gateway_deferred_requests rows.
func (e *deferredEnv) queuedRows() int {
	e.t.Helper()
	var n int
	if err := e.reg.ControlPlane().QueryRow(context.Background(), `SELECT count(*) FROM gateway_deferred_requests`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestDeferredRightsCheckedAtAcceptance: a deferred write whose key lacks
// the route's right (a table right, the query or rpc right, any
// operation's right in a transaction) gets the synchronous route's 403 at
// once, with Prefer: respond-async and when admission defers it, and
// nothing is queued; a write the key may do is still deferred and runs.
func TestDeferredRightsCheckedAtAcceptance(t *testing.T) {
	lim := admission.New(admission.Options{Clients: map[string]admission.Limit{"t1": {RPS: perMinute, Burst: 1}}})
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{rights: []string{"events.write"}, admission: lim})
	// Spend t1's one token: from now on admission defers every write.
	e.do("POST", "/gateway/insert", `{"table_name":"events","insert_body":{"tag":"first"}}`).want(t, http.StatusCreated)
	for _, tc := range []struct{ name, path, body, right string }{
		{"table write", "/gateway/insert", `{"table_name":"names","insert_body":{"name":"r"}}`, "names.write"},
		{"table delete", "/gateway/delete", `{"table_name":"events","resource_id":1}`, "events.delete"},
		{"query", "/gateway/query", `{"query":"INSERT INTO events (tag) VALUES ('q')"}`, auth.RightQuery},
		{"rpc", "/gateway/rpc", `{"function":"now"}`, auth.RightRPC},
		{"transaction", "/gateway/transaction", `{"operations":[{"kind":"insert","payload":{"table_name":"events","insert_body":{"tag":"t"}}},{"kind":"insert","payload":{"table_name":"names","insert_body":{"name":"t"}}}]}`, "names.write"},
	} {
		for _, prefer := range []bool{true, false} {
			var headers []string
			if prefer {
				headers = []string{"Prefer", "respond-async"}
			}
			r := e.do("POST", tc.path, tc.body, headers...)
			if r.Status != http.StatusForbidden || errDetails(r)["right"] != tc.right {
				t.Errorf("%s (prefer %v): got %d %s, want 403 naming %s", tc.name, prefer, r.Status, r.Body, tc.right)
			}
		}
	}
	if n := e.queuedRows(); n != 0 {
		t.Fatalf("queued rows: got %d, want 0", n)
	}
	// The key's own right: deferred (admission) and run by the worker.
	r := e.do("POST", "/gateway/insert", `{"table_name":"events","insert_body":{"tag":"allowed"}}`)
	if r.Status != http.StatusAccepted {
		t.Fatalf("allowed write over the limit: got %d %s, want 202", r.Status, r.Body)
	}
	id, _ := r.JSON["data"].(map[string]any)["request_id"].(string)
	if s := e.waitEnded(id, time.Minute); s.State != "completed" {
		t.Fatalf("allowed write: %+v", s)
	}
	if e.exec.calls.Load() != 1 {
		t.Fatalf("executions: got %d, want 1 (refused requests never run)", e.exec.calls.Load())
	}
	if got := e.count(`SELECT count(*) FROM events WHERE tag IN ('q', 't')`) + e.count(`SELECT count(*) FROM names WHERE name IN ('r', 't')`); got != 0 {
		t.Fatalf("refused writes landed: %d rows", got)
	}
}

// TestDeferredConstraintViolationFails: a deferred insert that violates a
// unique key ends failed after one attempt with the envelope the
// synchronous call answers; requeue runs it again (and it fails again).
func TestDeferredConstraintViolationFails(t *testing.T) {
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{})
	body := `{"table_name":"names","insert_body":{"name":"taken"}}`
	id := e.deferInsert(body)
	s := e.waitEnded(id, time.Minute)
	sync := e.do("POST", "/gateway/insert", body).want(t, http.StatusConflict)
	if s.State != "failed" || s.Attempts != 1 || s.StatusCode == nil || *s.StatusCode != http.StatusConflict {
		t.Fatalf("got %+v, want failed after 1 attempt with 409", s)
	}
	if fmt.Sprint(envelopeShape(t, s.Result)) != fmt.Sprint(envelopeShape(t, sync.Body)) {
		t.Fatalf("result: got %s, want the synchronous envelope %s", s.Result, sync.Body)
	}
	if s.Error == nil || !strings.Contains(*s.Error, "duplicate key") {
		t.Fatalf("error: got %v, want the database's message", s.Error)
	}
	if got := e.count(`SELECT count(*) FROM athena.deferred_requests`); got != 0 {
		t.Fatalf("ledger rows of a failed request: got %d, want 0", got)
	}

	// Requeue: the workflow ID is reused (its run failed) and it runs again.
	r := e.do("POST", "/gateway/deferred/"+id+"/requeue", "")
	if r.Status != http.StatusAccepted {
		t.Fatalf("requeue: got %d %s", r.Status, r.Body)
	}
	if st := e.status(id).State; st != "queued" && st != "running" && st != "failed" {
		t.Fatalf("after requeue: state %s", st)
	}
	deadline := time.Now().Add(time.Minute)
	for s = e.status(id); s.Attempts < 2 || s.State != "failed"; s = e.status(id) {
		if time.Now().After(deadline) {
			t.Fatalf("requeued request: %+v, want failed after 2 attempts", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e.exec.calls.Load() != 2 {
		t.Fatalf("executions: got %d, want 2", e.exec.calls.Load())
	}
}

// TestDeferredTemporalUnreachable: with Temporal unreachable a deferral
// answers 503 deferred_queue_unavailable with Retry-After, and no row is
// left claiming the request is queued.
func TestDeferredTemporalUnreachable(t *testing.T) {
	tc, err := client.NewLazyClient(client.Options{HostPort: "127.0.0.1:19997"}) // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{queue: testQueue{tc}, startTimeout: 2 * time.Second})
	r := e.do("POST", "/gateway/insert", `{"table_name":"events","insert_body":{"tag":"x"}}`, "Prefer", "respond-async")
	if r.Status != http.StatusServiceUnavailable || r.code() != string(gateway.CodeDeferredUnavailable) || r.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s (Retry-After %q), want 503 deferred_queue_unavailable with Retry-After", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	var rows int
	if err := e.reg.ControlPlane().QueryRow(context.Background(), `SELECT count(*) FROM gateway_deferred_requests`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("rows left in gateway_deferred_requests: %d, want 0", rows)
	}
	if got := e.count(`SELECT count(*) FROM events`); got != 0 {
		t.Fatalf("events: got %d, want 0", got)
	}
}

// TestDeferredWithoutQueue: a gateway without deferred execution answers
// Prefer: respond-async with 503 and runs nothing.
func TestDeferredWithoutQueue(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/gateway/insert", "test", `{"table_name":"users","insert_body":{"email":"q@example.com"}}`, "Prefer", "respond-async")
	if r.Status != http.StatusServiceUnavailable || r.code() != string(gateway.CodeDeferredUnavailable) || r.Header.Get("Retry-After") == "" {
		t.Fatalf("got %d %s", r.Status, r.Body)
	}
	h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","conditions":[{"eq_column":"email","eq_value":"q@example.com"}]}`).want(t, 200)
}

// TestDeferredWorkerStoppedMidway: the worker stops while requests run and
// a new one starts: every request completes, none twice.
func TestDeferredWorkerStoppedMidway(t *testing.T) {
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{})
	// Hold the fourth execution until its worker stops (its context ends):
	// the stop then happens with requests running and others queued.
	held := make(chan struct{})
	var once sync.Once
	hook := func(ctx context.Context, r postgres.DeferredRequest) error {
		if e.exec.calls.Load() == 4 {
			once.Do(func() { close(held) })
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	e.exec.hook.Store(&hook)
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.deferInsert(fmt.Sprintf(`{"table_name":"events","insert_body":{"tag":"w%d"}}`, i))
	}
	select {
	case <-held:
	case <-time.After(time.Minute):
		t.Fatal("the fourth execution never started")
	}
	e.stopWorker()
	e.exec.hook.Store(nil)
	e.startWorker()
	for _, id := range ids {
		if s := e.waitEnded(id, 2*time.Minute); s.State != "completed" {
			t.Fatalf("request %s: %+v", id, s)
		}
	}
	if got := e.count(`SELECT count(*) FROM events WHERE tag LIKE 'w%'`); got != n {
		t.Fatalf("rows: got %d, want %d (none twice, none lost)", got, n)
	}
	if got := e.count(`SELECT count(DISTINCT tag) FROM events WHERE tag LIKE 'w%'`); got != n {
		t.Fatalf("distinct rows: got %d, want %d", got, n)
	}
}

// TestDeferredFaultAfterCommit: the attempt fails between the commit of
// the write and the activity's completion (an injected fault); the retry
// finds the ledger row and returns the stored answer: the row is there
// once.
func TestDeferredFaultAfterCommit(t *testing.T) {
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{})
	var faults atomic.Int32
	restore := postgres.SetAfterCommitHook(func(string) error {
		if faults.Add(1) == 1 {
			return errors.New("injected: worker died after the commit")
		}
		return nil
	})
	defer restore()
	id := e.deferInsert(`{"table_name":"events","insert_body":{"tag":"fault"}}`)
	s := e.waitEnded(id, time.Minute)
	if s.State != "completed" || s.Attempts != 2 {
		t.Fatalf("got %+v, want completed on the second attempt", s)
	}
	if faults.Load() != 1 {
		t.Fatalf("after-commit hook ran %d times, want 1 (the retry must not commit again)", faults.Load())
	}
	if got := e.count(`SELECT count(*) FROM events WHERE tag = 'fault'`); got != 1 {
		t.Fatalf("rows: got %d, want 1", got)
	}
	if got := envelopeShape(t, s.Result); got["message"] != "Data inserted successfully" {
		t.Fatalf("replayed result: %s", s.Result)
	}
}

// deferredDownPort is TestDeferredDatabaseDown's private cluster (in this
// worktree's port range; never the shared cluster: it is stopped).
const deferredDownPort = 19432

// TestDeferredDatabaseDown: the target database goes down while deferred
// requests run; they retry with backoff (the status route shows the
// attempts and the last error) and complete once it is back, each once.
func TestDeferredDatabaseDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil { // the server runs as postgres
			t.Fatal(err)
		}
	}
	popts := devstack.PostgresOptions{Dir: filepath.Join(dir, "pg"), Port: deferredDownPort, Install: os.Geteuid() == 0}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pg, err := devstack.StartPostgres(ctx, popts)
	if err != nil {
		t.Skipf("cannot start a private PostgreSQL cluster: %v", err)
	}
	var pgMu sync.Mutex
	t.Cleanup(func() {
		pgMu.Lock()
		defer pgMu.Unlock()
		_ = pg.Stop(context.Background())
	})
	e := newDeferredEnv(t, pg.URI("postgres"), envOptions{})
	// One request first, so the ledger and the pool exist before the outage.
	if s := e.waitEnded(e.deferInsert(`{"table_name":"events","insert_body":{"tag":"before"}}`), time.Minute); s.State != "completed" {
		t.Fatalf("before the outage: %+v", s)
	}
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	const n = 5
	ids := make([]string, n)
	for i := range ids {
		ids[i] = e.deferInsert(fmt.Sprintf(`{"table_name":"events","insert_body":{"tag":"down%d"}}`, i))
	}
	// Every request is retried while the database is down.
	deadline := time.Now().Add(time.Minute)
	for _, id := range ids {
		for s := e.status(id); s.Attempts < 2 || s.State != "running" || s.Error == nil; s = e.status(id) {
			if s.State == "completed" || s.State == "failed" || time.Now().After(deadline) {
				t.Fatalf("request %s during the outage: %+v, want running with at least 2 attempts and an error", id, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
		// The tenant sees what the synchronous route answers, never the
		// connection's details (host, port, user, database).
		if s := e.status(id); s.Error == nil || !strings.Contains(*s.Error, "database unavailable") ||
			strings.Contains(*s.Error, "127.0.0.1") || strings.Contains(*s.Error, "user=") {
			t.Fatalf("request %s: status error %q, want the route's message without connection details", id, deref(s.Error))
		}
	}
	pgMu.Lock()
	pg, err = devstack.StartPostgres(ctx, popts)
	pgMu.Unlock()
	if err != nil {
		t.Fatalf("restart the cluster: %v", err)
	}
	for _, id := range ids {
		s := e.waitEnded(id, 3*time.Minute)
		if s.State != "completed" || s.Attempts < 2 {
			t.Fatalf("request %s after the outage: %+v, want completed after retries", id, s)
		}
	}
	if got := e.count(`SELECT count(*) FROM events WHERE tag LIKE 'down%'`); got != n {
		t.Fatalf("rows: got %d, want %d", got, n)
	}
	if got := e.count(`SELECT count(DISTINCT tag) FROM events WHERE tag LIKE 'down%'`); got != n {
		t.Fatalf("distinct rows: got %d, want %d", got, n)
	}
}

// deref prints an optional string.
func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestDeferredAdmissionOverload is the overload proof of spec §5 with a
// real deferred queue: one client far past its admission limit gets 202
// for every write and each lands exactly once, 429 with Retry-After for
// reads, while another client keeps getting 200/201; a worker's run of a
// deferred write is not admitted (nor deferred) again.
func TestDeferredAdmissionOverload(t *testing.T) {
	const burst = 2
	lim := admission.New(admission.Options{
		ClientDefault: admission.Limit{RPS: 1000, Burst: 1000},
		Clients:       map[string]admission.Limit{"t1": {RPS: perMinute, Burst: burst}},
	})
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{admission: lim, otherClient: true})
	read := `{"table_name":"events","columns":"id","limit":1}`
	for range burst {
		e.do("POST", "/gateway/fetch", read).want(t, http.StatusOK)
	}
	writes := []struct{ path, body string }{
		{"/gateway/query", `{"query":"INSERT INTO events (tag) VALUES ('ov-q')"}`},
		{"/gateway/transaction", `{"operations":[{"kind":"insert","payload":{"table_name":"events","insert_body":{"tag":"ov-t"}}}]}`},
	}
	for i := range 10 {
		writes = append(writes, struct{ path, body string }{"/gateway/insert", fmt.Sprintf(`{"table_name":"events","insert_body":{"tag":"ov-%d"}}`, i)})
	}
	const reads = 4
	var ids []string
	for i, w := range writes {
		r := e.do("POST", w.path, w.body)
		if r.Status != http.StatusAccepted || r.Header.Get("Retry-After") == "" || r.Header.Get("Location") == "" {
			t.Fatalf("write %d over the limit: got %d %s, want 202 with Location and Retry-After", i, r.Status, r.Body)
		}
		id, _ := r.JSON["data"].(map[string]any)["request_id"].(string)
		ids = append(ids, id)
		if i < reads {
			r := e.do("POST", "/gateway/fetch", read)
			if r.Status != http.StatusTooManyRequests || r.code() != string(gateway.CodeRateLimited) || r.Header.Get("Retry-After") == "" {
				t.Fatalf("read over the limit: got %d %s (Retry-After %q), want 429 rate_limited with Retry-After", r.Status, r.Body, r.Header.Get("Retry-After"))
			}
		}
		// Another client is unaffected, reads and writes alike.
		e.do("POST", "/gateway/fetch", read, "X-Athena-Client", "t2").want(t, http.StatusOK)
		e.do("POST", "/gateway/insert", fmt.Sprintf(`{"table_name":"events","insert_body":{"tag":"t2-%d"}}`, i), "X-Athena-Client", "t2").want(t, http.StatusCreated)
	}
	for _, id := range ids {
		if s := e.waitEnded(id, 2*time.Minute); s.State != "completed" || s.Attempts != 1 {
			t.Fatalf("deferred request %s: %+v, want completed at the first attempt", id, s)
		}
	}
	n := len(writes)
	if got := e.count(`SELECT count(*) FROM events WHERE tag LIKE 'ov-%'`); got != n {
		t.Fatalf("rows: got %d, want %d (each write exactly once)", got, n)
	}
	if got := e.count(`SELECT count(DISTINCT tag) FROM events WHERE tag LIKE 'ov-%'`); got != n {
		t.Fatalf("distinct rows: got %d, want %d", got, n)
	}
	if got := e.count(`SELECT count(*) FROM events WHERE tag LIKE 't2-%'`); got != n {
		t.Fatalf("the other client's rows: got %d, want %d", got, n)
	}
	if got := int(e.exec.calls.Load()); got != n {
		t.Fatalf("executions: got %d, want %d", got, n)
	}
	// The limiter saw the client's HTTP requests only: had a worker's run
	// gone through admission again it would show as one more decision (a
	// second deferral, its token being spent).
	got := map[admission.Decision]int64{}
	for _, d := range lim.Decisions() {
		if d.Client == "t1" {
			got[d.Decision] += d.N
		}
	}
	want := map[admission.Decision]int64{admission.Admitted: burst, admission.Deferred: int64(n), admission.Rejected: reads}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("t1's admission decisions: got %v, want %v", got, want)
	}
	if queued := e.queuedRows(); queued != n {
		t.Fatalf("deferred requests: got %d, want %d (none deferred twice)", queued, n)
	}
}

// TestDeferredRawCommitRunsAtMostOnce: raw SQL that commits by itself
// takes its write out of the ledger's transaction; the request ends failed
// after one attempt instead of being retried into a second write.
func TestDeferredRawCommitRunsAtMostOnce(t *testing.T) {
	e := newDeferredEnv(t, postgrestest.URL(), envOptions{})
	r := e.do("POST", "/gateway/query", `{"query":"INSERT INTO events (tag) VALUES ('raw-commit'); COMMIT"}`, "Prefer", "respond-async")
	if r.Status != http.StatusAccepted {
		t.Fatalf("deferred raw query: got %d %s, want 202", r.Status, r.Body)
	}
	id, _ := r.JSON["data"].(map[string]any)["request_id"].(string)
	s := e.waitEnded(id, time.Minute)
	if s.State != "failed" || s.Attempts != 1 {
		t.Fatalf("got %+v, want failed after 1 attempt", s)
	}
	if got := e.count(`SELECT count(*) FROM events WHERE tag = 'raw-commit'`); got > 1 {
		t.Fatalf("rows: got %d, want at most 1", got)
	}
}
