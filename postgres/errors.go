package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// Retry-After values (seconds) for transient 503 answers.
var (
	// A pool has no reconnect backoff: the next acquire dials again at
	// once, so a client may retry as soon as Retry-After allows (it used
	// to say 5 s while a restarted server was back within milliseconds).
	retryBackendDown = gateway.RetryAfterSeconds(0)
)

const (
	retryPoolExhausted = 1
	// A serialization failure or deadlock lost a race that a retry
	// usually wins at once (spec §1.4: 503 with Retry-After).
	retrySerialization = 1
)

// errPoolExhausted marks an acquire that ran out of AcquireTimeout while the
// caller's own context was still alive: the pool is full, not the client gone.
var errPoolExhausted = errors.New("connection pool exhausted")

// MapError turns any error from this package's work into a *gateway.Error.
// It is the one place PostgreSQL errors become domain codes: Message and
// Detail keep PostgreSQL's own message (SDKs parse it) and Details carries the
// SQLSTATE plus constraint, table, column, schema, detail and hint when the
// server sent them. The mapped error keeps err as its Cause (errors.Is/As
// and logs see it; clients never do). An error that already is a
// *gateway.Error passes through unchanged; nil maps to nil.
func MapError(err error) *gateway.Error {
	if err == nil {
		return nil
	}
	var ge *gateway.Error
	if errors.As(err, &ge) {
		return ge
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return mapPgError(pgErr).WithCause(err)
	}
	if errors.Is(err, errPoolExhausted) {
		return &gateway.Error{
			Code:       gateway.CodePoolExhausted,
			Message:    "database connection pool exhausted",
			Detail:     "no database connection became free in time; retry shortly",
			RetryAfter: retryPoolExhausted,
			Cause:      err,
		}
	}
	if errors.Is(err, puddle.ErrClosedPool) {
		// The registry closed this pool (the client's URI changed, or it was
		// deleted) while the request held it: a retry gets the new pool.
		return &gateway.Error{
			Code:       gateway.CodeBackendUnavailable,
			Message:    "database unavailable",
			Detail:     "the client's connection pool was replaced; retry",
			RetryAfter: 1,
			Cause:      err,
		}
	}
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody reads the answer, so no code fits.
		return gateway.AsError(err)
	}
	if isStalled(err) {
		// The watcher closed a connection whose server stayed silent past
		// the statement timeout (guard.go): a deadline, not an outage.
		return &gateway.Error{
			Code:    gateway.CodeStatementTimeout,
			Message: "statement timeout",
			Detail:  "the database did not answer within the statement timeout",
			Cause:   err,
		}
	}
	if isBackendDown(err) {
		// The underlying text names hosts, users and databases: never expose it.
		return &gateway.Error{
			Code:       gateway.CodeBackendUnavailable,
			Message:    "database unavailable",
			Detail:     "the database could not be reached",
			RetryAfter: retryBackendDown,
			Cause:      err,
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &gateway.Error{
			Code:    gateway.CodeStatementTimeout,
			Message: "statement timeout",
			Detail:  "the operation did not finish before its deadline",
			Cause:   err,
		}
	}
	return gateway.AsError(err)
}

// isBackendDown reports network and connect failures: the server is not
// there, refused us, or dropped the connection.
func isBackendDown(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return true
	}
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	return strings.Contains(err.Error(), "connection refused")
}

// mapPgError classifies one server error by SQLSTATE; MapError sets the
// cause. A client-facing error keeps PostgreSQL's wording as its message
// and detail, and its DETAIL and HINT as Explanation and Hint (spec §1.4).
// A server-side failure (backend down, an internal error) is worded by us:
// its text may name roles, hosts or server internals.
func mapPgError(e *pgconn.PgError) *gateway.Error {
	code, summary := classify(e)
	out := &gateway.Error{Code: code, Message: e.Message, Detail: e.Message, Details: map[string]any{"sqlstate": e.Code}}
	switch code {
	case gateway.CodeBackendUnavailable, gateway.CodeInternal:
		out.Message, out.Detail = summary, "the database reported an error ("+e.Code+")"
		return withRetry(out)
	}
	out.Explanation, out.Hint = e.Detail, e.Hint
	for _, kv := range [...]struct{ key, val string }{
		{"constraint", e.ConstraintName},
		{"table", e.TableName},
		{"column", e.ColumnName},
		{"schema", e.SchemaName},
		{"detail", e.Detail},
		{"hint", e.Hint},
	} {
		if kv.val != "" {
			out.Details[kv.key] = kv.val
		}
	}
	return withRetry(out)
}

// withRetry sets the Retry-After of the transient codes.
func withRetry(e *gateway.Error) *gateway.Error {
	switch e.Code {
	case gateway.CodeBackendUnavailable:
		e.RetryAfter = retryBackendDown
	case gateway.CodeSerializationFailure:
		e.RetryAfter = retrySerialization
	}
	return e
}

func classify(e *pgconn.PgError) (gateway.Code, string) {
	switch e.Code {
	case "23505":
		return gateway.CodeUniqueViolation, "unique constraint violation"
	case "23P01":
		return gateway.CodeExclusionViolation, "exclusion constraint violation"
	case "23503":
		return gateway.CodeForeignKeyViolation, "foreign key violation"
	case "23502", "23514":
		return gateway.CodeConstraintViolation, "constraint violation"
	case "42P01":
		return gateway.CodeUnknownTable, "unknown table"
	case "42703":
		return gateway.CodeUnknownColumn, "unknown column"
	case "42883":
		// 42883 is also "operator does not exist" (e.g. LIKE on an integer):
		// that is a bad request, not a missing function.
		if strings.HasPrefix(e.Message, "operator does not exist") {
			return gateway.CodeInvalidValue, "operator not applicable to this column type"
		}
		return gateway.CodeUnknownFunction, "unknown function"
	case "22P02", "22003", "22007", "22008", "22001", "22023", "42804", "22P03", "22021", "2202E", "22004":
		return gateway.CodeInvalidValue, "invalid value"
	case "21000":
		// e.g. ON CONFLICT DO UPDATE hitting the same row twice in one batch.
		return gateway.CodeInvalidQueryPayload, "invalid request for the data"
	case "25006":
		// A write inside a transaction run with options.read_only.
		return gateway.CodeInvalidQueryPayload, "read-only transaction"
	case "40001", "40P01":
		// Serialization failure or deadlock: nothing committed; the client
		// may retry the whole request.
		return gateway.CodeSerializationFailure, "transaction conflict; retry"
	case "57014":
		return gateway.CodeStatementTimeout, "statement timeout"
	case "53300", "57P01", "57P02", "57P03":
		return gateway.CodeBackendUnavailable, "database unavailable"
	}
	switch {
	case strings.HasPrefix(e.Code, "08"):
		return gateway.CodeBackendUnavailable, "database unavailable"
	case strings.HasPrefix(e.Code, "42"):
		return gateway.CodeInvalidQueryPayload, "invalid query"
	case strings.HasPrefix(e.Code, "22"):
		return gateway.CodeInvalidValue, "invalid value"
	case strings.HasPrefix(e.Code, "23"):
		return gateway.CodeConstraintViolation, "constraint violation"
	}
	return gateway.CodeInternal, "database error"
}

// unknownTableError is the 404 for a relation the catalog does not know,
// worded like PostgreSQL's own 42P01 so SDKs parse it the same way.
func unknownTableError(ref gateway.TableRef) *gateway.Error {
	msg := `relation "` + ref.String() + `" does not exist`
	e := &gateway.Error{Code: gateway.CodeUnknownTable, Message: msg, Detail: msg}
	return e.WithDetail("sqlstate", "42P01").WithDetail("table", ref.Name)
}

// unknownColumnError is the 400 for a column the table does not have.
func unknownColumnError(table, column string) *gateway.Error {
	msg := `column "` + column + `" does not exist`
	e := &gateway.Error{Code: gateway.CodeUnknownColumn, Message: msg, Detail: msg}
	e = e.WithDetail("sqlstate", "42703").WithDetail("column", column)
	if table != "" {
		e = e.WithDetail("table", table)
	}
	return e
}

// isStaleMetadata reports server errors that mean our cached view of the
// catalog may be out of date.
func isStaleMetadata(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42P01" || pgErr.Code == "42703")
}
