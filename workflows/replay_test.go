package workflows_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/orchestration/orchestrationtest"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/registry/registrytest"
	"github.com/athena-gateway/athena/workflows"
)

// record writes the missing histories of recordings from fresh runs on the
// in-process Temporal server (the statistics workflows need PostgreSQL):
//
//	go test ./workflows -run TestRecordHistories -record
//
// An existing file is kept: a recorded history stands for executions that
// may still be open when new code deploys, so it is never rewritten with
// the new code's shape (delete the file to re-record it on purpose).
var record = flag.Bool("record", false, "record the missing workflow histories under testdata/ (TestRecordHistories)")

// recordings are the histories TestRecordHistories writes; each starts its
// workflow on the queue it runs on and returns the run. A workflow change
// that no longer replays one of them (an activity added, removed, reordered
// or renamed, a timer, …) goes behind workflow.GetVersion, and the new shape
// gets its own recording beside the old one (…_v2.json).
var recordings = []struct {
	file  string
	start func(ctx context.Context, c client.Client, reg *registry.Registry) (client.WorkflowRun, error)
}{
	{"ping_v1.json", func(ctx context.Context, c client.Client, _ *registry.Registry) (client.WorkflowRun, error) {
		return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.PingID("replay"), TaskQueue: workflows.TaskQueueDefault},
			workflows.Ping, workflows.PingInput{Message: "replay"})
	}},
	{"stats_flush_v1.json", func(ctx context.Context, c client.Client, _ *registry.Registry) (client.WorkflowRun, error) {
		in := workflows.StatsFlushInput{FlushID: "replay/1", Delta: sampleDelta()}
		return c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.StatsFlushID(in.FlushID), TaskQueue: workflows.TaskQueueStats},
			workflows.StatsFlush, in)
	}},
	{"stats_refresh_v1.json", func(ctx context.Context, c client.Client, _ *registry.Registry) (client.WorkflowRun, error) {
		return c.ExecuteWorkflow(ctx, workflows.StatsRefreshStartOptions(), workflows.StatsRefresh, workflows.StatsRefreshInput{})
	}},
	{"deferred_request_v1.json", func(ctx context.Context, c client.Client, reg *registry.Registry) (client.WorkflowRun, error) {
		const id = "replay-1"
		store := postgres.NewDeferredStore(reg.ControlPlane())
		err := store.Create(ctx, postgres.DeferredRequest{ID: id, Client: "replay", Operation: "insert", Method: "POST",
			Path: "/gateway/insert", Body: []byte(`{"table_name":"t","insert_body":{"a":1}}`), WorkflowID: workflows.DeferredID(id)})
		if err != nil {
			return nil, err
		}
		return c.ExecuteWorkflow(ctx, workflows.DeferredStartOptions(id, false), workflows.DeferredRequest, workflows.DeferredInput{RequestID: id})
	}},
}

// TestRecordHistories runs each recording whose file is missing to
// completion and writes its history as JSON (the format of `temporal
// workflow show --output json`).
func TestRecordHistories(t *testing.T) {
	if !*record {
		t.Skip("records histories only with -record")
	}
	reg := registrytest.ControlPlane(t) // registered first: closed after the worker stops
	acts := activities.New("harness", reg)
	acts.Deferred = &flakyExecutor{} // the recorded run retries once
	h := orchestrationtest.NewHarness(t, orchestrationtest.Options{Activities: acts})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, r := range recordings {
		path := filepath.Join("testdata", r.file)
		if _, err := os.Stat(path); err == nil {
			t.Logf("kept %s", path)
			continue
		}
		run, err := r.start(ctx, h.Client, reg)
		if err != nil {
			t.Fatal(err)
		}
		if err := run.Get(ctx, nil); err != nil {
			t.Fatalf("%s: %v", r.file, err)
		}
		hist := &historypb.History{}
		it := h.Client.GetWorkflowHistory(ctx, run.GetID(), run.GetRunID(), false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			hist.Events = append(hist.Events, ev)
		}
		b, err := temporalproto.CustomJSONMarshalOptions{Indent: "  "}.Marshal(hist)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("recorded %s: %d events", r.file, len(hist.Events))
	}
}

// flakyExecutor answers its first call 503 (a database down) and the
// others 201, like a deferred insert that succeeds on its second attempt.
type flakyExecutor struct{ calls atomic.Int32 }

func (e *flakyExecutor) Execute(context.Context, postgres.DeferredRequest) (int, []byte, error) {
	if e.calls.Add(1) == 1 {
		return 503, []byte(`{"status":"error","message":"database unavailable","code":"backend_unavailable"}`), nil
	}
	return 201, []byte(`{"status":"success","message":"Data inserted successfully","data":{"a":1},"count":1}`), nil
}

// TestReplayHistories replays every recorded history with the workflows its
// task queue registers today (workflows.Queues) and fails on any
// nondeterminism; every workflow of the table must have a history.
func TestReplayHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	replayed := map[string]bool{}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			started := startedEvent(t, file)
			typ, queue := started.GetWorkflowType().GetName(), started.GetTaskQueue().GetName()
			q, ok := queueNamed(queue)
			if !ok {
				t.Fatalf("%s ran %s on task queue %q, which has no worker", file, typ, queue)
			}
			replayer := worker.NewWorkflowReplayer()
			q.RegisterWorkflows(replayer)
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, file); err != nil {
				t.Fatalf("replay %s (%s on %s): %v", file, typ, queue, err)
			}
			replayed[typ] = true
		})
	}
	for _, q := range workflows.Queues() {
		for _, wf := range q.Workflows {
			if name := workflowName(wf); !replayed[name] {
				t.Errorf("workflow %s (queue %s) has no replayed history under testdata/", name, q.Name)
			}
		}
	}
}

// TestReplayDetectsReorderedActivities proves the replay tests bite: a
// StatsFlush that runs another activity before ApplyStats does not replay
// the recorded history.
func TestReplayDetectsReorderedActivities(t *testing.T) {
	replayer := worker.NewWorkflowReplayer()
	replayer.RegisterWorkflowWithOptions(reorderedStatsFlush, workflow.RegisterOptions{Name: workflowName(workflows.StatsFlush)})
	err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, filepath.Join("testdata", "stats_flush_v1.json"))
	if err == nil || !strings.Contains(err.Error(), "nondeterministic") {
		t.Fatalf("replay of a reordered StatsFlush: got %v, want a nondeterminism error", err)
	}
}

// reorderedStatsFlush is StatsFlush with a RebuildStats activity scheduled
// before ApplyStats.
func reorderedStatsFlush(ctx workflow.Context, in workflows.StatsFlushInput) (workflows.StatsFlushResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 1},
	})
	var a *activities.Activities
	if err := workflow.ExecuteActivity(ctx, a.RebuildStats).Get(ctx, nil); err != nil {
		return workflows.StatsFlushResult{}, err
	}
	var out activities.ApplyStatsResult
	if err := workflow.ExecuteActivity(ctx, a.ApplyStats, activities.ApplyStatsInput{FlushID: in.FlushID, Delta: in.Delta}).Get(ctx, &out); err != nil {
		return workflows.StatsFlushResult{}, err
	}
	return workflows.StatsFlushResult{FlushID: in.FlushID, Applied: out.Applied}, nil
}

// startedEvent reads the WorkflowExecutionStarted event of a recorded
// history and checks that the history ends with the workflow completed.
func startedEvent(t *testing.T, file string) *historypb.WorkflowExecutionStartedEventAttributes {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := client.HistoryFromJSON(bytes.NewReader(b), client.HistoryJSONOptions{})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	ev := hist.GetEvents()
	if len(ev) == 0 || ev[0].GetEventType() != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED {
		t.Fatalf("%s: does not begin with WorkflowExecutionStarted", file)
	}
	if last := ev[len(ev)-1].GetEventType(); last != enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED {
		t.Fatalf("%s: ends with %s, want a completed run", file, last)
	}
	return ev[0].GetWorkflowExecutionStartedEventAttributes()
}

func queueNamed(name string) (workflows.Queue, bool) {
	for _, q := range workflows.Queues() {
		if q.Name == name {
			return q, true
		}
	}
	return workflows.Queue{}, false
}

// workflowName is the type name the SDK registers a workflow function under.
func workflowName(wf any) string {
	name := runtime.FuncForPC(reflect.ValueOf(wf).Pointer()).Name()
	return name[strings.LastIndex(name, ".")+1:]
}
