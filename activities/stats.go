package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/temporal"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// ApplyStatsInput is one statistics flush: its id (unique per gateway
// process and flush, stable across retries) and the counters.
type ApplyStatsInput struct {
	FlushID string             `json:"flush_id"`
	Delta   gateway.StatsDelta `json:"delta"`
}

// ApplyStatsResult tells whether this attempt applied the flush (false: the
// flush id had already been applied, nothing changed).
type ApplyStatsResult struct {
	Applied bool `json:"applied"`
	Clients int  `json:"clients"`
	Tables  int  `json:"tables"`
}

// Error types of ApplyStats' non-retryable errors.
const (
	ErrTypeNoControlPlane = "NoControlPlane"
	ErrTypeInvalidInput   = "InvalidInput"
)

// ApplyStats adds a flush's counters to client_statistics and
// client_table_statistics on the logging database, in one transaction that
// also records the flush id: a retried attempt is a no-op.
func (a *Activities) ApplyStats(ctx context.Context, in ApplyStatsInput) (ApplyStatsResult, error) {
	if in.FlushID == "" {
		return ApplyStatsResult{}, temporal.NewNonRetryableApplicationError("stats flush without a flush id", ErrTypeInvalidInput, nil)
	}
	if a.Clients == nil || a.Clients.ControlPlane() == nil {
		return ApplyStatsResult{}, temporal.NewNonRetryableApplicationError("no logging database (control plane) configured", ErrTypeNoControlPlane, errors.New("control plane is nil"))
	}
	var applied bool
	err := a.Telemetry.Do(ctx, func() (err error) {
		applied, err = postgres.NewStatsStore(a.Clients.ControlPlane()).Apply(ctx, in.FlushID, in.Delta)
		return err
	})
	if err != nil {
		return ApplyStatsResult{}, err // the database may come back: retryable
	}
	return ApplyStatsResult{Applied: applied, Clients: len(in.Delta.Clients), Tables: len(in.Delta.Tables)}, nil
}
