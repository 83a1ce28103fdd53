package workflows_test

import (
	"context"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/temporaltest"

	"github.com/athena-gateway/athena/workflows"
)

// TestStartDeferredNeverAcknowledgesAnOpenRun: no worker polls the server,
// so a started DeferredRequest stays open. A second start, and a requeue
// while that run is open, must fail rather than hand back the open run (the
// SDK's default, which acknowledged a requeue that never ran); once the
// open run ends, a requeue waiting on it starts a new run.
func TestStartDeferredNeverAcknowledgesAnOpenRun(t *testing.T) {
	srv := temporaltest.NewServer(temporaltest.WithT(t))
	c := srv.GetDefaultClient()
	ctx := context.Background()
	const id = "start-test-1"
	if err := workflows.StartDeferred(ctx, c, id, false); err != nil {
		t.Fatal(err)
	}
	first, err := c.DescribeWorkflowExecution(ctx, workflows.DeferredID(id), "")
	if err != nil {
		t.Fatal(err)
	}
	firstRun := first.WorkflowExecutionInfo.Execution.RunId
	if err := workflows.StartDeferred(ctx, c, id, false); err == nil {
		t.Fatal("a second start of an open request succeeded")
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	err = workflows.StartDeferred(short, c, id, true)
	cancel()
	if err == nil {
		t.Fatal("a requeue while the run is open succeeded without starting a run")
	}

	done := make(chan error, 1)
	go func() {
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		done <- workflows.StartDeferred(rctx, c, id, true)
	}()
	if err := c.TerminateWorkflow(ctx, workflows.DeferredID(id), firstRun, "test: the failed run closes"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("requeue after the run closed: %v", err)
	}
	now, err := c.DescribeWorkflowExecution(ctx, workflows.DeferredID(id), "")
	if err != nil {
		t.Fatal(err)
	}
	info := now.WorkflowExecutionInfo
	if info.Execution.RunId == firstRun || info.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		t.Fatalf("after requeue: run %s status %s, want a new running run (first %s)", info.Execution.RunId, info.Status, firstRun)
	}
}
