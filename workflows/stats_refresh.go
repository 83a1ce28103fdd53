package workflows

import (
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/athena-gateway/athena/activities"
)

// StatsRefreshScopeAll is the scope of a rebuild of every client's
// statistics: its workflow ID is StatsRefreshID(StatsRefreshScopeAll),
// "stats-refresh/all".
const StatsRefreshScopeAll = "all"

// StatsRefreshInput is the input of the StatsRefresh workflow. It is empty
// today (a rebuild covers every client); a struct lets it grow without
// breaking the signature of running workflows.
type StatsRefreshInput struct{}

// StatsRefreshResult counts the rows the rebuild wrote.
type StatsRefreshResult struct {
	Clients int64 `json:"clients"`
	Tables  int64 `json:"tables"`
}

const (
	// statsRefreshActivityTimeout bounds one RebuildStats attempt: it scans
	// both log tables in one transaction, so it may take minutes.
	statsRefreshActivityTimeout = 10 * time.Minute
	// statsRefreshHeartbeatTimeout notices a lost attempt (its worker died)
	// long before the StartToClose timeout: the activity heartbeats every
	// activities.RebuildStatsHeartbeat.
	statsRefreshHeartbeatTimeout = 6 * activities.RebuildStatsHeartbeat
)

// statsRefreshRetryPolicy retries a failing rebuild a few times (10s
// doubling to 2m, 5 attempts): every attempt rescans the logs, so it does
// not insist for an hour like the small StatsFlush. Non-retryable errors (no
// logging database) stop at once.
var statsRefreshRetryPolicy = &temporal.RetryPolicy{
	InitialInterval:    10 * time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    2 * time.Minute,
	MaximumAttempts:    5,
}

// StatsRefreshStartOptions are the options every StatsRefresh start uses.
// The fixed ID allows one rebuild at a time: a start while one runs joins
// it (conflict policy USE_EXISTING: the caller gets the running execution),
// and a start after it closed, whatever its outcome, begins a new run
// (reuse policy ALLOW_DUPLICATE).
func StatsRefreshStartOptions() client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       StatsRefreshID(StatsRefreshScopeAll),
		TaskQueue:                TaskQueueStats,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE,
	}
}

// StatsRefresh rebuilds client_statistics and client_table_statistics from
// the request and operation logs (the RebuildStats activity) and returns
// how many rows it wrote. Operators start it with POST
// /admin/clients/statistics/refresh and watch or retry it in the Temporal
// UI.
func StatsRefresh(ctx workflow.Context, _ StatsRefreshInput) (StatsRefreshResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: statsRefreshActivityTimeout,
		HeartbeatTimeout:    statsRefreshHeartbeatTimeout,
		RetryPolicy:         statsRefreshRetryPolicy,
	})
	var a *activities.Activities
	var out activities.RebuildStatsResult
	if err := workflow.ExecuteActivity(ctx, a.RebuildStats).Get(ctx, &out); err != nil {
		return StatsRefreshResult{}, err
	}
	return StatsRefreshResult{Clients: out.Clients, Tables: out.Tables}, nil
}
