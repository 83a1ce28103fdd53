package gateway

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"
)

// Code is a machine-readable error code, stable on the wire (spec §1.4).
type Code string

// The closed set of error codes. Clients switch on these strings.
const (
	CodeMissingClientHeader       Code = "missing_client_header"
	CodeInvalidClient             Code = "invalid_client"
	CodeClientFrozen              Code = "client_frozen"
	CodeClientInactive            Code = "client_inactive"
	CodeInvalidJSON               Code = "invalid_json"
	CodeInvalidFetchCondition     Code = "invalid_fetch_condition"
	CodeInvalidConditionValue     Code = "invalid_condition_value"
	CodeInvalidFetchPayload       Code = "invalid_fetch_payload"
	CodeInvalidInsertPayload      Code = "invalid_insert_payload"
	CodeInvalidUpdatePayload      Code = "invalid_update_payload"
	CodeInvalidDeletePayload      Code = "invalid_delete_payload"
	CodeInvalidQueryPayload       Code = "invalid_query_payload"
	CodeInvalidRPCPayload         Code = "invalid_rpc_payload"
	CodeInvalidTransactionPayload Code = "invalid_transaction_payload"
	// CodeIdempotencyConflict: the idempotency_key is in use by a transaction
	// still running, or was used with a different request.
	CodeIdempotencyConflict Code = "idempotency_conflict"
	// CodeSerializationFailure: the transaction lost a serialization race or
	// a deadlock (SQLSTATE 40001/40P01); nothing was committed, retry it.
	CodeSerializationFailure Code = "serialization_failure"
	CodeEmptyQuery           Code = "empty_query"
	CodeUnknownTable         Code = "unknown_table"
	CodeUnknownColumn        Code = "unknown_column"
	CodeUnknownFunction      Code = "unknown_function"
	CodeUniqueViolation      Code = "unique_violation"
	// CodeExclusionViolation: an exclusion constraint (SQLSTATE 23P01)
	// found an overlapping row, a duplicate in the constraint's sense.
	CodeExclusionViolation  Code = "exclusion_violation"
	CodeForeignKeyViolation Code = "foreign_key_violation"
	// CodeConstraintViolation: a not-null, check or other integrity
	// constraint refused the values sent.
	CodeConstraintViolation Code = "constraint_violation"
	CodeInvalidValue        Code = "invalid_value"
	CodeUnauthorized        Code = "unauthorized"
	CodeForbidden           Code = "forbidden"
	CodeNotFound            Code = "not_found"
	CodeMethodNotAllowed    Code = "method_not_allowed"
	CodePayloadTooLarge     Code = "payload_too_large"
	CodeRateLimited         Code = "rate_limited"
	CodeBackendUnavailable  Code = "backend_unavailable"
	CodePoolExhausted       Code = "pool_exhausted"
	CodeStatementTimeout    Code = "statement_timeout"
	CodeDeferredUnavailable Code = "deferred_queue_unavailable"
	// CodeDeferredNotFailed: only a failed deferred request can be requeued.
	CodeDeferredNotFailed Code = "deferred_request_not_failed"
	CodeInternal          Code = "internal_error"
)

// catalogue is the closed set of codes with their HTTP status: the one map
// from code to status. Every Code constant has an entry (TestCatalogue
// walks the constants and this map), and only CodeInternal is a 500.
var catalogue = map[Code]int{
	CodeMissingClientHeader:       http.StatusBadRequest,
	CodeInvalidClient:             http.StatusBadRequest,
	CodeClientFrozen:              http.StatusServiceUnavailable,
	CodeClientInactive:            http.StatusForbidden,
	CodeInvalidJSON:               http.StatusBadRequest,
	CodeInvalidFetchCondition:     http.StatusBadRequest,
	CodeInvalidConditionValue:     http.StatusBadRequest,
	CodeInvalidFetchPayload:       http.StatusBadRequest,
	CodeInvalidInsertPayload:      http.StatusBadRequest,
	CodeInvalidUpdatePayload:      http.StatusBadRequest,
	CodeInvalidDeletePayload:      http.StatusBadRequest,
	CodeInvalidQueryPayload:       http.StatusBadRequest,
	CodeInvalidRPCPayload:         http.StatusBadRequest,
	CodeInvalidTransactionPayload: http.StatusBadRequest,
	CodeIdempotencyConflict:       http.StatusConflict,
	// Retryable (spec §1.4): the answer carries Retry-After.
	CodeSerializationFailure: http.StatusServiceUnavailable,
	CodeEmptyQuery:           http.StatusBadRequest,
	CodeUnknownTable:         http.StatusNotFound,
	CodeUnknownColumn:        http.StatusBadRequest,
	CodeUnknownFunction:      http.StatusNotFound,
	// Only duplicates are a 409 (spec §1.4): the SDK classifies every 409
	// as a unique violation, so the other integrity errors are 400s.
	CodeUniqueViolation:     http.StatusConflict,
	CodeExclusionViolation:  http.StatusConflict,
	CodeForeignKeyViolation: http.StatusBadRequest,
	CodeConstraintViolation: http.StatusBadRequest,
	CodeInvalidValue:        http.StatusBadRequest,
	CodeUnauthorized:        http.StatusUnauthorized,
	CodeForbidden:           http.StatusForbidden,
	CodeNotFound:            http.StatusNotFound,
	CodeMethodNotAllowed:    http.StatusMethodNotAllowed,
	CodePayloadTooLarge:     http.StatusRequestEntityTooLarge,
	CodeRateLimited:         http.StatusTooManyRequests,
	CodeBackendUnavailable:  http.StatusServiceUnavailable,
	CodePoolExhausted:       http.StatusServiceUnavailable,
	CodeStatementTimeout:    http.StatusGatewayTimeout,
	CodeDeferredUnavailable: http.StatusServiceUnavailable,
	CodeDeferredNotFailed:   http.StatusConflict,
	CodeInternal:            http.StatusInternalServerError,
}

// Codes returns every code of the catalogue, sorted.
func Codes() []Code {
	return slices.Sorted(maps.Keys(catalogue))
}

// Status returns the HTTP status for code. A code outside the catalogue (a
// string that never was one of the constants) is a 500.
func (c Code) Status() int {
	if s, ok := catalogue[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Error is the one error type that crosses layer boundaries. Message is the
// summary and Detail the precise cause; for PostgreSQL errors both are the
// server's own wording, because SDKs build their error from the message and
// extract constraint and relation names from it (spec §1.4). Details carries
// structured extras such as sqlstate, constraint, table or column.
type Error struct {
	Code    Code
	Message string
	Detail  string
	Details map[string]any
	// Explanation is a longer account of the cause (PostgreSQL's DETAIL
	// line, e.g. "Key (email)=(a@b.c) already exists."), sent as the
	// envelope's top-level "details"; Hint says how to fix it (PostgreSQL's
	// HINT, or a suggestion such as a field name), sent as "hint". Both are
	// omitted when empty.
	Explanation string
	Hint        string
	RetryAfter  int // seconds; set for 429/503 answers
	// Cause is the error this one was made from (a *pgconn.PgError, a
	// network error), kept for errors.Is/As and logs; never sent to clients.
	Cause error
}

func (e *Error) Error() string {
	if e.Detail != "" && e.Detail != e.Message {
		return fmt.Sprintf("%s: %s", e.Message, e.Detail)
	}
	return e.Message
}

// Unwrap returns the cause, so errors.Is and errors.As see through e.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf builds an Error whose message and detail are the formatted text.
func Errorf(code Code, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: code, Message: msg, Detail: msg}
}

// WithDetail returns a copy of e with Details[key] set; e itself is not
// modified, so a shared error value (a package-level sentinel, an error
// cached for many requests) never collects another caller's details.
func (e *Error) WithDetail(key string, value any) *Error {
	out := *e
	out.Details = make(map[string]any, len(e.Details)+1)
	maps.Copy(out.Details, e.Details)
	out.Details[key] = value
	return &out
}

// WithCause returns a copy of e that wraps cause.
func (e *Error) WithCause(cause error) *Error {
	out := *e
	out.Cause = cause
	return &out
}

// AsError unwraps err into an *Error. Anything that is not one becomes an
// internal error whose text is not exposed to clients but is kept as its
// Cause.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", Detail: "an unexpected error occurred", Cause: err}
}

// RetryAfterSeconds turns the time until the gateway tries again (a
// backoff's remainder; 0 when the next request tries at once) into a
// Retry-After value: whole seconds rounded up, at least 1, so a client is
// never told to wait longer than recovery can take on our side.
func RetryAfterSeconds(wait time.Duration) int {
	s := int((wait + time.Second - 1) / time.Second)
	return max(s, 1)
}
