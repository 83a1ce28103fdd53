// Package app is the fx composition root: the only package that imports fx.
// Each process role (serve, and later worker and dev) is a set of modules
// assembled here from the plain constructors of the other packages.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.temporal.io/sdk/client"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/athena-gateway/athena/admission"
	"github.com/athena-gateway/athena/api"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/orchestration"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
	"github.com/athena-gateway/athena/workflows"
)

// Params is what every role starts from: the loaded configuration, the
// build version and the process logger.
type Params struct {
	Config  config.Config
	Version string
	Logger  *slog.Logger
}

// Core supplies the configuration and the client registry (pools close on
// stop, after the HTTP server has drained because fx stops in reverse
// start order).
func Core(p Params) fx.Option {
	return fx.Module("core",
		fx.Supply(p.Config, p.Logger, version(p.Version)),
		fx.Provide(newRegistry, newControlStores, newRedis, newAuth, newCache, newTelemetryLimiter),
	)
}

// version is the build version, for the HTTP banner.
type version string

// newRegistry builds the client registry. Its first start hook migrates
// the logging database (migrate_on_start); the second syncs the file
// clients into it, loads the database clients and starts the LISTEN/poll
// loops. Neither blocks past the start deadline, and a down logging
// database only logs: the registry retries (migrating first) until it
// answers.
func newRegistry(lc fx.Lifecycle, cfg config.Config, log *slog.Logger) *registry.Registry {
	r := registry.New(cfg, log)
	lc.Append(fx.StartHook(func(ctx context.Context) error {
		err := r.Migrate(ctx)
		if err != nil && backendDown(err) {
			log.Warn("logging database unreachable: migrations wait for it", "err", postgres.MapError(err).Message)
			return nil
		}
		return err
	}))
	lc.Append(fx.Hook{OnStart: r.Start, OnStop: func(context.Context) error { r.Close(); return nil }}) // stop hook name: newRegistry
	return r
}

// backendDown reports an error that means "the database is not answering".
func backendDown(err error) bool {
	return postgres.MapError(err).Code == gateway.CodeBackendUnavailable || errors.Is(err, context.DeadlineExceeded)
}

// controlStores are the stores of the logging database, built once; all
// nil when the control plane is off.
type controlStores struct {
	Keys        *postgres.KeyStore
	Stats       *postgres.StatsStore
	Idempotency *postgres.TransactionResults
	Audit       *postgres.AuditStore
	Deferred    *postgres.DeferredStore
	Admission   *postgres.AdmissionStore
}

func newControlStores(reg *registry.Registry) controlStores {
	pool := reg.ControlPlane()
	if pool == nil {
		return controlStores{}
	}
	return controlStores{
		Keys:        postgres.NewKeyStore(pool),
		Stats:       postgres.NewStatsStore(pool),
		Idempotency: postgres.NewTransactionResults(pool, 0),
		Audit:       postgres.NewAuditStore(pool),
		Deferred:    postgres.NewDeferredStore(pool),
		Admission:   postgres.NewAdmissionStore(pool),
	}
}

// newTelemetryLimiter is the process's one limit on background telemetry
// work (telemetry.background_tasks slots): the log writer's COPYs and
// retention deletes and, in a worker, the statistics activities share it.
func newTelemetryLimiter(cfg config.Config) *telemetry.Limiter {
	return telemetry.NewLimiter(cfg.Telemetry.BackgroundTasks)
}

// newAuth builds the API-key authenticator over the logging database (nil
// store when the control plane is off: no tenant key exists and only the
// admin key is recognised). Keys are required unless api_keys.required is
// false (spec §1.2: secure by default); athena dev sets that for its
// loopback-only demo. Its start hook logs the mode once.
func newAuth(lc fx.Lifecycle, cfg config.Config, stores controlStores, log *slog.Logger) *auth.Authenticator {
	var store auth.Store
	if stores.Keys != nil {
		store = stores.Keys
	}
	a := auth.New(store, auth.Options{
		AdminKey:     auth.AdminKeyFromEnv(os.Getenv),
		KeysOptional: !cfg.APIKeys.KeysRequired(true),
		Logger:       log.With("component", "auth"),
	})
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			// Bounded by the lookup timeout; a down logging database only
			// changes the reason logged.
			if required, why := a.Mode(ctx); required {
				log.Info("API keys required for tenant requests", "why", why)
			} else {
				log.Info("API keys NOT required: tenant requests without a key run anonymously with every right", "why", why)
			}
			return nil
		},
		OnStop: func(context.Context) error { a.Close(); return nil },
	})
	return a
}

// newRedis opens the optional Redis client; nil when redis.url is empty.
func newRedis(lc fx.Lifecycle, cfg config.Config) (*redis.Client, error) {
	if cfg.Redis.URL == "" {
		return nil, nil
	}
	c, err := cache.NewRedis(cfg.Redis.URL)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(c.Close))
	return c, nil
}

// newCache builds the read cache from the cache section over the optional
// Redis client (nil: process-local); nil when cache.enabled is false. Start
// runs the invalidation subscriber and the Redis recovery probe; it is
// appended after newRedis's stop hook, so on stop it ends before the Redis
// client closes.
func newCache(lc fx.Lifecycle, cfg config.Config, rc *redis.Client, log *slog.Logger) (*cache.Cache, error) {
	if !cfg.Cache.Enabled {
		return nil, nil
	}
	clients := make(map[string]cache.ClientOptions, len(cfg.Cache.Clients))
	for name, cc := range cfg.Cache.Clients {
		clients[name] = cache.ClientOptions{
			Disabled: cc.Enabled != nil && !*cc.Enabled,
			TTL:      cc.TTL,
			RedisTTL: cc.RedisTTL,
		}
	}
	c, err := cache.New(cache.Options{
		TTL:      cfg.Cache.TTL,
		MaxBytes: cfg.Cache.MaxBytes,
		RedisTTL: cfg.Cache.RedisTTL,
		Clients:  clients,
		Redis:    rc,
		Logger:   log.With("component", "cache"),
	})
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{OnStart: c.Start, OnStop: c.Close})
	return c, nil
}

// Gateway serves the HTTP API.
func Gateway() fx.Option {
	return fx.Module("gateway",
		fx.Provide(
			newAPIDeps,
			newAPIOptions,
			newHealthChecks,
			newStatsRefresher,
			newDeferredQueue,
			newEngine,
			newHTTPServer,
			newMetrics,
			newWorkflowCounters,
			newStats,
			newLogWriter,
			newAdmission,
		),
		fx.Invoke(func(*http.Server) {}), // the server is the point of this role
	)
}

// newAPIDeps hands api one small interface per consumer, over the
// registry and the stores built once in Core. A store that is nil (no
// logging database) leaves its feature out.
func newAPIDeps(reg *registry.Registry, stores controlStores, a *auth.Authenticator, refresh api.StatsRefresher, queue api.DeferredQueue) api.Deps {
	d := api.Deps{Clients: reg, ClientAdmin: reg, HostRoutes: reg, Auth: a, StatsRefresh: refresh}
	if stores.Deferred != nil {
		// Deferred requests need both the store (the logging database) and
		// the queue (Temporal, lazily connected).
		d.Deferred, d.DeferredQueue = stores.Deferred, queue
	}
	if stores.Keys != nil {
		d.APIKeys = stores.Keys
	}
	if stores.Stats != nil {
		d.Stats = stores.Stats
	}
	if stores.Idempotency != nil {
		d.Idempotency = stores.Idempotency
	}
	if stores.Audit != nil {
		d.Audit = stores.Audit
	}
	if stores.Admission != nil {
		d.Admission = stores.Admission
	}
	return d
}

// apiTelemetry is what the HTTP layer records into (each nil when off).
type apiTelemetry struct {
	fx.In
	Metrics *telemetry.Metrics
	Logs    *telemetry.LogWriter
	Stats   *telemetry.Stats
	Cache   *cache.Cache
	// Admission is the limiter; nil when admission is off.
	Admission *admission.Limiter
}

// newAPIOptions configures the HTTP layer from the configuration.
func newAPIOptions(cfg config.Config, v version, checks []api.HealthCheck, tel apiTelemetry) api.Options {
	lim := gateway.DefaultLimits()
	lim.MaxInsertRows = cfg.Gateway.MaxInsertRows
	lim.MaxLimit = cfg.Gateway.MaxLimit
	if !cfg.Telemetry.Metrics {
		// The registry still exists (pools, cache and the log writer report
		// into it), but no request is recorded and nothing serves it.
		tel.Metrics = nil
	}
	opts := api.Options{
		Version: string(v), BodyLimitBytes: cfg.API.BodyLimitBytes, Limits: lim, Checks: checks,
		Cache: tel.Cache, Metrics: tel.Metrics, Logs: tel.Logs, Stats: tel.Stats,
		// The admin audit trail is not telemetry: it is written whenever
		// there is a logging database.
		Audit:                tel.Logs,
		TrustedProxies:       cfg.API.TrustedProxies,
		DeferredRetryAfter:   cfg.Deferred.RetryAfter,
		DeferredStartTimeout: cfg.Deferred.StartTimeout,
		// Decisions are recorded whenever there is a logging database, like
		// the audit trail: they explain answers clients got.
		Admission:             tel.Admission,
		AdmissionEvents:       tel.Logs,
		AdmissionSkipAdmitted: !cfg.Admission.RecordAdmitted,
	}
	if !cfg.Telemetry.Enabled {
		opts.Logs = nil
	}
	return opts
}

// newHealthChecks lists the dependencies /health reports besides the
// client databases.
func newHealthChecks(reg *registry.Registry, tc client.Client, rc *redis.Client) []api.HealthCheck {
	checks := []api.HealthCheck{
		// Not required: the synchronous routes work without Temporal.
		{Name: "temporal", Check: func(ctx context.Context) error { return orchestration.CheckHealth(ctx, tc) }},
	}
	if pool := reg.ControlPlane(); pool != nil {
		// Required: API keys and the registry live there.
		checks = append(checks, api.HealthCheck{Name: "logging_database", Required: true, Check: pool.Ping})
	}
	if rc != nil {
		// Optional: without Redis the cache is process-local.
		checks = append(checks, api.HealthCheck{Name: "redis", Check: func(ctx context.Context) error { return cache.Ping(ctx, rc) }})
	}
	return checks
}

// statsRefresher starts (or joins) the StatsRefresh workflow for POST
// /admin/clients/statistics/refresh; a worker runs the rebuild.
type statsRefresher struct {
	tc  client.Client
	wfc *workflowCounters
}

func newStatsRefresher(tc client.Client, wfc *workflowCounters) api.StatsRefresher {
	return statsRefresher{tc: tc, wfc: wfc}
}

func (r statsRefresher) StartStatsRefresh(ctx context.Context) (api.StatsRefreshRun, error) {
	run, err := r.tc.ExecuteWorkflow(ctx, workflows.StatsRefreshStartOptions(), workflows.StatsRefresh, workflows.StatsRefreshInput{})
	r.wfc.count("StatsRefresh", err)
	return run, err
}

// newEngine builds the HTTP handler.
func newEngine(deps api.Deps, opts api.Options, log *slog.Logger) *gin.Engine {
	return api.New(deps, opts, log)
}

// newLogWriter builds the request/operation log writer on a dedicated
// logging pool: the control-plane client's settings with
// telemetry.log_pool_max_conns connections, so log COPYs never take a
// connection from a tenant pool or from the API-key lookups, and with
// synchronous_commit off (postgres.LogPoolConfig says why). Nil (nothing
// is logged) when the control plane is off. With telemetry.enabled false
// it carries only the admin audit trail (newAPIOptions gives api no
// request logger) and runs no retention job.
// Its stop hook runs after the HTTP server has drained (it is appended
// first), writes what is queued within the stop deadline, then closes the
// pool.
func newLogWriter(lc fx.Lifecycle, reg *registry.Registry, cfg config.Config, lim *telemetry.Limiter, metrics *telemetry.Metrics, log *slog.Logger) (*telemetry.LogWriter, error) {
	cp := reg.ControlPlane()
	if cp == nil {
		return nil, nil
	}
	appName := "athena-logs"
	if n := cp.Config().ConnConfig.RuntimeParams["application_name"]; n != "athena-control-plane" {
		appName = n // the operator named the control plane's sessions
	}
	pc := postgres.LogPoolConfig(cp.Config(), cfg.Telemetry.LogPoolMaxConns, appName)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc) // connects lazily
	if err != nil {
		return nil, fmt.Errorf("logging pool: %w", err)
	}
	retention := cfg.Telemetry.LogRetention
	if retention == 0 || !cfg.Telemetry.Enabled {
		retention = -1 // keep forever; without telemetry, leave the logs alone
	}
	w := telemetry.NewLogWriter(postgres.NewLogStore(pool), telemetry.LogOptions{
		QueueSize:     cfg.Telemetry.LogQueueSize,
		BatchSize:     cfg.Telemetry.LogBatchSize,
		FlushInterval: cfg.Telemetry.LogFlushInterval,
		Retention:     retention,
		Limiter:       lim,
	}, metrics, log.With("component", "logs"))
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { w.Start(); return nil },
		OnStop: func(ctx context.Context) error {
			err := w.Close(ctx)
			pool.Close()
			return err
		},
	})
	return w, nil
}

// httpServerIn is what the HTTP server depends on.
type httpServerIn struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Shutdowner fx.Shutdowner
	Config     config.Config
	Engine     *gin.Engine
	Log        *slog.Logger
	// Worker, in a role that runs one (dev), is built before the server:
	// fx stops hooks in reverse order of construction, so on stop the
	// server drains before the worker stops.
	Worker *orchestration.Worker `optional:"true"`
}

// listen opens the HTTP listener; tests replace it.
var listen = net.Listen

// newHTTPServer binds the listener in OnStart (so "port already in use" is a
// start error, not a hang) and serves in a goroutine; OnStop drains.
//
// A Serve that fails (anything but the drain) ends the process with exit
// code 1 through sd: a gateway without its HTTP server must not keep
// running.
func newHTTPServer(in httpServerIn) *http.Server {
	lc, sd, cfg, engine, log := in.Lifecycle, in.Shutdowner, in.Config, in.Engine, in.Log
	addr := net.JoinHostPort(cfg.API.Host, strconv.Itoa(cfg.API.Port))
	srv := &http.Server{
		Addr:              addr,
		Handler:           engine,
		ReadHeaderTimeout: cfg.API.ReadHeaderTimeout,
		ReadTimeout:       cfg.API.ReadTimeout,
		WriteTimeout:      cfg.API.WriteTimeout,
		IdleTimeout:       cfg.API.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			ln, err := listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			maxConns := cfg.API.MaxConnections
			soft, hard, ferr := fdLimit()
			if maxConns == 0 {
				maxConns = 1024
				if ferr == nil {
					maxConns = defaultMaxConnections(soft)
				}
			}
			if ferr != nil {
				log.Warn("cannot read the file descriptor limit", "err", ferr)
			} else if uint64(maxConns) >= soft {
				log.Warn("api.max_connections is not below the file descriptor limit: descriptors may run out before the cap answers 503", "max_connections", maxConns, "fd_limit", soft)
			}
			ln = newLimitListener(ln, maxConns)
			log.Info("gateway listening", "addr", ln.Addr().String(), "max_connections", maxConns, "fd_limit", soft, "fd_limit_hard", hard)
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", "err", err)
					_ = sd.Shutdown(fx.ExitCode(1))
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			// The drain gets api.shutdown_timeout, not the whole stop budget:
			// the hooks after it (statistics, log flush, pool close) need
			// the rest. Requests still running then are cut off.
			log.Info("draining http server", "timeout", cfg.API.ShutdownTimeout)
			dctx, cancel := context.WithTimeout(ctx, cfg.API.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(dctx); err != nil {
				log.Warn("http drain timed out: closing the connections still open", "err", err)
				_ = srv.Close()
			}
			return nil
		},
	})
	return srv
}

// Serve is the `athena serve` role: the HTTP gateway only. It holds a lazy
// Temporal client (for deferred work and health) but runs no worker.
func Serve(p Params) fx.Option {
	return fx.Options(
		Core(p),
		TemporalClient(),
		Gateway(),
		fx.StopTimeout(p.Config.API.ShutdownTimeout+5*time.Second),
		fxLogger(),
	)
}

// fxLogger logs fx's own events (providers, hooks, their durations and
// failures) through the process logger, at debug level for the routine
// ones (fxevent.SlogLogger).
func fxLogger() fx.Option {
	return fx.WithLogger(func(l *slog.Logger) fxevent.Logger {
		fl := &fxevent.SlogLogger{Logger: l.With("component", "fx")}
		fl.UseLogLevel(slog.LevelDebug) // failures stay at error level
		return fl
	})
}
