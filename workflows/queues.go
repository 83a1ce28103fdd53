package workflows

import (
	"strings"

	"go.temporal.io/sdk/worker"

	"github.com/athena-gateway/athena/activities"
)

// Task queues. Each kind of work has its own queue so that a backlog of one
// (a large pipeline, a flood of deferred requests) never starves another,
// and so that workers can later be scaled per queue.
const (
	// TaskQueueDefault carries small housekeeping workflows such as Ping.
	TaskQueueDefault = "athena"
	// TaskQueueDeferred carries gateway requests accepted now and run later.
	TaskQueueDeferred = "athena-deferred"
	// TaskQueuePipelines carries pipeline runs.
	TaskQueuePipelines = "athena-pipelines"
	// TaskQueueInsertBatch carries batched inserts.
	TaskQueueInsertBatch = "athena-insert-batch"
	// TaskQueueStats carries the periodic statistics flush and the
	// statistics rebuild.
	TaskQueueStats = "athena-stats"
)

// TaskQueues lists every task queue name, in a stable order, whether or not
// it has work yet (Queues lists those a worker polls).
func TaskQueues() []string {
	return []string{TaskQueueDefault, TaskQueueDeferred, TaskQueuePipelines, TaskQueueInsertBatch, TaskQueueStats}
}

// Queue is one task queue and exactly the work its worker registers: a
// worker on Name knows only these workflows and activities, so a workflow
// started on the wrong queue fails its workflow task ("unable to find
// workflow type") instead of quietly running where it does not belong.
type Queue struct {
	Name string
	// Workflows are the workflow functions run on this queue.
	Workflows []any
	// Activities returns the activity methods of a run on this queue. It
	// only takes method values, so it may be called with a nil a to list
	// them.
	Activities func(a *activities.Activities) []any
}

// Queues is the one table of which task queue runs which workflows and
// activities, in a stable order: the worker starts one SDK worker per
// entry, and the replay tests register each recorded history's workflows
// from the entry of the queue it ran on.
//
// Only queues with work are listed, so only they are polled.
// TaskQueuePipelines and TaskQueueInsertBatch have no workflow yet: the
// features that bring pipelines and insert windows add their entry here
// with their workflows and activities.
func Queues() []Queue {
	return []Queue{
		{
			Name:       TaskQueueDefault,
			Workflows:  []any{Ping},
			Activities: func(a *activities.Activities) []any { return []any{a.Ping} },
		},
		{
			Name:       TaskQueueDeferred,
			Workflows:  []any{DeferredRequest},
			Activities: func(a *activities.Activities) []any { return []any{a.ExecuteDeferred, a.FailDeferred} },
		},
		{
			Name:       TaskQueueStats,
			Workflows:  []any{StatsFlush, StatsRefresh},
			Activities: func(a *activities.Activities) []any { return []any{a.ApplyStats, a.RebuildStats} },
		},
	}
}

// RegisterWorkflows puts the queue's workflows on r (a worker or a
// worker.WorkflowReplayer).
func (q Queue) RegisterWorkflows(r worker.WorkflowRegistry) {
	for _, wf := range q.Workflows {
		r.RegisterWorkflow(wf)
	}
}

// Register puts the queue's workflows and the activities of acts on r, and
// nothing else.
func (q Queue) Register(r worker.Registry, acts *activities.Activities) {
	q.RegisterWorkflows(r)
	for _, act := range q.Activities(acts) {
		r.RegisterActivity(act)
	}
}

// Workflow IDs are "<kind>/<key>". Temporal allows one running execution per
// ID, so building them in one place is what makes "start this pipeline run"
// idempotent across gateway processes.

// PipelineID is the workflow ID of one pipeline run.
func PipelineID(runID string) string { return workflowID("pipeline", runID) }

// DeferredID is the workflow ID of one deferred gateway request.
func DeferredID(requestID string) string { return workflowID("deferred", requestID) }

// InsertBatchID is the workflow ID of one insert batch.
func InsertBatchID(batchID string) string { return workflowID("insert-batch", batchID) }

// StatsFlushID is the workflow ID of the statistics flush for one scope
// (e.g. a client name); one flush per scope runs at a time.
func StatsFlushID(scope string) string { return workflowID("stats-flush", scope) }

// StatsRefreshID is the workflow ID of the statistics rebuild over scope
// (StatsRefreshScopeAll: every client); one rebuild per scope runs at a
// time.
func StatsRefreshID(scope string) string { return workflowID("stats-refresh", scope) }

// PingID is the workflow ID of one Ping run.
func PingID(key string) string { return workflowID("ping", key) }

func workflowID(kind, key string) string {
	return kind + "/" + strings.TrimSpace(key)
}
