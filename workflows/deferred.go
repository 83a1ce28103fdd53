package workflows

import (
	"context"
	"errors"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/athena-gateway/athena/activities"
)

// DeferredInput is the input of the DeferredRequest workflow: only the
// request id; the request itself stays in gateway_deferred_requests.
type DeferredInput struct {
	RequestID string `json:"request_id"`
}

// DeferredResult is what DeferredRequest returns for a completed request.
type DeferredResult struct {
	RequestID string `json:"request_id"`
	Status    int    `json:"status"`
	Attempt   int    `json:"attempt"`
}

const (
	// deferredActivityTimeout bounds one attempt: a gateway operation,
	// itself bounded by the client's statement timeout.
	deferredActivityTimeout = 2 * time.Minute
	// deferredHeartbeatTimeout notices an attempt whose worker died (it
	// heartbeats every activities.DeferredHeartbeat).
	deferredHeartbeatTimeout = 4 * activities.DeferredHeartbeat
	// deferredGiveUp bounds all attempts of one request: a database down
	// longer than this fails the request (it can be requeued).
	deferredGiveUp = 24 * time.Hour
	// deferredFailTimeout bounds recording the give-up.
	deferredFailTimeout = 30 * time.Second
)

// DeferredRetryPolicy retries a transient failure (database down, pool
// exhausted, statement timeout) from 1s doubling to 1m, until
// deferredGiveUp; a client error (activities.ErrTypeDeferredFailed) stops
// at once.
var DeferredRetryPolicy = &temporal.RetryPolicy{
	InitialInterval:        time.Second,
	BackoffCoefficient:     2,
	MaximumInterval:        time.Minute,
	NonRetryableErrorTypes: []string{activities.ErrTypeDeferredFailed, activities.ErrTypeDeferredUnknown},
}

// DeferredStartOptions are the start options of request id's workflow on
// TaskQueueDeferred. A first start may never reuse the ID
// (reject-duplicate: one request, one run); a requeue runs again only
// after a failed run (allow-duplicate-failed-only).
func DeferredStartOptions(id string, requeue bool) client.StartWorkflowOptions {
	reuse := enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE
	if requeue {
		reuse = enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY
	}
	return client.StartWorkflowOptions{
		ID:                    DeferredID(id),
		TaskQueue:             TaskQueueDeferred,
		WorkflowIDReusePolicy: reuse,
		// Without this the SDK answers a start whose ID is running with
		// that run's handle and no error: a requeue would be acknowledged
		// and never run.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
	}
}

// StartDeferred starts request id's DeferredRequest workflow (the gateway
// and its tests start it only this way). A requeue can arrive while the
// failed run is still closing: ExecuteDeferred records the failure in
// gateway_deferred_requests before its workflow ends, and an operator (or
// a client polling the status route) may requeue in between. The start
// then finds that run still open; it waits for it to close (bounded by
// ctx) and starts again, which the reuse policy allows once it has failed.
func StartDeferred(ctx context.Context, c client.Client, id string, requeue bool) error {
	opts := DeferredStartOptions(id, requeue)
	start := func() error {
		_, err := c.ExecuteWorkflow(ctx, opts, DeferredRequest, DeferredInput{RequestID: id})
		return err
	}
	err := start()
	var open *serviceerror.WorkflowExecutionAlreadyStarted
	if !requeue || !errors.As(err, &open) {
		return err
	}
	// The run's own outcome (failed) is not the question; only its end is.
	_ = c.GetWorkflow(ctx, opts.ID, "").Get(ctx, nil)
	if ctx.Err() != nil {
		return err
	}
	return start()
}

// DeferredRequest runs one deferred gateway request (spec §5) with retry
// and backoff: the ExecuteDeferred activity runs it through the gateway's
// route handler and records its end in gateway_deferred_requests. A
// request that cannot succeed (validation, constraint) ends the workflow
// Failed, so POST /gateway/deferred/{id}/requeue may run it again under the
// same ID; one the retries gave up on is recorded failed first.
func DeferredRequest(ctx workflow.Context, in DeferredInput) (DeferredResult, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    deferredActivityTimeout,
		ScheduleToCloseTimeout: deferredGiveUp,
		HeartbeatTimeout:       deferredHeartbeatTimeout,
		RetryPolicy:            DeferredRetryPolicy,
	})
	var a *activities.Activities
	var out activities.ExecuteDeferredResult
	err := workflow.ExecuteActivity(actx, a.ExecuteDeferred, activities.ExecuteDeferredInput{RequestID: in.RequestID}).Get(ctx, &out)
	if err == nil {
		return DeferredResult{RequestID: out.RequestID, Status: out.Status, Attempt: out.Attempt}, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeDeferredFailed {
		return DeferredResult{}, err // recorded with the route's envelope
	}
	fctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: deferredFailTimeout,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	if ferr := workflow.ExecuteActivity(fctx, a.FailDeferred, activities.FailDeferredInput{RequestID: in.RequestID, Error: err.Error()}).Get(ctx, nil); ferr != nil {
		workflow.GetLogger(ctx).Error("cannot record the deferred request as failed", "request_id", in.RequestID, "err", ferr)
	}
	return DeferredResult{}, err
}
