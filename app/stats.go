package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
	"github.com/athena-gateway/athena/workflows"
)

// newStats builds the per-process statistics aggregator. Every interval it
// starts a StatsFlush workflow carrying only the deltas; the activity
// applies them exactly once in the logging database. While Temporal is
// down the deltas stay in memory (bounded) and go with a later flush. Nil
// (nothing counted) without a logging database or with telemetry off.
func newStats(lc fx.Lifecycle, reg *registry.Registry, tc client.Client, cfg config.Config, metrics *telemetry.Metrics, log *slog.Logger) *telemetry.Stats {
	if reg.ControlPlane() == nil || !cfg.Telemetry.Enabled {
		return nil
	}
	starts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "athena_temporal_workflow_starts_total",
		Help: "Workflows this process started, by workflow type.",
	}, []string{"workflow"})
	failures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "athena_temporal_workflow_failures_total",
		Help: "Workflow starts that failed (Temporal unreachable), by workflow type.",
	}, []string{"workflow"})
	metrics.Registry.MustRegister(starts, failures)
	const wf = "StatsFlush"
	s := telemetry.NewStats(telemetry.StatsOptions{
		Log: log.With("component", "stats"),
		Flush: func(ctx context.Context, id string, d telemetry.StatsDelta) error {
			_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID:        workflows.StatsFlushID(id),
				TaskQueue: workflows.TaskQueueStats,
			}, workflows.StatsFlush, workflows.StatsFlushInput{FlushID: id, Delta: d})
			if err != nil {
				failures.WithLabelValues(wf).Inc()
				return err
			}
			starts.WithLabelValues(wf).Inc() // started; the worker applies it
			return nil
		},
	})
	metrics.AddGauges("athena_stats_pending_keys", "Statistics keys held in memory, not yet flushed.", nil, func() []telemetry.Sample {
		p := s.Pending()
		return []telemetry.Sample{{Value: float64(len(p.Clients) + len(p.Tables))}}
	})
	lc.Append(fx.StopHook(s.Close))
	return s
}
