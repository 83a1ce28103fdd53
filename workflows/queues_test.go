package workflows

import (
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.temporal.io/sdk/worker"

	"github.com/athena-gateway/athena/activities"
)

// recordingRegistry records the names a queue registers. The embedded nil
// Registry makes any other registration (a dynamic workflow, a whole
// activities struct) panic, so the test notices it.
type recordingRegistry struct {
	worker.Registry
	workflows, activities []string
}

func (r *recordingRegistry) RegisterWorkflow(w any) { r.workflows = append(r.workflows, funcName(w)) }
func (r *recordingRegistry) RegisterActivity(a any) { r.activities = append(r.activities, funcName(a)) }

// funcName is the name the SDK registers a function or method value under:
// the last element of its symbol, without the "-fm" of a method value.
func funcName(f any) string {
	v := reflect.ValueOf(f)
	if v.Kind() != reflect.Func {
		return "non-function " + v.Type().String()
	}
	name := runtime.FuncForPC(v.Pointer()).Name()
	return strings.TrimSuffix(name[strings.LastIndex(name, ".")+1:], "-fm")
}

// TestQueuesRegisterOnlyTheirOwnWork pins the table: each queue's worker
// registers exactly its workflows and activities, every activity method is
// registered on exactly one queue, and the queues without work yet are not
// in the table (so not polled).
func TestQueuesRegisterOnlyTheirOwnWork(t *testing.T) {
	want := map[string][2][]string{
		TaskQueueDefault:  {{"Ping"}, {"Ping"}},
		TaskQueueDeferred: {{"DeferredRequest"}, {"ExecuteDeferred", "FailDeferred"}},
		TaskQueueStats:    {{"StatsFlush", "StatsRefresh"}, {"ApplyStats", "RebuildStats"}},
	}
	acts := activities.New("test", nil)
	onQueue := map[string]string{} // activity → its queue
	var names []string
	for _, q := range Queues() {
		names = append(names, q.Name)
		r := &recordingRegistry{}
		q.Register(r, acts)
		if got := [2][]string{r.workflows, r.activities}; !reflect.DeepEqual(got, want[q.Name]) {
			t.Errorf("queue %s registers workflows %q and activities %q, want %q", q.Name, got[0], got[1], want[q.Name])
		}
		for _, a := range r.activities {
			if other, ok := onQueue[a]; ok {
				t.Errorf("activity %s is registered on %s and %s", a, other, q.Name)
			}
			onQueue[a] = q.Name
		}
	}
	if !slices.Equal(names, []string{TaskQueueDefault, TaskQueueDeferred, TaskQueueStats}) {
		t.Errorf("queues with work: %q, want only %s, %s and %s", names, TaskQueueDefault, TaskQueueDeferred, TaskQueueStats)
	}
	for _, empty := range []string{TaskQueuePipelines, TaskQueueInsertBatch} {
		if !slices.Contains(TaskQueues(), empty) || slices.Contains(names, empty) {
			t.Errorf("queue %s: want it named in TaskQueues but absent from Queues (no work yet)", empty)
		}
	}
	// A new activity method must be given a queue, or no worker runs it.
	typ := reflect.TypeFor[*activities.Activities]()
	for i := range typ.NumMethod() {
		if m := typ.Method(i).Name; onQueue[m] == "" {
			t.Errorf("activity %s is registered on no queue", m)
		}
	}
}
