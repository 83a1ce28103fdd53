package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/pprof"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/api"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// server is an engine served by net/http on a loopback port, as in
// production: the HTTP scenarios go through real sockets, not httptest
// recorders.
type server struct {
	srv  *http.Server
	url  string
	done chan struct{}
}

// serve serves h. Its connections' goroutines carry the pprof label
// engine=name, so a -cpuprofile splits by engine (go tool pprof
// -tagfocus 'engine=g)').
func serve(name string, h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	s := &server{srv: &http.Server{Handler: h}, url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	go pprof.Do(context.Background(), pprof.Labels("engine", name), func(context.Context) {
		defer close(s.done)
		_ = s.srv.Serve(ln) // ends with ErrServerClosed on close
	})
	return s, nil
}

// close stops the server and waits for its goroutine.
func (s *server) close(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// openPool opens the pool used by the fixture, the direct scenario and the
// floor, sized like Athena's so b) and c) compete on equal terms.
func openPool(ctx context.Context, dbURL string, maxConns int32) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	pc.MaxConns = maxConns
	pc.ConnConfig.RuntimeParams["application_name"] = "athena-bench"
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// athena builds full gateways the way app/ does, over one registry holding
// the one client "bench". Engines c) to g) share it, so they read through
// the same pool and differ only in API-key enforcement (d), the read cache
// (e) and telemetry (f, g). The caller closes the registry.
type athena struct {
	reg  *registry.Registry
	opts api.Options
	log  *slog.Logger
}

func newAthena(dbURL string, maxConns int32, insertRows int, log *slog.Logger) athena {
	cfg := config.Default()
	cfg.Postgres.MaxConns = maxConns
	cfg.Gateway.MaxInsertRows = max(cfg.Gateway.MaxInsertRows, insertRows)
	// The bench's tables live in benchSchema, which must be exposed
	// (spec §1.1: only exposed schemas are reachable).
	cfg.Clients = map[string]config.Client{benchClient: {URI: dbURL, ExposedSchemas: []string{benchSchema}}}
	reg := registry.New(cfg, log)

	lim := gateway.DefaultLimits()
	lim.MaxInsertRows = cfg.Gateway.MaxInsertRows
	lim.MaxLimit = cfg.Gateway.MaxLimit
	// Metrics are on, as in production: recording them is part of the
	// per-request cost being measured.
	opts := api.Options{Version: "bench", BodyLimitBytes: cfg.API.BodyLimitBytes, Limits: lim, Metrics: telemetry.NewMetrics()}
	return athena{reg: reg, opts: opts, log: log}
}

// engine builds one gateway; zero deps means no key store (scenario c),
// as in production without a logging database. It has no read cache.
func (a athena) engine(deps api.Deps) *gin.Engine {
	return a.engineWith(a.reg, deps, nil)
}

// engineTelemetry builds c)'s gateway (no keys, no read cache, same
// registry) with tel in place of c)'s metrics-only telemetry: zero is
// every telemetry off (scenario f), all three set is production's full
// telemetry (scenario g).
func (a athena) engineTelemetry(tel telemetryDeps) *gin.Engine {
	return api.New(api.Deps{Clients: a.reg}, a.telemetryOptions(tel), a.log)
}

// telemetryOptions are the api.Options of engineTelemetry.
func (a athena) telemetryOptions(tel telemetryDeps) api.Options {
	opts := a.opts
	opts.Metrics, opts.Logs, opts.Stats = tel.Metrics, tel.Logs, tel.Stats
	return opts
}

// engineWith builds a gateway over clients with read cache c (nil: none).
func (a athena) engineWith(clients api.ClientLookup, deps api.Deps, c *cache.Cache) *gin.Engine {
	opts := a.opts
	deps.Clients = clients
	opts.Cache = c
	return api.New(deps, opts, a.log)
}
