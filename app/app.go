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
		fx.Supply(p.Config, p.Logger),
		fx.Provide(newRegistry, newRedis, newAuth, newCache, newTelemetryLimiter),
	)
}

// newRegistry builds the client registry. Start migrates the logging
// database (migrate_on_start), syncs the file clients into it, loads the
// database clients and starts the LISTEN/poll loops; it never blocks past
// the start deadline, and a down logging database only logs and retries.
func newRegistry(lc fx.Lifecycle, cfg config.Config, log *slog.Logger) *registry.Registry {
	r := registry.New(cfg, log)
	lc.Append(fx.Hook{OnStart: r.Start, OnStop: func(context.Context) error { r.Close(); return nil }}) // stop hook name: newRegistry
	return r
}

// newTelemetryLimiter is the process's one limit on background telemetry
// work (telemetry.background_tasks slots): the log writer's COPYs and
// retention deletes and, in a worker, the statistics activities share it.
func newTelemetryLimiter(cfg config.Config) *telemetry.Limiter {
	return telemetry.NewLimiter(cfg.Telemetry.BackgroundTasks)
}

// newAuth builds the API-key authenticator over the logging database (nil
// store when the control plane is off: gateway routes run anonymously and
// only the admin key is recognised).
func newAuth(lc fx.Lifecycle, reg *registry.Registry, log *slog.Logger) api.AuthDeps {
	var store auth.Store
	var keys *postgres.KeyStore
	if pool := reg.ControlPlane(); pool != nil {
		keys = postgres.NewKeyStore(pool)
		store = keys
	}
	a := auth.New(store, auth.Options{AdminKey: auth.AdminKeyFromEnv(os.Getenv), Logger: log.With("component", "auth")})
	lc.Append(fx.StopHook(a.Close))
	return api.AuthDeps{Auth: a, Keys: keys}
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
func Gateway(version string) fx.Option {
	return fx.Module("gateway",
		fx.Provide(
			func(reg *registry.Registry, authDeps api.AuthDeps, tc client.Client, rc *redis.Client, rcache *cache.Cache, metrics *telemetry.Metrics, wfc *workflowCounters, logs *telemetry.LogWriter, stats *telemetry.Stats, cfg config.Config, log *slog.Logger) *gin.Engine {
				lim := gateway.DefaultLimits()
				lim.MaxInsertRows = cfg.Gateway.MaxInsertRows
				lim.MaxLimit = cfg.Gateway.MaxLimit
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
				// POST /admin/clients/statistics/refresh starts (or joins) the
				// StatsRefresh workflow; a worker runs the rebuild.
				refresh := func(ctx context.Context) (api.StatsRefreshRun, error) {
					run, err := tc.ExecuteWorkflow(ctx, workflows.StatsRefreshStartOptions(), workflows.StatsRefresh, workflows.StatsRefreshInput{})
					wfc.count("StatsRefresh", err)
					return run, err
				}
				return api.New(reg, api.Options{Version: version, BodyLimitBytes: cfg.API.BodyLimitBytes, Limits: lim, Checks: checks, Auth: authDeps, Cache: rcache, Metrics: metrics, Logs: logs, Stats: stats, StatsRefresh: refresh, TrustedProxies: cfg.API.TrustedProxies}, log)
			},
			newHTTPServer,
			newMetrics,
			newWorkflowCounters,
			newStats,
			newLogWriter,
		),
		fx.Invoke(func(*http.Server) {}), // the server is the point of this role
	)
}

// newLogWriter builds the request/operation log writer on a dedicated
// logging pool: the control-plane client's settings with
// telemetry.log_pool_max_conns connections, so log COPYs never take a
// connection from a tenant pool or from the API-key lookups, and with
// synchronous_commit off (postgres.LogPoolConfig says why). Nil (nothing
// is logged) when the control plane is off or telemetry.enabled is false.
// Its stop hook runs after the HTTP server has drained (it is appended
// first), writes what is queued within the stop deadline, then closes the
// pool.
func newLogWriter(lc fx.Lifecycle, reg *registry.Registry, cfg config.Config, lim *telemetry.Limiter, metrics *telemetry.Metrics, log *slog.Logger) (*telemetry.LogWriter, error) {
	cp := reg.ControlPlane()
	if cp == nil || !cfg.Telemetry.Enabled {
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
	if retention == 0 {
		retention = -1 // keep forever
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

// newHTTPServer binds the listener in OnStart (so "port already in use" is a
// start error, not a hang) and serves in a goroutine; OnStop drains.
func newHTTPServer(lc fx.Lifecycle, cfg config.Config, engine *gin.Engine, log *slog.Logger) *http.Server {
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
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", addr, err)
			}
			log.Info("gateway listening", "addr", ln.Addr().String())
			go func() {
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					log.Error("http server stopped", "err", err)
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			log.Info("draining http server")
			return srv.Shutdown(ctx)
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
		Gateway(p.Version),
		fx.StopTimeout(p.Config.API.ShutdownTimeout+5*time.Second),
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
	)
}
