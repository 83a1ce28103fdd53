package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AuditLog is one row of admin_audit_log: an admin mutation. Before and
// After are JSON documents of the changed record (nil when there was none:
// nothing before a create, nothing after a delete).
type AuditLog struct {
	RequestID string
	Time      time.Time // when the change was made; zero = when written
	Actor     string    // "admin" for the admin key, else the key's public id
	Action    string    // e.g. api_key.create, client.freeze
	Target    string    // what changed, e.g. api_key:abc123, client:shop
	Before    json.RawMessage
	After     json.RawMessage
}

var auditLogColumns = []string{"request_id", "created_at", "actor", "action", "target", "before", "after"}

// CopyAudit appends rows to admin_audit_log in one COPY (the log writer's
// batches).
func (s *LogStore) CopyAudit(ctx context.Context, rows []AuditLog) (int64, error) {
	now := time.Now()
	n, err := s.pool.CopyFrom(ctx, pgx.Identifier{"admin_audit_log"}, auditLogColumns,
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			e := &rows[i]
			return []any{
				logText(e.RequestID, maxLogText), logTime(e.Time, now), logText(e.Actor, maxLogText),
				logText(e.Action, maxLogText), logText(e.Target, maxLogText), auditJSON(e.Before), auditJSON(e.After),
			}, nil
		}))
	if err != nil {
		return n, fmt.Errorf("copy audit log: %w", err)
	}
	return n, nil
}

// auditJSON is a document for a jsonb column: nil (or JSON null) is NULL.
func auditJSON(doc json.RawMessage) any {
	if len(doc) == 0 || string(doc) == "null" {
		return nil
	}
	return string(doc)
}

// AuditStore reads the admin audit trail (GET /admin/audit).
type AuditStore struct {
	pool *pgxpool.Pool
}

// NewAuditStore wraps the logging database's pool. It does no I/O.
func NewAuditStore(pool *pgxpool.Pool) *AuditStore { return &AuditStore{pool: pool} }

// AuditQuery selects a page of the audit trail, newest first. Empty
// filters match everything.
type AuditQuery struct {
	Action string
	Target string
	Actor  string
	Limit  int
	Offset int
}

// MaxAuditLimit bounds one page.
const MaxAuditLimit = 1000

// AuditRow is one audit entry as GET /admin/audit answers it.
type AuditRow struct {
	ID        int64           `json:"id"`
	CreatedAt time.Time       `json:"created_at"`
	RequestID string          `json:"request_id"`
	Actor     string          `json:"actor"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

// ListAudit returns one page of the trail, newest first.
func (s *AuditStore) ListAudit(ctx context.Context, q AuditQuery) ([]AuditRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, created_at, request_id, actor, action, target,
			coalesce(before, 'null'::jsonb), coalesce(after, 'null'::jsonb)
		FROM admin_audit_log
		WHERE ($1 = '' OR action = $1) AND ($2 = '' OR target = $2) AND ($3 = '' OR actor = $3)
		ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5`,
		q.Action, q.Target, q.Actor, q.Limit, q.Offset)
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditRow, error) {
		var a AuditRow
		var before, after []byte
		err := r.Scan(&a.ID, &a.CreatedAt, &a.RequestID, &a.Actor, &a.Action, &a.Target, &before, &after)
		a.Before, a.After = before, after
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit log: %w", err)
	}
	return out, nil
}
