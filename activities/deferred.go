package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// DeferredExecutor runs a stored deferred request through the gateway's
// own route handler, exactly once to a committed end (api.Executor): the
// status and envelope are those the synchronous route answers; err means no
// answer was reached (retryable).
type DeferredExecutor interface {
	Execute(ctx context.Context, r postgres.DeferredRequest) (status int, envelope []byte, err error)
}

// Error types of the deferred activities.
const (
	// ErrTypeDeferredFailed: the request's answer was a client error
	// (validation, constraint): retrying cannot change it.
	ErrTypeDeferredFailed = "DeferredRequestFailed"
	// ErrTypeDeferredUnknown: no such deferred request.
	ErrTypeDeferredUnknown = "DeferredRequestUnknown"
	// ErrTypeNoExecutor: this worker cannot run deferred requests.
	ErrTypeNoExecutor = "NoDeferredExecutor"
)

// DeferredHeartbeat is how often ExecuteDeferred heartbeats while the
// request runs: with the workflow's heartbeat timeout, an attempt whose
// worker died is retried long before its StartToClose timeout.
const DeferredHeartbeat = 5 * time.Second

// ExecuteDeferredInput names the request to run.
type ExecuteDeferredInput struct {
	RequestID string `json:"request_id"`
}

// ExecuteDeferredResult is the end of a completed request (the envelope
// stays in gateway_deferred_requests, not in the workflow history).
type ExecuteDeferredResult struct {
	RequestID string `json:"request_id"`
	Status    int    `json:"status"`
	// Attempt is the attempt (of gateway_deferred_requests.attempts) that
	// completed it.
	Attempt int `json:"attempt"`
}

// deferredStore is the logging database's gateway_deferred_requests.
func (a *Activities) deferredStore() (*postgres.DeferredStore, error) {
	if a.Clients == nil || a.Clients.ControlPlane() == nil {
		return nil, temporal.NewNonRetryableApplicationError("no logging database (control plane) configured", ErrTypeNoControlPlane, errors.New("control plane is nil"))
	}
	return postgres.NewDeferredStore(a.Clients.ControlPlane()), nil
}

// ExecuteDeferred runs one attempt of a deferred request: it marks the
// request running (one more attempt), runs it (a.Deferred), and records the
// end in gateway_deferred_requests. A success completes it; a client error
// (4xx other than 408/429) fails it for good with the route's envelope and
// returns a non-retryable error; anything else (503, 504, 500, a database
// down) returns a retryable error and the workflow's retry policy runs the
// next attempt. The write itself happens at most once (api.Executor records
// it in the target database's ledger in the same transaction).
func (a *Activities) ExecuteDeferred(ctx context.Context, in ExecuteDeferredInput) (ExecuteDeferredResult, error) {
	store, err := a.deferredStore()
	if err != nil {
		return ExecuteDeferredResult{}, err
	}
	if a.Deferred == nil {
		return ExecuteDeferredResult{}, temporal.NewNonRetryableApplicationError("this worker has no deferred executor", ErrTypeNoExecutor, nil)
	}
	r, started, err := store.Start(ctx, in.RequestID)
	if err != nil {
		var ge *gateway.Error
		if errors.As(err, &ge) && ge.Code == gateway.CodeNotFound {
			return ExecuteDeferredResult{}, temporal.NewNonRetryableApplicationError(ge.Message, ErrTypeDeferredUnknown, nil)
		}
		return ExecuteDeferredResult{}, fmt.Errorf("start deferred request: %w", err)
	}
	if !started {
		// A late duplicate: the request already ended.
		status := 0
		if r.StatusCode != nil {
			status = *r.StatusCode
		}
		if r.State == postgres.DeferredCompleted {
			return ExecuteDeferredResult{RequestID: r.ID, Status: status, Attempt: r.Attempts}, nil
		}
		return ExecuteDeferredResult{}, temporal.NewNonRetryableApplicationError("deferred request already "+string(r.State), ErrTypeDeferredFailed, nil)
	}
	activity.GetLogger(ctx).Info("running deferred request", "request_id", r.ID, "operation", r.Operation, "attempt", r.Attempts)
	var status int
	var envelope []byte
	err = heartbeatDuring(ctx, DeferredHeartbeat, func() (err error) {
		status, envelope, err = a.Deferred.Execute(ctx, r)
		return err
	})
	if errors.Is(err, postgres.ErrLedgerBroken) {
		// Raw SQL that ended the run's transaction itself has committed
		// its write outside the ledger: another attempt would write again.
		// It ends failed now, at most once.
		msg := postgres.ErrLedgerBroken.Error()
		if ferr := store.Finish(ctx, r.ID, postgres.DeferredFailed, http.StatusBadRequest, nil, msg); ferr != nil {
			return ExecuteDeferredResult{}, ferr
		}
		return ExecuteDeferredResult{}, temporal.NewNonRetryableApplicationError("deferred "+r.Operation+": "+msg, ErrTypeDeferredFailed, nil)
	}
	if err != nil {
		// The status route is the tenant's: its note is the message the
		// synchronous route would have answered (never a host, user or
		// database name); Temporal's history keeps the whole error for
		// operators.
		note := fmt.Sprintf("deferred %s: %s", r.Operation, postgres.MapError(err).Error())
		_ = store.Retrying(ctx, r.ID, note) // best effort: the retry matters, not the note
		return ExecuteDeferredResult{}, fmt.Errorf("deferred %s: %w", r.Operation, err)
	}
	switch {
	case status < 300:
		if err := store.Finish(ctx, r.ID, postgres.DeferredCompleted, status, envelope, ""); err != nil {
			return ExecuteDeferredResult{}, err // retried: the ledger replays the answer
		}
		return ExecuteDeferredResult{RequestID: r.ID, Status: status, Attempt: r.Attempts}, nil
	case transientStatus(status):
		msg := fmt.Sprintf("deferred %s answered %d: %s", r.Operation, status, envelopeMessage(envelope))
		_ = store.Retrying(ctx, r.ID, msg) // best effort: the retry matters, not the note
		return ExecuteDeferredResult{}, temporal.NewApplicationError(msg, "DeferredTransient")
	default:
		msg := envelopeMessage(envelope)
		if err := store.Finish(ctx, r.ID, postgres.DeferredFailed, status, envelope, msg); err != nil {
			return ExecuteDeferredResult{}, err
		}
		return ExecuteDeferredResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf("deferred %s answered %d: %s", r.Operation, status, msg), ErrTypeDeferredFailed, nil)
	}
}

// transientStatus reports an answer a later attempt may change.
func transientStatus(status int) bool {
	return status >= 500 || status == http.StatusTooManyRequests || status == http.StatusRequestTimeout
}

// envelopeMessage is an error envelope's message, for the error column.
func envelopeMessage(envelope []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(envelope, &e) != nil || e.Message == "" {
		return "no message"
	}
	return e.Message
}

// FailDeferredInput ends a request the workflow gave up on.
type FailDeferredInput struct {
	RequestID string `json:"request_id"`
	Error     string `json:"error"`
}

// FailDeferred marks a request failed after its workflow gave up on it
// (retries exhausted, timed out, cancelled from the Temporal UI). A
// request that completed, or that ExecuteDeferred already failed with its
// envelope, keeps its result.
func (a *Activities) FailDeferred(ctx context.Context, in FailDeferredInput) error {
	store, err := a.deferredStore()
	if err != nil {
		return err
	}
	return store.Finish(ctx, in.RequestID, postgres.DeferredFailed, 0, nil, in.Error)
}
