package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/gateway"
)

// StatsFlushInput is the input of the StatsFlush workflow. FlushID is
// "<gateway process>/<seq>", stable across retries of one flush; the
// workflow ID is StatsFlushID(FlushID).
type StatsFlushInput struct {
	FlushID string             `json:"flush_id"`
	Delta   gateway.StatsDelta `json:"delta"`
}

// StatsFlushResult is what StatsFlush returns.
type StatsFlushResult struct {
	FlushID string `json:"flush_id"`
	// Applied is false when the flush id had already been applied (a
	// restarted workflow or a duplicate start): nothing was counted twice.
	Applied bool `json:"applied"`
	Clients int  `json:"clients"`
	Tables  int  `json:"tables"`
}

// statsActivityTimeout bounds one ApplyStats attempt (one short transaction).
const statsActivityTimeout = 30 * time.Second

// statsRetryPolicy retries a failing logging database for about an hour
// (1s doubling to 1m, 60 attempts); non-retryable errors stop at once.
var statsRetryPolicy = &temporal.RetryPolicy{
	InitialInterval:    time.Second,
	BackoffCoefficient: 2,
	MaximumInterval:    time.Minute,
	MaximumAttempts:    60,
}

// StatsFlush applies one gateway process's statistics delta exactly once:
// the ApplyStats activity records FlushID in the same transaction as the
// counts, so a retried attempt changes nothing.
func StatsFlush(ctx workflow.Context, in StatsFlushInput) (StatsFlushResult, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: statsActivityTimeout,
		RetryPolicy:         statsRetryPolicy,
	})
	var a *activities.Activities
	var out activities.ApplyStatsResult
	if err := workflow.ExecuteActivity(ctx, a.ApplyStats, activities.ApplyStatsInput{FlushID: in.FlushID, Delta: in.Delta}).Get(ctx, &out); err != nil {
		return StatsFlushResult{}, err
	}
	return StatsFlushResult{FlushID: in.FlushID, Applied: out.Applied, Clients: out.Clients, Tables: out.Tables}, nil
}
