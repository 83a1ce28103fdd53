package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
	"go.uber.org/fx"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
	"github.com/athena-gateway/athena/workflows"
)

// workflowCounters count the workflows this gateway process starts.
type workflowCounters struct {
	starts, failures *prometheus.CounterVec
}

func newWorkflowCounters(metrics *telemetry.Metrics) *workflowCounters {
	c := &workflowCounters{
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "athena_temporal_workflow_starts_total",
			Help: "Workflows this process started, by workflow type.",
		}, []string{"workflow"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "athena_temporal_workflow_failures_total",
			Help: "Workflow starts that failed (Temporal unreachable), by workflow type.",
		}, []string{"workflow"}),
	}
	metrics.Registry.MustRegister(c.starts, c.failures)
	return c
}

// count records the outcome of one start of workflow.
func (c *workflowCounters) count(workflow string, err error) {
	if err != nil {
		c.failures.WithLabelValues(workflow).Inc()
		return
	}
	c.starts.WithLabelValues(workflow).Inc()
}

// newStats builds the per-process statistics aggregator. Every interval it
// starts a StatsFlush workflow carrying only the deltas; the activity
// applies them exactly once in the logging database. While Temporal is
// down the deltas stay in memory (bounded) and go with a later flush. Nil
// (nothing counted) without a logging database or with telemetry off.
func newStats(lc fx.Lifecycle, reg *registry.Registry, tc client.Client, cfg config.Config, metrics *telemetry.Metrics, wfc *workflowCounters, log *slog.Logger) *telemetry.Stats {
	if reg.ControlPlane() == nil || !cfg.Telemetry.Enabled {
		return nil
	}
	const wf = "StatsFlush"
	s := telemetry.NewStats(telemetry.StatsOptions{
		Interval: cfg.Telemetry.StatsInterval,
		MaxKeys:  cfg.Telemetry.StatsMaxKeys,
		Log:      log.With("component", "stats"),
		Flush: func(ctx context.Context, id string, d gateway.StatsDelta) error {
			_, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID:        workflows.StatsFlushID(id),
				TaskQueue: workflows.TaskQueueStats,
			}, workflows.StatsFlush, workflows.StatsFlushInput{FlushID: id, Delta: d})
			wfc.count(wf, err) // started (the worker applies it) or failed
			return err
		},
		// At shutdown without Temporal: the activity's own transaction,
		// exactly once per flush id whichever path applies it.
		Direct: func(ctx context.Context, id string, d gateway.StatsDelta) error {
			_, err := postgres.NewStatsStore(reg.ControlPlane()).Apply(ctx, id, d)
			return err
		},
	})
	metrics.AddGauges("athena_stats_pending_keys", "Statistics keys held in memory, not yet flushed.", nil, func() []telemetry.Sample {
		p := s.Pending()
		return []telemetry.Sample{{Value: float64(len(p.Clients) + len(p.Tables))}}
	})
	metrics.AddCounters("athena_stats_dropped_total", "Statistics records dropped because stats_max_keys counters were already held.", nil, func() []telemetry.Sample {
		return []telemetry.Sample{{Value: float64(s.Dropped())}}
	})
	lc.Append(fx.StopHook(s.Close))
	return s
}
