package orchestrationtest

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/athena-gateway/athena/workflows"
)

func TestHarnessWorkerPollsEveryTaskQueue(t *testing.T) {
	h := NewHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range workflows.TaskQueues() {
		for _, kind := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
			waitForPoller(ctx, t, h.Client, q, kind, "harness")
		}
	}
}

// waitForPoller asks the server until it reports a poller with the given
// identity: a poller shows up once its first long poll reaches matching.
func waitForPoller(ctx context.Context, t *testing.T, c client.Client, queue string, kind enumspb.TaskQueueType, identity string) {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.DescribeTaskQueue(ctx, queue, kind)
		if err == nil {
			for _, p := range resp.GetPollers() {
				if p.GetIdentity() == identity {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("task queue %s (%s): no poller %q (last error: %v)", queue, kind, identity, err)
		case <-tick.C:
		}
	}
}

func TestHarnessRunsPing(t *testing.T) {
	h := NewHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range workflows.TaskQueues() {
		run, err := h.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        workflows.PingID(q),
			TaskQueue: q,
		}, workflows.Ping, workflows.PingInput{Message: "hello " + q})
		if err != nil {
			t.Fatal(err)
		}
		var got workflows.PingResult
		if err := run.Get(ctx, &got); err != nil {
			t.Fatalf("ping on %s: %v", q, err)
		}
		if got.Message != "hello "+q || got.Worker != "harness" || got.TaskQueue != q || got.Time.IsZero() {
			t.Errorf("got %+v, want message %q from worker harness on %s", got, "hello "+q, q)
		}
	}
}
