package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/athena-gateway/athena/activities"
)

// PingInput is the input of the Ping workflow.
type PingInput struct {
	// Message is echoed back, so a caller can match the answer to its request.
	Message string `json:"message"`
}

// PingResult is what the Ping workflow returns: which worker ran the
// activity, on which task queue, and when.
type PingResult struct {
	Message   string    `json:"message"`
	Worker    string    `json:"worker"`
	TaskQueue string    `json:"task_queue"`
	Time      time.Time `json:"time"`
}

// pingActivityTimeout bounds one Ping activity attempt; a worker that takes
// longer than this to answer is not healthy.
const pingActivityTimeout = 10 * time.Second

// Ping runs the Ping activity once and returns its answer. It exists to prove
// the plumbing end to end (client → server → worker → activity → result) and
// is what `athena dev` and the tests use to check that a worker is alive.
func Ping(ctx workflow.Context, in PingInput) (PingResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: pingActivityTimeout,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	var a *activities.Activities
	var out activities.PingResult
	if err := workflow.ExecuteActivity(ctx, a.Ping, activities.PingInput{Message: in.Message}).Get(ctx, &out); err != nil {
		return PingResult{}, err
	}
	return PingResult{Message: out.Message, Worker: out.Identity, TaskQueue: out.TaskQueue, Time: out.Time}, nil
}
