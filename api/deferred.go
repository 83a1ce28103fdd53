package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// Deferred execution (spec §5): a write the gateway cannot or should not
// run now is validated, stored in gateway_deferred_requests, handed to
// Temporal as a DeferredRequest workflow and answered 202. A worker later
// runs it through Executor, i.e. through this very engine and handler, so
// a deferred write does exactly what the synchronous route would have done.

// DeferredStore keeps deferred requests (gateway_deferred_requests on the
// logging database). *postgres.DeferredStore implements it.
type DeferredStore interface {
	Create(ctx context.Context, r postgres.DeferredRequest) error
	// Discard deletes a queued request that was never acknowledged.
	Discard(ctx context.Context, id string) error
	Get(ctx context.Context, id string) (postgres.DeferredRequest, error)
	// Requeue turns a failed request back into a queued one, returning it
	// as it was (409 deferred_request_not_failed for any other state).
	Requeue(ctx context.Context, id string) (postgres.DeferredRequest, error)
	// Restore undoes Requeue.
	Restore(ctx context.Context, prev postgres.DeferredRequest) error
}

// DeferredQueue starts the workflow that runs a deferred request (app
// implements it over the Temporal client).
type DeferredQueue interface {
	// WorkflowID names the workflow of request id.
	WorkflowID(id string) string
	// StartDeferred starts the workflow of request id; requeue starts it
	// again after a failed run.
	StartDeferred(ctx context.Context, id string, requeue bool) error
}

// Defaults of the deferred options.
const (
	DefaultDeferredRetryAfter   = 2 * time.Second
	DefaultDeferredStartTimeout = 5 * time.Second
)

// deferredOps are the write routes a caller may ask to defer with Prefer:
// respond-async, by canonical route.
var deferredOps = map[string]string{
	"/gateway/insert":      "insert",
	"/gateway/update":      "update",
	"/gateway/delete":      "delete",
	"/gateway/query":       "query",
	"/gateway/sql":         "query",
	"/query/sql":           "query",
	"/gateway/transaction": "transaction",
	"/gateway/rpc":         "rpc",
}

// deferredHeaders are the request headers kept with a deferred request:
// those that shape the answer or the logs. Credentials are never stored;
// the worker runs as the principal authenticated when it was accepted.
var deferredHeaders = []string{
	"Content-Type", "X-Athena-Client", "X-Strip-Nulls", "X-User-Id", "X-Organization-Id",
	"X-Company-Id", "X-Athena-Sdk", "X-Backend-Type",
}

// errAnswered is returned by a step that has written the answer itself (a
// deferred request's 202): the route's adapter writes nothing more.
var errAnswered = errors.New("answered")

// bypassKey marks a request that must run now: it was already admitted and
// deferred once (a worker running it), or deferral was refused for it (a
// direct URI). The admission step checks deferBypassed before deferring.
const bypassKey = "athena.defer_bypass"

// deferBypassed reports whether the request must run now, never deferred:
// a deferred request a worker is running, or one deferRequest sent on to
// its route (a direct URI's: Resolution.Direct says that one too).
func deferBypassed(c *gin.Context) bool {
	return c.GetBool(bypassKey) || deferredRunFrom(c.Request.Context()) != nil
}

// deferRequest turns the current tenant request (operation op, already
// authenticated as p and resolved to res) into a deferred request (spec
// §5): it reads the body, validates it as the route would (a malformed
// request gets the route's 400 now), queues it durably and answers 202; a
// returned error is the answer instead. The admission step calls it for a
// write over its client's limit, the write routes for Prefer:
// respond-async.
//
// A direct-URI request is never deferred, nor a request a worker is
// running: it runs now, through its route. Without a deferred queue, or
// with Temporal unreachable, nothing is acknowledged that is not durably
// queued: 503 deferred_queue_unavailable with Retry-After.
func (s *Server) deferRequest(c *gin.Context, res Resolution, p auth.Principal, op string) error {
	if res.Direct || deferredRunFrom(c.Request.Context()) != nil {
		c.Set(bypassKey, true)
		h, ok := s.deferrableHandler(op)
		if !ok {
			return gateway.Errorf(gateway.CodeInternal, "operation %s cannot be deferred", op)
		}
		return h(c)
	}
	if err := s.deferAvailable(op); err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	if err := s.validateDeferred(c, p, op, body); err != nil {
		return err
	}
	return s.enqueue(c, res, p, op, body)
}

// deferAvailable is nil when requests can be deferred at all.
func (s *Server) deferAvailable(op string) error {
	if s.deps.Deferred == nil || s.deps.DeferredQueue == nil {
		return &gateway.Error{
			Code:       gateway.CodeDeferredUnavailable,
			Message:    "the " + op + " request cannot be deferred: no deferred queue is configured",
			Hint:       "retry later",
			RetryAfter: 1,
		}
	}
	return nil
}

// deferrableHandler is the route handler of a deferrable operation.
func (s *Server) deferrableHandler(op string) (handlerFunc, bool) {
	switch op {
	case "insert":
		return s.insert, true
	case "update":
		return s.update, true
	case "delete":
		return s.delete, true
	case "query":
		return s.query, true
	case "transaction":
		return s.transaction, true
	case "rpc":
		return s.rpc, true
	}
	return nil, false
}

// validateDeferred decodes body as op's route does and checks the rights
// the route checks (table rights, the query and rpc rights) for principal
// p, so a request that would be refused now is refused now: a caller
// without the right gets the route's 403 and nothing is queued. The route
// checks them again when a worker runs it (the key's rights may change in
// between).
func (s *Server) validateDeferred(c *gin.Context, p auth.Principal, op string, body []byte) error {
	switch op {
	case "insert", "update", "delete":
		table, err := s.decodeTableWrite(op, body)
		if err != nil {
			return err
		}
		return s.allowTable(c, p, op, table)
	case "query":
		if _, err := gateway.DecodeQuery(body); err != nil {
			return err
		}
		return s.authorize(p, auth.RightQuery)
	case "transaction":
		req, err := gateway.DecodeTransaction(body, stripNullsHeader(c), s.opts.Limits)
		if err != nil {
			return err
		}
		return s.authorizeOps(p, req)
	case "rpc":
		if err := s.validateRPC(c, body); err != nil {
			return err
		}
		return s.authorize(p, auth.RightRPC)
	}
	return gateway.Errorf(gateway.CodeInternal, "operation %s cannot be deferred", op)
}

// decodeTableWrite decodes an insert, update or delete body to its table.
func (s *Server) decodeTableWrite(op string, body []byte) (gateway.TableRef, error) {
	switch op {
	case "insert":
		req, err := gateway.DecodeInsert(body, s.opts.Limits)
		return req.Table, err
	case "update":
		req, err := gateway.DecodeUpdate(body, s.opts.Limits)
		return req.Table, err
	default:
		req, err := gateway.DecodeDelete(body, s.opts.Limits)
		return req.Table, err
	}
}

// validateRPC validates a function call as its route does: POST
// /gateway/rpc carries the call in its body, POST /rpc/{function} in the
// path and query string with an optional object of arguments.
func (s *Server) validateRPC(c *gin.Context, body []byte) error {
	fn := c.Param("function")
	if fn == "" {
		_, err := gateway.DecodeRPC(body, s.opts.Limits)
		return err
	}
	if _, err := gateway.RPCFromQuery(fn, c.Request.URL.Query(), s.opts.Limits); err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	args, err := decodeArgs(body)
	if err != nil {
		return err
	}
	for k := range args {
		if !gateway.ValidIdentifier(k) {
			return gateway.Errorf(gateway.CodeInvalidRPCPayload, "invalid argument name %q", k)
		}
	}
	return nil
}

// preferAsync reports whether the caller asked for deferral (RFC 7240
// Prefer: respond-async) on a deferrable write route, and its operation.
func preferAsync(c *gin.Context) (string, bool) {
	op, ok := deferredOps[canonicalRoute(c.FullPath())]
	if !ok || c.Request.Method == http.MethodGet {
		return "", false
	}
	for _, v := range c.Request.Header.Values("Prefer") {
		for pref := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(pref), ";")
			if strings.EqualFold(strings.TrimSpace(name), "respond-async") {
				return op, true
			}
		}
	}
	return "", false
}

// deferIfAsked defers a decoded (hence valid) write whose caller sent
// Prefer: respond-async. It returns errAnswered once the 202 is written,
// another error to answer instead, and nil when the request runs now.
func (s *Server) deferIfAsked(c *gin.Context, res Resolution, p auth.Principal, body []byte) error {
	op, ok := preferAsync(c)
	if !ok || res.Direct || deferBypassed(c) {
		return nil
	}
	if err := s.deferAvailable(op); err != nil {
		return err
	}
	// The body is valid (decoded by the route); the rights are checked
	// here because the route checks them only after this step.
	if err := s.validateDeferred(c, p, op, body); err != nil {
		return err
	}
	c.Header("Preference-Applied", "respond-async")
	if err := s.enqueue(c, res, p, op, body); err != nil {
		return err
	}
	return errAnswered
}

// enqueue stores the request as queued, starts its workflow and answers
// 202. A workflow that cannot be started removes the row again: the
// request was never acknowledged, and 503 says to retry.
func (s *Server) enqueue(c *gin.Context, res Resolution, p auth.Principal, op string, body []byte) error {
	ctx := c.Request.Context()
	principal, err := json.Marshal(p)
	if err != nil {
		return err
	}
	headers := make(map[string]string, len(deferredHeaders))
	for _, h := range deferredHeaders {
		if v := c.GetHeader(h); v != "" {
			headers[h] = v
		}
	}
	if res.Client != "" {
		headers["X-Athena-Client"] = res.Client // a wildcard host's client, too
	}
	id := newRequestID()
	r := postgres.DeferredRequest{
		ID: id, Client: res.Client, Operation: op,
		Method: c.Request.Method, Path: c.Request.URL.RequestURI(),
		Headers: headers, Body: body, Principal: principal,
		WorkflowID: s.deps.DeferredQueue.WorkflowID(id),
	}
	if err := s.deps.Deferred.Create(ctx, r); err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.deferredStartTimeout())
	defer cancel()
	if err := s.deps.DeferredQueue.StartDeferred(sctx, id, false); err != nil {
		if derr := s.deps.Deferred.Discard(context.WithoutCancel(ctx), id); derr != nil {
			s.log.Error("deferred request not started and not discarded", "request_id", id, "err", derr)
		}
		return s.queueUnavailable(op, err)
	}
	s.answerDeferred(c, id, "Request deferred")
	return nil
}

// queueUnavailable is the 503 for a workflow that could not be started.
func (s *Server) queueUnavailable(op string, cause error) error {
	s.log.Warn("deferred queue unavailable", "op", op, "err", cause)
	return &gateway.Error{
		Code:       gateway.CodeDeferredUnavailable,
		Message:    "the " + op + " request cannot be deferred: the deferred queue is unavailable",
		Hint:       "retry later",
		RetryAfter: s.retryAfterSeconds(),
	}
}

// answerDeferred writes the 202 of a deferred request (spec §5).
func (s *Server) answerDeferred(c *gin.Context, id, message string) {
	statusURL := "/gateway/deferred/" + id
	n := s.retryAfterSeconds()
	c.Header("Location", statusURL)
	c.Header("Retry-After", strconv.Itoa(n))
	newSuccess(message).value("data", map[string]any{
		"request_id":          id,
		"status_url":          statusURL,
		"retry_after_seconds": n,
	}).send(c, http.StatusAccepted)
}

func (s *Server) retryAfterSeconds() int {
	d := s.opts.DeferredRetryAfter
	if d <= 0 {
		d = DefaultDeferredRetryAfter
	}
	return max(1, int((d+time.Second-1)/time.Second))
}

func (s *Server) deferredStartTimeout() time.Duration {
	if s.opts.DeferredStartTimeout > 0 {
		return s.opts.DeferredStartTimeout
	}
	return DefaultDeferredStartTimeout
}

// deferredRoutes are GET /gateway/deferred/:id and its requeue.
func (s *Server) deferredRoutes() []route {
	routes := []route{
		{[]string{get}, "/gateway/deferred/:id", "deferred", "a deferred request: state, attempts, result envelope, error, timestamps", s.deferredStatus},
		{[]string{post}, "/gateway/deferred/:id/requeue", "deferred", "run a failed deferred request again (202; 409 unless failed)", s.deferredRequeue},
	}
	if s.deps.Deferred == nil {
		for i := range routes {
			routes[i].handler = unavailable(&gateway.Error{
				Code: gateway.CodeDeferredUnavailable, Message: "deferred requests need the logging database", RetryAfter: 1,
			})
		}
	}
	return routes
}

// deferredRequest reads request :id for its caller: the caller's key must
// be allowed on the request's client, and a client header naming another
// client finds nothing.
func (s *Server) deferredRequest(c *gin.Context) (postgres.DeferredRequest, error) {
	id := c.Param("id")
	r, err := s.deps.Deferred.Get(c.Request.Context(), id)
	if err != nil {
		return r, err
	}
	if name := strings.TrimSpace(c.GetHeader("X-Athena-Client")); name != "" && name != r.Client {
		return r, gateway.Errorf(gateway.CodeNotFound, "no deferred request %q", id)
	}
	if _, err := s.authenticate(c, r.Client); err != nil {
		return r, err
	}
	return r, nil
}

// deferredStatus serves GET /gateway/deferred/:id from the store alone, so
// it answers while workers or Temporal are down.
func (s *Server) deferredStatus(c *gin.Context) error {
	r, err := s.deferredRequest(c)
	if err != nil {
		return err
	}
	newSuccess("Deferred request "+string(r.State)).value("data", r).send(c, http.StatusOK)
	return nil
}

// deferredRequeue serves POST /gateway/deferred/:id/requeue: a failed
// request runs again under its workflow ID (allowed for a failed run only).
func (s *Server) deferredRequeue(c *gin.Context) error {
	r, err := s.deferredRequest(c)
	if err != nil {
		return err
	}
	if s.deps.DeferredQueue == nil {
		return s.deferAvailable(r.Operation)
	}
	ctx := c.Request.Context()
	prev, err := s.deps.Deferred.Requeue(ctx, r.ID)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.deferredStartTimeout())
	defer cancel()
	if err := s.deps.DeferredQueue.StartDeferred(sctx, r.ID, true); err != nil {
		if rerr := s.deps.Deferred.Restore(context.WithoutCancel(ctx), prev); rerr != nil {
			s.log.Error("requeued deferred request not started and not restored", "request_id", r.ID, "err", rerr)
		}
		return s.queueUnavailable(r.Operation, err)
	}
	s.answerDeferred(c, r.ID, "Request requeued")
	return nil
}

// deferredRun is what a worker's run of a deferred request carries: the
// principal it was accepted as.
type deferredRun struct {
	id        string
	principal auth.Principal
}

type deferredRunKey struct{}

func deferredRunFrom(ctx context.Context) *deferredRun {
	r, _ := ctx.Value(deferredRunKey{}).(*deferredRun)
	return r
}

// Executor runs stored deferred requests through the gateway's own engine
// and handlers (activities call it).
type Executor struct {
	s       *Server
	handler http.Handler
}

// NewExecutor builds an executor over its own engine with deps and opts
// (those of the gateway; telemetry may be left out).
func NewExecutor(deps Deps, opts Options, log *slog.Logger) *Executor {
	s := newServer(deps, opts, log)
	return &Executor{s: s, handler: s.engine()}
}

// Execute runs r once to a committed end (postgres.DB.RunRecorded): the
// stored request goes through its route in memory, as the principal it was
// accepted as and never deferred again, with every write in one
// transaction with the ledger row of r.ID on the target database. A run
// whose ledger row exists returns the stored answer and writes nothing.
// The answer is the status and envelope the synchronous route gives; err
// is set only when the run could not reach an answer (e.g. the ledger's
// database is down).
func (e *Executor) Execute(ctx context.Context, r postgres.DeferredRequest) (status int, envelope []byte, err error) {
	var p auth.Principal
	if len(r.Principal) > 0 {
		if err := json.Unmarshal(r.Principal, &p); err != nil {
			return 0, nil, err
		}
	}
	run := func(ctx context.Context) (postgres.Recorded, error) {
		req, err := http.NewRequestWithContext(context.WithValue(ctx, deferredRunKey{}, &deferredRun{id: r.ID, principal: p}),
			r.Method, r.Path, bytes.NewReader(r.Body))
		if err != nil {
			return postgres.Recorded{}, err
		}
		for k, v := range r.Headers {
			req.Header.Set(k, v)
		}
		req.Header.Set("X-Request-Id", r.ID)
		w := &recorder{header: http.Header{}, code: http.StatusOK}
		e.handler.ServeHTTP(w, req)
		return postgres.Recorded{Status: w.code, Envelope: w.body.Bytes()}, nil
	}
	db, lerr := e.s.deps.Clients.Lookup(r.Client)
	if lerr != nil {
		// The client is gone or frozen: the route answers why, writing
		// nothing, so there is nothing to record.
		out, err := run(ctx)
		return out.Status, out.Envelope, err
	}
	out, _, err := db.RunRecorded(ctx, r.ID, run)
	if err != nil {
		return 0, nil, err
	}
	if out.Status < 300 && e.s.cache != nil {
		// The route invalidated before its commit; a read between that and
		// the commit may have cached the old rows.
		e.s.invalidateScope(ctx, Resolution{DB: db, Client: r.Client, Scope: r.Client})
	}
	return out.Status, out.Envelope, nil
}

// recorder is the in-memory response of an executed request.
type recorder struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}
