package orchestrationtest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/athena-gateway/athena/workflows"
)

var pollerKinds = []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY}

// TestHarnessWorkerPollsOnlyQueuesWithWork: every queue of workflows.Queues
// has workflow and activity pollers; the named queues without work have
// none.
func TestHarnessWorkerPollsOnlyQueuesWithWork(t *testing.T) {
	h := NewHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	polled := map[string]bool{}
	for _, q := range workflows.Queues() {
		polled[q.Name] = true
		for _, kind := range pollerKinds {
			waitForPoller(ctx, t, h.Client, q.Name, kind, "harness")
		}
	}
	// Every SDK worker was started before Ready, and the pollers of those
	// above are visible: a poller on another queue would be by now.
	empty := 0
	for _, q := range workflows.TaskQueues() {
		if polled[q] {
			continue
		}
		empty++
		for _, kind := range pollerKinds {
			resp, err := h.Client.DescribeTaskQueue(ctx, q, kind)
			if err != nil {
				t.Fatalf("describe %s (%s): %v", q, kind, err)
			}
			if p := resp.GetPollers(); len(p) > 0 {
				t.Errorf("task queue %s (%s) has no work but is polled by %v", q, kind, p)
			}
		}
	}
	if empty != 2 {
		t.Errorf("checked %d queues without work, want 2 (pipelines, insert batch)", empty)
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

// hasWorkflow reports whether q registers wf.
func hasWorkflow(q workflows.Queue, wf any) bool {
	for _, w := range q.Workflows {
		if reflect.ValueOf(w).Pointer() == reflect.ValueOf(wf).Pointer() {
			return true
		}
	}
	return false
}

// TestHarnessRunsPing runs Ping on every queue that registers it.
func TestHarnessRunsPing(t *testing.T) {
	h := NewHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pinged := 0
	for _, q := range workflows.Queues() {
		if !hasWorkflow(q, workflows.Ping) {
			continue
		}
		pinged++
		run, err := h.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        workflows.PingID(q.Name),
			TaskQueue: q.Name,
		}, workflows.Ping, workflows.PingInput{Message: "hello " + q.Name})
		if err != nil {
			t.Fatal(err)
		}
		var got workflows.PingResult
		if err := run.Get(ctx, &got); err != nil {
			t.Fatalf("ping on %s: %v", q.Name, err)
		}
		if got.Message != "hello "+q.Name || got.Worker != "harness" || got.TaskQueue != q.Name || got.Time.IsZero() {
			t.Errorf("got %+v, want message %q from worker harness on %s", got, "hello "+q.Name, q.Name)
		}
	}
	if pinged == 0 {
		t.Errorf("no queue registers Ping, want at least %s", workflows.TaskQueueDefault)
	}
}

// TestHarnessWorkerRunsOnlyItsQueuesWorkflows starts workflows on a polled
// queue that does not register them: that queue's worker picks up the
// workflow task and fails it as an unknown workflow type (it keeps
// retrying; the workflow never runs there), which shows in the history.
func TestHarnessWorkerRunsOnlyItsQueuesWorkflows(t *testing.T) {
	h := NewHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tests := []struct {
		id, queue string
		wf, in    any
	}{
		{"flush-on-default", workflows.TaskQueueDefault, workflows.StatsFlush, workflows.StatsFlushInput{FlushID: "p/1"}},
		{"refresh-on-default", workflows.TaskQueueDefault, workflows.StatsRefresh, workflows.StatsRefreshInput{}},
		{"ping-on-stats", workflows.TaskQueueStats, workflows.Ping, workflows.PingInput{Message: "x"}},
	}
	for _, tt := range tests {
		run, err := h.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: tt.id, TaskQueue: tt.queue}, tt.wf, tt.in)
		if err != nil {
			t.Fatal(err)
		}
		waitForUnknownWorkflowType(ctx, t, h.Client, run)
		if err := h.Client.TerminateWorkflow(ctx, run.GetID(), run.GetRunID(), "test done"); err != nil {
			t.Fatal(err)
		}
	}
}

// waitForUnknownWorkflowType follows run's history (long polling) until a
// workflow task failed because the worker does not know the workflow type.
// Nothing else may happen first: a completed workflow task would mean a
// worker ran it.
func waitForUnknownWorkflowType(ctx context.Context, t *testing.T, c client.Client, run client.WorkflowRun) {
	t.Helper()
	it := c.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatalf("%s: history: %v", run.GetID(), err)
		}
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
			if msg := ev.GetWorkflowTaskFailedEventAttributes().GetFailure().GetMessage(); !strings.Contains(msg, "unable to find workflow type") {
				t.Fatalf("%s: workflow task failed with %q, want an unknown workflow type", run.GetID(), msg)
			}
			return
		case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
			t.Fatalf("%s: a worker ran the workflow on a queue that does not register it", run.GetID())
		}
	}
	t.Fatalf("%s: history ended without a failed workflow task", run.GetID())
}
