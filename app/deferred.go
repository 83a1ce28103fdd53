package app

import (
	"context"
	"log/slog"

	"go.temporal.io/sdk/client"

	"github.com/athena-gateway/athena/api"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/orchestration"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/workflows"
)

// deferredQueue starts DeferredRequest workflows for the gateway (spec §5).
type deferredQueue struct {
	tc  client.Client
	wfc *workflowCounters
}

func newDeferredQueue(tc client.Client, wfc *workflowCounters) api.DeferredQueue {
	return deferredQueue{tc: tc, wfc: wfc}
}

func (q deferredQueue) WorkflowID(id string) string { return workflows.DeferredID(id) }

func (q deferredQueue) StartDeferred(ctx context.Context, id string, requeue bool) error {
	err := workflows.StartDeferred(ctx, q.tc, id, requeue)
	q.wfc.count("DeferredRequest", err)
	return err
}

// newDeferredExecutor is what a worker runs deferred requests with: the
// gateway's own engine (api.Executor) over the registry, with key rights
// checked as the gateway checks them and writes invalidating the read
// cache. Nil without a logging database (no deferred request exists).
func newDeferredExecutor(reg *registry.Registry, cfg config.Config, a *auth.Authenticator, c *cache.Cache, log *slog.Logger) *api.Executor {
	if reg.ControlPlane() == nil {
		return nil
	}
	lim := gateway.DefaultLimits()
	lim.MaxInsertRows = cfg.Gateway.MaxInsertRows
	lim.MaxLimit = cfg.Gateway.MaxLimit
	return api.NewExecutor(api.Deps{Clients: reg, Auth: a}, api.Options{
		Version: "worker", BodyLimitBytes: cfg.API.BodyLimitBytes, Limits: lim, Cache: c,
	}, log.With("component", "deferred"))
}

// workerPacing paces the deferred queue from the deferred section.
func workerPacing(cfg config.Config) map[string]orchestration.Pacing {
	return map[string]orchestration.Pacing{
		workflows.TaskQueueDeferred: {
			MaxConcurrentActivities: cfg.DeferredSlots(),
			ActivitiesPerSecond:     cfg.Deferred.ActivitiesPerSecond,
		},
	}
}
