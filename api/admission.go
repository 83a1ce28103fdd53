package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/admission"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/telemetry"
)

// Admission (spec §5): once begin knows a tenant request's client and
// caller, the limiter (Options.Admission) decides whether it runs now.
// Over a limit, a read answers 429 rate_limited with Retry-After (the
// limiter's real wait) and a write becomes a deferred request
// (deferRequest); a direct-URI request is never deferred. Every decision
// is counted per client and queued to gateway_admission_events (admitted
// ones unless Options.AdmissionSkipAdmitted). An admitted request's
// in-flight slots are released when it ends, panics included
// (releaseAdmission). With admission off s.admission is nil and begin
// does nothing more.

// admissionGate is the admission step's state; nil when admission is off.
type admissionGate struct {
	lim *admission.Limiter
	// ops maps a route template (without the SDK base path) to its
	// operation, for the read/write decision.
	ops            map[string]string
	events         *telemetry.LogWriter
	recordAdmitted bool
}

// admissionKey holds the request's *admission.Ticket on the gin context
// once it was decided (one holding nothing for a refusal).
const admissionKey = "athena.admission"

// directClient names direct-URI requests in the limiter, the metrics and
// the events: they share one per-client limit. It is no valid client name.
const directClient = "(direct)"

// AdmissionAdmin keeps the per-client limits and reads the decisions
// (GET|PUT|DELETE /admin/clients/{name}/admission, GET
// /admin/admission-events). *postgres.AdmissionStore implements it.
type AdmissionAdmin interface {
	ClientAdmission(ctx context.Context, client string) (json.RawMessage, error)
	SetClientAdmission(ctx context.Context, client string, doc json.RawMessage) (before json.RawMessage, err error)
	ListAdmissions(ctx context.Context, q postgres.AdmissionQuery) ([]postgres.AdmissionRow, error)
}

var errNoAdmissionStore = &gateway.Error{Code: gateway.CodeBackendUnavailable,
	Message: "admission settings unavailable", Detail: "no logging database is configured"}

func newAdmissionGate(opts Options, routes []route) *admissionGate {
	if opts.Admission == nil {
		return nil
	}
	g := &admissionGate{lim: opts.Admission, ops: map[string]string{}, events: opts.AdmissionEvents, recordAdmitted: !opts.AdmissionSkipAdmitted}
	for _, r := range routes {
		g.ops[canonicalRoute(r.Path)] = r.Op
	}
	return g
}

// admit decides the request (once: a handler calling begin again is not
// counted twice). Refused, it returns the answer: 429, or the deferral's.
func (s *Server) admit(c *gin.Context, res Resolution, p auth.Principal) error {
	if _, decided := c.Get(admissionKey); decided {
		return nil
	}
	if deferBypassed(c) {
		// A worker running a deferred request: it was decided when it was
		// accepted, and the deferred queue paces it (not this limiter).
		return nil
	}
	g := s.admission
	route := canonicalRoute(c.FullPath())
	client := res.Client
	if res.Direct || client == "" {
		client = directClient
	}
	t, v := g.lim.Admit(c.Request.Context(), client)
	c.Set(admissionKey, t)
	if v.Admitted() {
		g.record(c, client, route, admission.Admitted, v)
		return nil
	}
	op := g.ops[route]
	if !res.Direct && writeOperation(op, c.Request.Method) {
		g.record(c, client, route, admission.Deferred, v)
		if err := s.deferRequest(c, res, p, op); err != nil {
			return err
		}
		return errAnswered
	}
	g.record(c, client, route, admission.Rejected, v)
	return &gateway.Error{Code: gateway.CodeRateLimited, Message: "rate limit exceeded", Detail: "over the " + reasonText[v.Reason],
		Details: map[string]any{"reason": string(v.Reason)}, Hint: "retry after the Retry-After delay",
		RetryAfter: gateway.RetryAfterSeconds(v.RetryAfter)}
}

// reasonText names the limit of each refusal in the error's detail.
var reasonText = map[admission.Reason]string{
	admission.ReasonClientRate:     "client's request rate",
	admission.ReasonGlobalRate:     "gateway's request rate",
	admission.ReasonClientInFlight: "client's cap on requests in flight",
	admission.ReasonGlobalInFlight: "gateway's cap on requests in flight",
}

// writeOperation reports an operation that changes data (or may: raw SQL,
// a function called by POST), which admission defers instead of refusing.
func writeOperation(op, method string) bool {
	switch op {
	case "insert", "update", "delete", "query", "transaction":
		return true
	case "rpc":
		return method != "GET"
	}
	return false
}

// record counts the decision and queues its event.
func (g *admissionGate) record(c *gin.Context, client, route string, d admission.Decision, v admission.Verdict) {
	if d != admission.Admitted {
		g.lim.Count(client, d, v.Reason) // Admit counted an admitted one
	} else if !g.recordAdmitted {
		return
	}
	e := telemetry.AdmissionEntry{Time: time.Now(), Client: client, Route: route, Decision: string(d),
		Reason: string(v.Reason), WindowCount: -1, WindowLimit: -1}
	if v.Limit > 0 {
		e.WindowCount, e.WindowLimit = v.Count, v.Limit
	}
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
		e.RequestID = info.RequestID
	}
	g.events.Admission(e)
}

// releaseAdmission frees the request's in-flight slots when it ends,
// however it ends. engine installs it only when admission is on.
func (s *Server) releaseAdmission(c *gin.Context) {
	defer func() {
		v, _ := c.Get(admissionKey)
		if t, ok := v.(*admission.Ticket); ok {
			t.Release()
		}
	}()
	c.Next()
}

// admissionLimitView is a client's limits as the admin route answers them.
type admissionLimitView struct {
	Client    string           `json:"client"`
	Enabled   bool             `json:"enabled"`
	Effective *admission.Limit `json:"effective"`
	Source    admission.Source `json:"source,omitempty"`
	Database  *admission.Limit `json:"database"`
	Config    *admission.Limit `json:"config"`
	Global    *admission.Limit `json:"global"`
}

// adminClientAdmissionTarget checks the path's client name.
func (s *Server) adminClientAdmissionTarget(c *gin.Context) (string, error) {
	name := c.Param("name")
	if !gateway.ValidClientName(name) {
		return "", gateway.Errorf(gateway.CodeInvalidClient, "invalid client name %q", name)
	}
	return name, nil
}

// adminGetClientAdmission serves GET /admin/clients/{name}/admission.
func (s *Server) adminGetClientAdmission(c *gin.Context) error {
	name, err := s.adminClientAdmissionTarget(c)
	if err != nil {
		return err
	}
	doc, err := s.deps.Admission.ClientAdmission(c.Request.Context(), name)
	if err != nil {
		return err
	}
	view, err := s.admissionView(name, doc)
	if err != nil {
		return err
	}
	newSuccess("Fetched admission limits").value("data", view).send(c, 200)
	return nil
}

func (s *Server) admissionView(name string, doc json.RawMessage) (admissionLimitView, error) {
	v := admissionLimitView{Client: name}
	if doc != nil {
		lim, err := admission.ParseLimit(doc)
		if err != nil {
			return v, gateway.Errorf(gateway.CodeInternal, "stored admission limit of %q is invalid: %v", name, err)
		}
		v.Database = &lim
	}
	if s.admission == nil {
		return v, nil
	}
	v.Enabled = true
	eff, src := s.admission.lim.Effective(name)
	if v.Database != nil {
		// This process may not have reloaded yet; the stored row wins.
		eff, src = *v.Database, admission.SourceDatabase
	}
	v.Effective, v.Source = &eff, src
	if lim, ok := s.admission.lim.Configured(name); ok {
		v.Config = &lim
	}
	g := s.admission.lim.Global()
	v.Global = &g
	return v, nil
}

// adminPutClientAdmission serves PUT /admin/clients/{name}/admission
// {rps, burst, max_in_flight}: the client's limit, stored in its
// athena_client_configs row; this process applies it at once, the others
// within admission.reload_interval.
func (s *Server) adminPutClientAdmission(c *gin.Context) error {
	name, err := s.adminClientAdmissionTarget(c)
	if err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	lim, err := admission.ParseLimit(body)
	if err != nil {
		e := gateway.Errorf(gateway.CodeInvalidJSON, "admission limit: %v", err)
		e.Hint = `send {"rps": 10, "burst": 20, "max_in_flight": 4}; 0 means no limit`
		return e
	}
	doc, _ := json.Marshal(lim)
	return s.changeClientAdmission(c, name, doc, &lim, "client.admission.set", 200)
}

// adminDeleteClientAdmission serves DELETE /admin/clients/{name}/admission:
// the client falls back to the configuration's limit.
func (s *Server) adminDeleteClientAdmission(c *gin.Context) error {
	name, err := s.adminClientAdmissionTarget(c)
	if err != nil {
		return err
	}
	return s.changeClientAdmission(c, name, nil, nil, "client.admission.delete", 200)
}

func (s *Server) changeClientAdmission(c *gin.Context, name string, doc json.RawMessage, lim *admission.Limit, action string, status int) error {
	before, err := s.deps.Admission.SetClientAdmission(c.Request.Context(), name, doc)
	if err != nil {
		return err
	}
	if s.admission != nil {
		s.admission.lim.SetOverride(name, lim)
	}
	var after any
	if doc != nil {
		after = doc
	}
	var prev any
	if before != nil {
		prev = before
	}
	s.audit(c, action, "client:"+name, prev, after)
	view, err := s.admissionView(name, doc)
	if err != nil {
		return err
	}
	newSuccess("Admission limits updated").value("data", view).send(c, status)
	return nil
}

// adminAdmissionEvents serves GET /admin/admission-events?limit=&before=&offset=&client=&decision=:
// the decisions, newest first. before is an event id (keyset paging: pass
// the response's next_before).
func (s *Server) adminAdmissionEvents(c *gin.Context) error {
	q := postgres.AdmissionQuery{Client: c.Query("client"), Decision: c.Query("decision")}
	switch admission.Decision(q.Decision) {
	case "", admission.Admitted, admission.Deferred, admission.Rejected:
	default:
		return gateway.Errorf(gateway.CodeInvalidValue, "decision must be admitted, deferred or rejected")
	}
	var err error
	if q.Limit, err = queryInt(c, "limit", 100, 1, postgres.MaxAdmissionLimit); err != nil {
		return err
	}
	if q.Offset, err = queryInt(c, "offset", 0, 0, 1<<31-1); err != nil {
		return err
	}
	before, err := queryInt(c, "before", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	q.Before = int64(before)
	rows, err := s.deps.Admission.ListAdmissions(c.Request.Context(), q)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []postgres.AdmissionRow{}
	}
	b := newSuccess("Fetched admission events").value("data", rows).int("limit", int64(q.Limit))
	if len(rows) == q.Limit {
		b = b.int("next_before", rows[len(rows)-1].ID)
	} else {
		b = b.value("next_before", nil)
	}
	b.send(c, 200)
	return nil
}
