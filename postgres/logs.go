package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// LogStore writes the request and operation logs of the logging database
// (spec §7) with COPY and prunes them. It implements telemetry.LogStore and
// belongs on a pool of its own, so log writes never take connections from
// tenant pools or from the control plane's key lookups.
type LogStore struct {
	pool *pgxpool.Pool
}

// NewLogStore wraps pool (the dedicated logging pool).
func NewLogStore(pool *pgxpool.Pool) *LogStore { return &LogStore{pool: pool} }

// LogPoolConfig derives the dedicated logging pool from the control
// plane's pool settings (same database, same search_path): maxConns
// connections, none kept open when idle, and synchronous_commit off. Log
// batches are best-effort already (a full queue drops entries), so they
// need not wait for the WAL flush: a PostgreSQL crash may lose the last
// fraction of a second of committed log rows, never corrupt them, and the
// bench measured the fsync wait at 2-5% of gateway throughput when the
// database shares the gateway's cores.
func LogPoolConfig(controlPlane *pgxpool.Config, maxConns int32, appName string) *pgxpool.Config {
	pc := controlPlane.Copy()
	pc.MaxConns = max(maxConns, 1)
	pc.MinConns = 0
	pc.ConnConfig.RuntimeParams["application_name"] = appName
	pc.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	return pc
}

// RequestLog is one row of gateway_request_log (spec §7). Empty strings
// are stored as NULL.
type RequestLog struct {
	RequestID      string
	Time           time.Time // when the request was answered; zero = when written
	Client         string
	Method         string
	Path           string
	Status         int
	Duration       time.Duration
	IPv4           string
	UserAgent      string
	UserID         string
	CompanyID      string
	OrganizationID string
	APIKeyID       string
	Cached         bool
	Error          string
	Message        string
}

// OperationLog is one row of gateway_operation_log (spec §7). Empty
// strings are stored as NULL; Rows < 0 means unknown (NULL).
type OperationLog struct {
	RequestID string
	Time      time.Time
	Client    string
	Operation string
	Table     string
	Status    int
	Duration  time.Duration
	Rows      int64
	Error     string
	Message   string
	CacheKey  string
}

var (
	requestLogColumns = []string{"request_id", "created_at", "client", "method", "path", "status_code",
		"duration_ms", "ipv4", "user_agent", "user_id", "company_id", "organization_id", "api_key_id",
		"cached", "error", "message"}
	operationLogColumns = []string{"request_id", "created_at", "client_name", "operation", "table_name",
		"status_code", "duration_ms", "rows", "error", "message", "cache_key"}
)

// Longest text stored per log column; longer values (a pathological path
// or user agent) are cut, so one entry cannot bloat the table.
const (
	maxLogText    = 2048
	maxLogMessage = 8192
)

// CopyRequests appends rows to gateway_request_log in one COPY.
func (s *LogStore) CopyRequests(ctx context.Context, rows []RequestLog) (int64, error) {
	now := time.Now()
	n, err := s.pool.CopyFrom(ctx, pgx.Identifier{"gateway_request_log"}, requestLogColumns,
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			e := &rows[i]
			return []any{
				logText(e.RequestID, maxLogText), logTime(e.Time, now), nullText(e.Client, maxLogText),
				logText(e.Method, maxLogText), logText(e.Path, maxLogText), int32(e.Status),
				durationMS(e.Duration), nullText(e.IPv4, maxLogText), nullText(e.UserAgent, maxLogText),
				nullText(e.UserID, maxLogText), nullText(e.CompanyID, maxLogText),
				nullText(e.OrganizationID, maxLogText), nullText(e.APIKeyID, maxLogText), e.Cached,
				nullText(e.Error, maxLogText), nullText(e.Message, maxLogMessage),
			}, nil
		}))
	if err != nil {
		return n, fmt.Errorf("copy request log: %w", err)
	}
	return n, nil
}

// CopyOperations appends rows to gateway_operation_log in one COPY.
func (s *LogStore) CopyOperations(ctx context.Context, rows []OperationLog) (int64, error) {
	now := time.Now()
	n, err := s.pool.CopyFrom(ctx, pgx.Identifier{"gateway_operation_log"}, operationLogColumns,
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			e := &rows[i]
			var affected *int64
			if e.Rows >= 0 {
				affected = &e.Rows
			}
			return []any{
				logText(e.RequestID, maxLogText), logTime(e.Time, now), logText(e.Client, maxLogText),
				logText(e.Operation, maxLogText), nullText(e.Table, maxLogText), int32(e.Status),
				durationMS(e.Duration), affected, nullText(e.Error, maxLogText),
				nullText(e.Message, maxLogMessage), nullText(e.CacheKey, maxLogText),
			}, nil
		}))
	if err != nil {
		return n, fmt.Errorf("copy operation log: %w", err)
	}
	return n, nil
}

// The retention deletes go by ctid in bounded batches: each statement is
// short, so it never holds locks or produces WAL for long, and the
// created_at index finds the oldest rows.
const (
	pruneRequestLogSQL = `DELETE FROM gateway_request_log WHERE ctid IN (
  SELECT ctid FROM gateway_request_log WHERE created_at < $1 LIMIT $2)`
	pruneOperationLogSQL = `DELETE FROM gateway_operation_log WHERE ctid IN (
  SELECT ctid FROM gateway_operation_log WHERE created_at < $1 LIMIT $2)`
)

// PruneLogs deletes at most limit rows created before before from each
// log table.
func (s *LogStore) PruneLogs(ctx context.Context, before time.Time, limit int) (requests, operations int64, err error) {
	tag, err := s.pool.Exec(ctx, pruneRequestLogSQL, before, limit)
	if err != nil {
		return 0, 0, fmt.Errorf("prune request log: %w", err)
	}
	requests = tag.RowsAffected()
	tag, err = s.pool.Exec(ctx, pruneOperationLogSQL, before, limit)
	if err != nil {
		return requests, 0, fmt.Errorf("prune operation log: %w", err)
	}
	return requests, tag.RowsAffected(), nil
}

func logTime(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

func durationMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// nullText is logText with "" stored as NULL.
func nullText(s string, max int) any {
	if s == "" {
		return nil
	}
	return logText(s, max)
}

// logText makes s storable as PostgreSQL text: at most max bytes, valid
// UTF-8 and no NUL byte. Paths and headers are raw bytes from the
// network, and one bad value must not fail the whole COPY batch.
func logText(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return s
}
