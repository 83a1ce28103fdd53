package workflows

import "strings"

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

// TaskQueues lists every task queue a worker polls, in a stable order.
func TaskQueues() []string {
	return []string{TaskQueueDefault, TaskQueueDeferred, TaskQueuePipelines, TaskQueueInsertBatch, TaskQueueStats}
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
