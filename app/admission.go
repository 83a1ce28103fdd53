package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/athena-gateway/athena/admission"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/telemetry"
)

// newAdmission builds the admission limiter (nil when admission.enabled is
// false: the request path then never consults it). Rates are shared
// through Redis when one is configured. With a logging database its start
// hook loads the per-client limits stored there and a loop re-reads them
// every admission.reload_interval (a change made through another
// process's admin route); a failed read keeps the limits in force.
func newAdmission(lc fx.Lifecycle, cfg config.Config, rc *redis.Client, stores controlStores, metrics *telemetry.Metrics, log *slog.Logger) *admission.Limiter {
	ac := cfg.Admission
	if !ac.Enabled {
		return nil
	}
	clients := make(map[string]admission.Limit, len(ac.Clients))
	for n, l := range ac.Clients {
		clients[n] = admissionLimit(l)
	}
	lim := admission.New(admission.Options{
		Global:        admissionLimit(ac.Global),
		ClientDefault: admissionLimit(ac.ClientDefault),
		Clients:       clients,
		Redis:         rc,
		Prefix:        ac.RedisPrefix,
		Chunk:         ac.RedisChunk,
		RedisTimeout:  ac.RedisTimeout,
		RedisRetry:    ac.RedisRetry,
		Logger:        log.With("component", "admission"),
	})
	registerAdmissionMetrics(metrics, lim)
	log.Info("admission limiter on", "shared_through_redis", rc != nil, "global", ac.Global, "client_default", ac.ClientDefault)
	if stores.Admission == nil {
		return lim
	}
	reload := func(ctx context.Context) {
		docs, err := stores.Admission.ClientAdmissions(ctx)
		if err != nil {
			log.Warn("admission: cannot read the per-client limits; keeping those in force", "err", err)
			return
		}
		m := make(map[string]admission.Limit, len(docs))
		for name, doc := range docs {
			l, err := admission.ParseLimit(doc)
			if err != nil {
				log.Warn("admission: ignoring an invalid stored limit", "client", name, "err", err)
				continue
			}
			m[name] = l
		}
		lim.ReplaceOverrides(m)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			reload(ctx) // bounded by the start deadline; a failure only logs
			go func() {
				defer close(done)
				t := time.NewTicker(ac.ReloadInterval)
				defer t.Stop()
				for {
					select {
					case <-stop:
						return
					case <-t.C:
						ctx, cancel := context.WithTimeout(context.Background(), ac.ReloadInterval)
						reload(ctx)
						cancel()
					}
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			close(stop)
			select {
			case <-done:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		},
	})
	return lim
}

func admissionLimit(l config.AdmissionLimit) admission.Limit {
	return admission.Limit{RPS: l.RPS, Burst: l.Burst, MaxInFlight: l.MaxInFlight}
}

// registerAdmissionMetrics exposes the limiter's decisions and state.
func registerAdmissionMetrics(m *telemetry.Metrics, lim *admission.Limiter) {
	m.AddCounters("athena_admission_decisions_total", "Admission decisions by client, decision (admitted, deferred, rejected) and reason.",
		[]string{"client", "decision", "reason"}, func() []telemetry.Sample {
			ds := lim.Decisions()
			out := make([]telemetry.Sample, len(ds))
			for i, d := range ds {
				out[i] = telemetry.Sample{Labels: []string{d.Client, string(d.Decision), string(d.Reason)}, Value: float64(d.N)}
			}
			return out
		})
	m.AddGauges("athena_admission_in_flight", "Requests in flight in this process per client with an in-flight cap (client \"\" is the global count).",
		[]string{"client"}, func() []telemetry.Sample {
			clients, global := lim.InFlight()
			out := make([]telemetry.Sample, 0, len(clients)+1)
			out = append(out, telemetry.Sample{Labels: []string{""}, Value: float64(global)})
			for c, n := range clients {
				out = append(out, telemetry.Sample{Labels: []string{c}, Value: float64(n)})
			}
			return out
		})
	m.AddCounters("athena_admission_redis_failures_total", "Redis calls of the admission limiter that failed (each makes the rates per process for admission.redis_retry).",
		nil, func() []telemetry.Sample { return []telemetry.Sample{{Value: float64(lim.Fallbacks())}} })
	m.AddGauges("athena_admission_shared", "1 while the admission rates are shared through Redis, 0 while they are per process.",
		nil, func() []telemetry.Sample {
			if lim.Shared() {
				return []telemetry.Sample{{Value: 1}}
			}
			return []telemetry.Sample{{Value: 0}}
		})
}
