package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/athena-gateway/athena/postgres"
)

// RebuildStatsResult counts the rows a rebuild wrote: one per client in
// client_statistics, one per (client, table, operation) in
// client_table_statistics.
type RebuildStatsResult struct {
	Clients int64 `json:"clients"`
	Tables  int64 `json:"tables"`
}

// RebuildStatsHeartbeat is how often RebuildStats heartbeats while it waits
// for a telemetry slot and runs its transaction. With a heartbeat timeout
// (the StatsRefresh workflow sets one) a worker that dies mid-rebuild is
// noticed long before StartToClose, and a cancellation from the Temporal UI
// reaches the activity, whose context then cancels the query.
const RebuildStatsHeartbeat = 10 * time.Second

// RebuildStats replaces client_statistics and client_table_statistics with
// counts recomputed from gateway_request_log and gateway_operation_log, in
// one transaction (postgres.StatsStore.Rebuild): a retried attempt simply
// rebuilds again. It takes a telemetry slot like the other statistics work,
// so a rebuild never adds to the logging database's background load beyond
// the limiter's slots.
func (a *Activities) RebuildStats(ctx context.Context) (RebuildStatsResult, error) {
	if a.Clients == nil || a.Clients.ControlPlane() == nil {
		return RebuildStatsResult{}, temporal.NewNonRetryableApplicationError("no logging database (control plane) configured", ErrTypeNoControlPlane, errors.New("control plane is nil"))
	}
	var res postgres.RebuildResult
	err := heartbeatDuring(ctx, RebuildStatsHeartbeat, func() error {
		return a.Telemetry.Do(ctx, func() (err error) {
			res, err = postgres.NewStatsStore(a.Clients.ControlPlane()).Rebuild(ctx)
			return err
		})
	})
	if err != nil {
		return RebuildStatsResult{}, err // the database may come back: retryable
	}
	return RebuildStatsResult{Clients: res.Clients, Tables: res.Tables}, nil
}

// heartbeatDuring runs f while recording an activity heartbeat every
// interval; the heartbeat goroutine has ended when it returns.
func heartbeatDuring(ctx context.Context, every time.Duration, f func() error) error {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	return f()
}
