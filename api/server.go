// Package api is Athena's HTTP transport: gin handlers that read a request,
// call the domain and the database adapter, and write the spec's envelopes.
// Every route is listed in routes.go; no handler builds SQL.
package api

import (
	"context"
	"log/slog"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// Clients resolves a client name to its database. *registry.Registry is
// the production implementation.
type Clients interface {
	Lookup(name string) (*postgres.DB, error)
	Names() []string
	Stats() []registry.PoolStat
	clientResolver // direct URIs and wildcard hosts (client.go)
	clientAdmin    // the admin routes (admin_clients.go)
}

// Options configures the HTTP layer.
type Options struct {
	Version        string
	BodyLimitBytes int64
	Limits         gateway.Limits
	// Checks are the dependencies /health reports besides the client
	// databases (Temporal, the logging database, Redis).
	Checks []HealthCheck
	// Auth is the API-key machinery; zero means keys are not configured.
	Auth AuthDeps
	// Metrics, when set, serves /metrics and records every request.
	Metrics *telemetry.Metrics
	// Logs, when set, receives one request log entry per request and one
	// operation log entry per /gateway/* request; nil logs nothing.
	Logs *telemetry.LogWriter
	// Stats, when set, counts every request per client, table and
	// operation (flushed through Temporal).
	Stats *telemetry.Stats
	// Cache is the read cache; nil caches nothing (every fetch answers
	// X-Athena-Cache-Outcome: bypass). Writes invalidate through it.
	Cache *cache.Cache
	// StatsRefresh starts the StatsRefresh workflow for POST
	// /admin/clients/statistics/refresh; nil (no Temporal) answers 503.
	StatsRefresh StatsRefresher
	// TrustedProxies lists the addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For / X-Real-IP name the client in the request log. Empty
	// (the default) trusts none: the logged address is the peer's, which
	// a client cannot forge (gin's own default trusts every peer).
	TrustedProxies []string
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
	clients Clients
	opts    Options
	cache   *cache.Cache
	log     *slog.Logger
	routes  []route
	// fetchMemo skips decoding repeated fetch bodies (fetchmemo.go).
	fetchMemo fetchMemo
	*keyAuth
}

// New builds the gin engine with every route and middleware registered.
func New(clients Clients, opts Options, log *slog.Logger) *gin.Engine {
	if opts.BodyLimitBytes <= 0 {
		opts.BodyLimitBytes = 10 << 20
	}
	s := &Server{clients: clients, opts: opts, cache: opts.Cache, log: log, keyAuth: newKeyAuth(opts.Auth, log)}
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(opts.TrustedProxies); err != nil {
		// config validates the list; trust nobody rather than everybody.
		log.Error("api.trusted_proxies is invalid; trusting no proxy", "err", err)
		_ = e.SetTrustedProxies(nil)
	}
	e.Use(s.requestID, s.observe, s.recoverPanic)
	s.registerRoutes(e)
	e.NoRoute(func(c *gin.Context) {
		writeError(c, s.log, "route", gateway.Errorf(gateway.CodeNotFound, "no route for %s %s", c.Request.Method, c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		writeError(c, s.log, "route", &gateway.Error{Code: gateway.CodeNotFound, Message: "method not allowed", Detail: c.Request.Method + " is not allowed on " + c.Request.URL.Path})
	})
	return e
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
