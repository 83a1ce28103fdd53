// Package api is Athena's HTTP transport: gin handlers that read a request,
// call the domain and the database adapter, and write the spec's envelopes.
// Every route is listed in routes.go; no handler builds SQL.
//
// Handlers return errors; the route's adapter (Server.handle) writes every
// error envelope. What a handler needs arrives in Deps as one small
// interface per consumer, built once by package app; a feature that is not
// configured is a route answering why, never a nil check in a handler.
package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/admission"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// ClientLookup chooses a request's database (spec §1.1): the gateway
// routes, /health and /clients use it. *registry.Registry implements it.
type ClientLookup interface {
	// Lookup returns the named client's database; "" is 400
	// missing_client_header.
	Lookup(name string) (*postgres.DB, error)
	// Names lists the registered clients.
	Names() []string
	// Direct returns a pool for a direct-URI header value.
	Direct(ctx context.Context, raw string) (*postgres.DB, registry.DirectURI, error)
	// LookupHost routes a wildcard Host; client "" means not a wildcard host.
	LookupHost(host string) (db *postgres.DB, client string, err error)
}

// Deps are the collaborators of the routes, built once by package app.
// Clients is required. Every other field is a feature: when it is nil the
// feature's routes answer why it is unavailable (as they always have), so no
// handler checks for nil.
type Deps struct {
	Clients ClientLookup
	// ClientAdmin serves /admin/clients* and /admin/pools.
	ClientAdmin ClientAdmin
	// HostRoutes serves /admin/routes* (wildcard host routes).
	HostRoutes HostRouteAdmin
	// Auth checks API keys and rights. Nil means no key store is
	// configured: newServer then uses openAuth once (auth.go), so gateway
	// routes run anonymously and every admin route is refused.
	Auth *auth.Authenticator
	// APIKeys serves the /admin/api-key* routes; nil answers them with 503.
	APIKeys APIKeyAdmin
	// Stats serves the /admin/clients/*statistics* routes; nil (no logging
	// database) answers them with 503.
	Stats StatsReader
	// StatsRefresh starts the StatsRefresh workflow for POST
	// /admin/clients/statistics/refresh; nil (no Temporal) answers 503.
	StatsRefresh StatsRefresher
	// Idempotency keeps committed transaction answers by idempotency key
	// (the logging database); nil keeps them in this process.
	Idempotency gateway.IdempotencyStore
	// Audit reads the admin audit trail for GET /admin/audit; nil (no
	// logging database) answers it with 503.
	Audit AuditReader
	// Deferred keeps deferred requests (spec §5); nil (no logging
	// database) answers deferral and /gateway/deferred/* with 503.
	Deferred DeferredStore
	// DeferredQueue starts DeferredRequest workflows; nil (no Temporal)
	// answers deferral with 503 deferred_queue_unavailable.
	DeferredQueue DeferredQueue
	// Admission keeps the per-client admission limits and reads the
	// admission events (admission.go); nil (no logging database) answers
	// those admin routes with 503.
	Admission AdmissionAdmin
}

// Options configures the HTTP layer.
type Options struct {
	Version        string
	BodyLimitBytes int64
	Limits         gateway.Limits
	// Checks are the dependencies /health reports besides the client
	// databases (Temporal, the logging database, Redis).
	Checks []HealthCheck
	// Metrics, when set, serves /metrics and records every request.
	Metrics *telemetry.Metrics
	// Logs, when set, receives one request log entry per request and one
	// operation log entry per /gateway/* request; nil logs nothing.
	Logs *telemetry.LogWriter
	// Audit, when set, receives one audit entry per admin mutation
	// (admin_audit.go); nil records none. It is on whenever there is a
	// logging database, whether or not the request logs are.
	Audit *telemetry.LogWriter
	// Stats, when set, counts every request per client, table and
	// operation (flushed through Temporal).
	Stats *telemetry.Stats
	// Cache is the read cache; nil caches nothing (every fetch answers
	// X-Athena-Cache-Outcome: bypass). Writes invalidate through it.
	Cache *cache.Cache
	// TrustedProxies lists the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For / X-Real-IP name the client in the request log. Empty
	// (the default) trusts none: the logged address is the peer's, which
	// a client cannot forge (gin's own default trusts every peer).
	TrustedProxies []string
	// DeferredRetryAfter is the polling interval a deferred request's 202
	// suggests (Retry-After, retry_after_seconds); default
	// DefaultDeferredRetryAfter.
	DeferredRetryAfter time.Duration
	// DeferredStartTimeout bounds starting a deferred request's workflow
	// (Temporal unreachable: 503 once it passes); default
	// DefaultDeferredStartTimeout.
	DeferredStartTimeout time.Duration
	// Admission, when set, decides every tenant request before it runs
	// (admission.go); nil (the default) admits everything at no cost.
	Admission *admission.Limiter
	// AdmissionEvents receives one gateway_admission_events row per
	// decision; nil records none.
	AdmissionEvents *telemetry.LogWriter
	// AdmissionSkipAdmitted records only deferred and rejected decisions.
	AdmissionSkipAdmitted bool
}

// HealthCheck is one dependency in /health. A failing Required check turns
// the answer into 503; an optional one only shows as down.
type HealthCheck struct {
	Name     string
	Required bool
	Check    func(ctx context.Context) error
}

// Server holds what handlers need. It is safe for concurrent use.
type Server struct {
	deps  Deps
	opts  Options
	cache *cache.Cache
	log   *slog.Logger
	// idempotency is deps.Idempotency or the in-process store.
	idempotency gateway.IdempotencyStore
	routes      []route
	// fetchMemo skips decoding repeated fetch bodies (fetchmemo.go).
	fetchMemo fetchMemo
	// fetchShapes decodes bodies that differ from a known one only in
	// their condition values (fetchmemo.go, gateway/fetchshape.go).
	fetchShapes shapeMemo
	// keys checks keys and rights: keyAuth, or openAuth without a key
	// store (auth.go).
	keys keyCheck
	// recorder, logger and counter observe every answered request; each is
	// a no-op when its telemetry is off (middleware.go). observing is
	// whether any is on.
	recorder  requestRecorder
	logger    requestLogger
	counter   requestCounter
	observing bool
	// openapi is the document GET /openapi.yaml and /openapi.json serve.
	openapi openAPI
	// admission is the admission step; nil when admission is off.
	admission *admissionGate
}

// New builds the gin engine with every route and middleware registered.
func New(deps Deps, opts Options, log *slog.Logger) *gin.Engine {
	return newServer(deps, opts, log).engine()
}

// engine builds the gin engine serving s.
func (s *Server) engine() *gin.Engine {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(s.opts.TrustedProxies); err != nil {
		// config validates the list; trust nobody rather than everybody.
		s.log.Error("api.trusted_proxies is invalid; trusting no proxy", "err", err)
		_ = e.SetTrustedProxies(nil)
	}
	if s.observing {
		e.Use(s.requestID, s.observe, s.recoverPanic)
	} else {
		// Nothing to record: skip observe's timing and lookups.
		e.Use(s.requestID, s.recoverPanic)
	}
	routes := s.routeTable()
	if s.admission = newAdmissionGate(s.opts, routes); s.admission != nil {
		e.Use(s.releaseAdmission)
	}
	s.register(e, routes)
	e.NoRoute(s.handle("route", func(c *gin.Context) error {
		return gateway.Errorf(gateway.CodeNotFound, "no route for %s %s", c.Request.Method, c.Request.URL.Path)
	}))
	// gin answers a known path with an unknown method here, after setting
	// Allow to the methods the path's routes take (RFC 9110 §15.5.6).
	e.NoMethod(s.handle("route", func(c *gin.Context) error {
		allow := c.Writer.Header().Get("Allow")
		return &gateway.Error{
			Code:    gateway.CodeMethodNotAllowed,
			Message: "method not allowed",
			Detail:  c.Request.Method + " is not allowed on " + c.Request.URL.Path + "; allowed: " + allow,
			Hint:    "use " + allow,
		}
	}))
	return e
}

func newServer(deps Deps, opts Options, log *slog.Logger) *Server {
	if opts.BodyLimitBytes <= 0 {
		opts.BodyLimitBytes = 10 << 20
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{deps: deps, opts: opts, cache: opts.Cache, log: log, idempotency: deps.Idempotency, keys: newKeyCheck(deps.Auth), openapi: newOpenAPI()}
	s.observing = s.observers(opts)
	if s.idempotency == nil {
		s.idempotency = gateway.NewMemoryIdempotency(gateway.MemoryIdempotencyMax, gateway.IdempotencyRetention, nil)
	}
	return s
}

// invalidate records a committed write on table in the read cache: the
// table and every table its foreign keys cascade to get a new generation.
// Handlers call it after the commit and before writing the response, so a
// read that starts after the client has the response never finds an entry
// computed before the write. When the tables cannot be resolved, or a
// trigger or rule may have written elsewhere, the whole scope is
// invalidated instead.
func (s *Server) invalidate(ctx context.Context, res Resolution, table gateway.TableRef) {
	if s.cache == nil {
		return
	}
	t, err := res.DB.WriteTables(ctx, table)
	s.cache.Invalidate(ctx, res.Scope, t.Names, err != nil || t.Opaque)
}

// invalidateScope records a write whose tables are unknown (raw SQL, a
// function call): every cached read of the scope becomes unreachable.
func (s *Server) invalidateScope(ctx context.Context, res Resolution) {
	s.cache.Invalidate(ctx, res.Scope, nil, true)
}
