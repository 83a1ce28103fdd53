package postgres

import (
	"errors"
	"fmt"
	"testing"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5/pgconn"
)

// A serialization failure or deadlock is retryable (spec §1.4): 503 with
// Retry-After, and the mapped error still unwraps to the server's error.
func TestMapErrorSerializationFailureIsRetryable(t *testing.T) {
	for _, sqlstate := range []string{"40001", "40P01"} {
		pgErr := &pgconn.PgError{Code: sqlstate, Message: "could not serialize access due to concurrent update"}
		ge := MapError(fmt.Errorf("commit: %w", pgErr))
		if ge.Code != gateway.CodeSerializationFailure || ge.Code.Status() != 503 || ge.RetryAfter <= 0 {
			t.Errorf("%s: got code %s status %d retry-after %d, want serialization_failure 503 with Retry-After", sqlstate, ge.Code, ge.Code.Status(), ge.RetryAfter)
		}
		if ge.Detail != pgErr.Message || ge.Details["sqlstate"] != sqlstate {
			t.Errorf("%s: detail %q details %v", sqlstate, ge.Detail, ge.Details)
		}
		var got *pgconn.PgError
		if !errors.As(ge, &got) || got != pgErr {
			t.Errorf("%s: the mapped error lost its cause", sqlstate)
		}
	}
}

// The catalogue errors built here carry their details without sharing a
// map between calls.
func TestUnknownColumnErrorsDoNotShareDetails(t *testing.T) {
	a := unknownColumnError("users", "emial")
	b := unknownColumnError("", "nmae")
	if a.Details["column"] != "emial" || a.Details["table"] != "users" || a.Details["sqlstate"] != "42703" {
		t.Errorf("first: %v", a.Details)
	}
	if b.Details["column"] != "nmae" || b.Details["table"] != nil {
		t.Errorf("second: %v", b.Details)
	}
}
