package workflows

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"

	"github.com/athena-gateway/athena/activities"
)

func TestPingRunsTheActivity(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	env.RegisterActivity(&activities.Activities{Identity: "worker-1", Now: func() time.Time { return at }})

	env.ExecuteWorkflow(Ping, PingInput{Message: "hello"})

	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatalf("workflow error: %v", err)
	}
	var got PingResult
	if err := env.GetWorkflowResult(&got); err != nil {
		t.Fatal(err)
	}
	want := PingResult{Message: "hello", Worker: "worker-1", TaskQueue: "default-test-taskqueue", Time: at}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestPingRetriesThenFails(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	calls := 0
	env.OnActivity(a.Ping, mock.Anything, mock.Anything).Return(func(context.Context, activities.PingInput) (activities.PingResult, error) {
		calls++
		return activities.PingResult{}, errors.New("worker unwell")
	})

	env.ExecuteWorkflow(Ping, PingInput{Message: "hello"})

	if err := env.GetWorkflowError(); err == nil {
		t.Fatal("got nil error, want the activity's error")
	}
	if calls != 3 {
		t.Errorf("got %d attempts, want 3", calls)
	}
}

func TestWorkflowIDs(t *testing.T) {
	tests := []struct {
		give func(string) string
		key  string
		want string
	}{
		{PipelineID, "run-42", "pipeline/run-42"},
		{DeferredID, "req-1", "deferred/req-1"},
		{InsertBatchID, "b7", "insert-batch/b7"},
		{StatsFlushID, "demo", "stats-flush/demo"},
		{PingID, " x ", "ping/x"},
	}
	for _, tt := range tests {
		if got := tt.give(tt.key); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestTaskQueuesAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, q := range TaskQueues() {
		if q == "" || seen[q] {
			t.Errorf("task queue %q is empty or repeated", q)
		}
		seen[q] = true
	}
	if len(seen) != 5 {
		t.Errorf("got %d task queues, want 5", len(seen))
	}
}
