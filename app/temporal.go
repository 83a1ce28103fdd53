package app

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/orchestration"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// TemporalClient supplies the lazy Temporal client; it closes on stop, after
// everything that uses it (fx stops in reverse start order).
func TemporalClient() fx.Option {
	return fx.Module("temporal-client",
		fx.Provide(newTemporalClient),
	)
}

func newTemporalClient(lc fx.Lifecycle, cfg config.Config, log *slog.Logger) (client.Client, error) {
	c, err := orchestration.NewClient(cfg.Temporal, log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(c.Close))
	return c, nil
}

// TemporalWorker runs the worker: one SDK worker per task queue with work,
// each registering only that queue's workflows and activities
// (workflows.Queues). Its start hook returns at once: when Temporal is down
// the worker retries in the background and logs, and the rest of the
// process keeps running.
func TemporalWorker() fx.Option {
	return fx.Module("temporal-worker",
		fx.Provide(newActivities, newTemporalWorker),
		fx.Invoke(func(*orchestration.Worker) {}), // the worker is the point of this module
	)
}

// newActivities hands the activities the client registry. Besides giving SQL
// activities their pools, the dependency orders shutdown: the registry is
// built before the worker, so its pools close after the worker has stopped.
func newActivities(reg *registry.Registry, lim *telemetry.Limiter, cfg config.Config, au *auth.Authenticator, c *cache.Cache, log *slog.Logger) *activities.Activities {
	a := activities.New(orchestration.Identity(), reg)
	a.Telemetry = lim
	if e := newDeferredExecutor(reg, cfg, au, c, log); e != nil {
		a.Deferred = e
	}
	return a
}

func newTemporalWorker(lc fx.Lifecycle, sd fx.Shutdowner, cfg config.Config, c client.Client, acts *activities.Activities, log *slog.Logger) *orchestration.Worker {
	w := orchestration.NewWorker(c, acts, orchestration.WorkerOptions{
		Identity: acts.Identity,
		Pacing:   workerPacing(cfg),
		Log:      log.With("component", "temporal-worker"),
		// The SDK gave up on a worker (e.g. its namespace is gone): end the
		// process with a failure code so the supervisor restarts or alerts.
		OnFatalError: func(error) { _ = sd.Shutdown(fx.ExitCode(1)) },
	})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { return w.Start() },
		OnStop: func(ctx context.Context) error {
			done := make(chan struct{})
			go func() { w.Stop(); close(done) }()
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	return w
}

// workerStopGrace is added to the stop timeout of roles running a worker:
// running activities get orchestration's default StopTimeout to finish.
const workerStopGrace = 15 * time.Second

// Worker is the `athena worker` role: the Temporal worker only.
func Worker(p Params) fx.Option {
	return fx.Options(
		Core(p),
		TemporalClient(),
		TemporalWorker(),
		fx.StopTimeout(workerStopGrace),
		fxLogger(),
	)
}

// Dev is the `athena dev` role: gateway and worker in one process. The
// embedded Temporal server is started by the command before the app and
// stopped after it, so cfg.Temporal points at it.
//
// On stop the HTTP server drains first, then the worker stops, then the
// Temporal client and the client pools close. fx stops hooks in reverse
// order of construction, and the HTTP server depends on the worker when
// there is one (newHTTPServer), so the worker is always built (and its hooks
// appended) before the server, whatever order the modules are listed in.
func Dev(p Params) fx.Option {
	return fx.Options(
		Core(p),
		TemporalClient(),
		TemporalWorker(),
		Gateway(),
		fx.StopTimeout(p.Config.API.ShutdownTimeout+workerStopGrace),
		fxLogger(),
	)
}
