package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultStatsFlushRetention is how long applied flush ids are remembered.
// A retry of a flush older than this would count twice; Temporal gives up
// on a flush long before.
const DefaultStatsFlushRetention = 7 * 24 * time.Hour

// ClientStats is one client_statistics row.
type ClientStats struct {
	Client        string     `json:"client_name"`
	Total         int64      `json:"total_requests"`
	Successful    int64      `json:"successful_requests"`
	Failed        int64      `json:"failed_requests"`
	Cached        int64      `json:"cached_requests"`
	LastRequestAt *time.Time `json:"last_request_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// TableStats is one client_table_statistics row.
type TableStats struct {
	Client        string     `json:"client_name"`
	Table         string     `json:"table_name"`
	Operation     string     `json:"operation"`
	Total         int64      `json:"total_requests"`
	Successful    int64      `json:"successful_requests"`
	Failed        int64      `json:"failed_requests"`
	Cached        int64      `json:"cached_requests"`
	LastRequestAt *time.Time `json:"last_request_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
}

// OperationLogRow is one gateway_operation_log row, as the drill-down shows it.
type OperationLogRow struct {
	ID         int64     `json:"id"`
	RequestID  string    `json:"request_id"`
	CreatedAt  time.Time `json:"created_at"`
	Client     string    `json:"client_name"`
	Operation  string    `json:"operation"`
	Table      *string   `json:"table_name"`
	StatusCode int       `json:"status_code"`
	DurationMS float64   `json:"duration_ms"`
	Rows       *int64    `json:"rows"`
	Error      *string   `json:"error"`
	Message    *string   `json:"message"`
	CacheKey   *string   `json:"cache_key"`
}

// Drilldown selects operation log rows of one client, newest first.
type Drilldown struct {
	Client     string
	Table      string // "": every table
	Operation  string // "": every operation
	ErrorsOnly bool   // status_code >= 400
	Limit      int    // <= 0: 100
	Offset     int
}

// StatsStore reads and writes the statistics tables of the logging database.
type StatsStore struct {
	pool      *pgxpool.Pool
	retention time.Duration
}

// NewStatsStore wraps the logging database's pool. It does no I/O.
func NewStatsStore(pool *pgxpool.Pool) *StatsStore {
	return &StatsStore{pool: pool, retention: DefaultStatsFlushRetention}
}

// Apply adds d to client_statistics and client_table_statistics in one
// transaction, one statement per table, and records flushID in
// stats_flushes in the same transaction. When flushID was already applied
// it changes nothing and returns applied=false: a retried activity never
// counts twice. Two concurrent Apply calls with one flush id serialise on
// the stats_flushes primary key.
func (s *StatsStore) Apply(ctx context.Context, flushID string, d gateway.StatsDelta) (applied bool, err error) {
	if flushID == "" {
		return false, errors.New("stats: empty flush id")
	}
	d = d.Merged() // one row per key, locked in key order
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("stats: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // no-op after Commit

	tag, err := tx.Exec(ctx, `INSERT INTO stats_flushes (flush_id) VALUES ($1) ON CONFLICT (flush_id) DO NOTHING`, flushID)
	if err != nil {
		return false, fmt.Errorf("stats: record flush: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil // already applied
	}
	if n := len(d.Clients); n > 0 {
		names, total, ok, failed, cached, last := make([]string, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]*time.Time, n)
		for i, c := range d.Clients {
			names[i], total[i], ok[i], failed[i], cached[i], last[i] = c.Client, c.Total, c.Successful, c.Failed, c.Cached, timeOrNil(c.LastRequestAt)
		}
		if _, err := tx.Exec(ctx, applyClientStatsSQL, names, total, ok, failed, cached, last); err != nil {
			return false, fmt.Errorf("stats: client_statistics: %w", err)
		}
	}
	if n := len(d.Tables); n > 0 {
		names, tables, ops := make([]string, n), make([]string, n), make([]string, n)
		total, ok, failed, cached, last := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]*time.Time, n)
		for i, t := range d.Tables {
			names[i], tables[i], ops[i] = t.Client, t.Table, t.Operation
			total[i], ok[i], failed[i], cached[i], last[i] = t.Total, t.Successful, t.Failed, t.Cached, timeOrNil(t.LastRequestAt)
		}
		if _, err := tx.Exec(ctx, applyTableStatsSQL, names, tables, ops, total, ok, failed, cached, last); err != nil {
			return false, fmt.Errorf("stats: client_table_statistics: %w", err)
		}
	}
	if s.retention > 0 {
		// Bounded prune of old flush ids; cheap thanks to the applied_at index.
		if _, err := tx.Exec(ctx, `DELETE FROM stats_flushes WHERE flush_id IN (
			SELECT flush_id FROM stats_flushes WHERE applied_at < now() - $1::interval LIMIT 1000)`,
			strconv.FormatInt(int64(s.retention/time.Second), 10)+" seconds"); err != nil {
			return false, fmt.Errorf("stats: prune flushes: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("stats: commit: %w", err)
	}
	return true, nil
}

const applyClientStatsSQL = `
INSERT INTO client_statistics AS s
    (client_name, total_requests, successful_requests, failed_requests, cached_requests, last_request_at, updated_at)
SELECT d.client_name, d.total, d.ok, d.failed, d.cached, d.last, now()
FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::timestamptz[])
    AS d(client_name, total, ok, failed, cached, last)
ON CONFLICT (client_name) DO UPDATE SET
    total_requests      = s.total_requests + EXCLUDED.total_requests,
    successful_requests = s.successful_requests + EXCLUDED.successful_requests,
    failed_requests     = s.failed_requests + EXCLUDED.failed_requests,
    cached_requests     = s.cached_requests + EXCLUDED.cached_requests,
    last_request_at     = GREATEST(s.last_request_at, EXCLUDED.last_request_at),
    updated_at          = now()`

const applyTableStatsSQL = `
INSERT INTO client_table_statistics AS s
    (client_name, table_name, operation, total_requests, successful_requests, failed_requests, cached_requests, last_request_at, updated_at)
SELECT d.client_name, d.table_name, d.operation, d.total, d.ok, d.failed, d.cached, d.last, now()
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[], $8::timestamptz[])
    AS d(client_name, table_name, operation, total, ok, failed, cached, last)
ON CONFLICT (client_name, table_name, operation) DO UPDATE SET
    total_requests      = s.total_requests + EXCLUDED.total_requests,
    successful_requests = s.successful_requests + EXCLUDED.successful_requests,
    failed_requests     = s.failed_requests + EXCLUDED.failed_requests,
    cached_requests     = s.cached_requests + EXCLUDED.cached_requests,
    last_request_at     = GREATEST(s.last_request_at, EXCLUDED.last_request_at),
    updated_at          = now()`

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

const clientStatsColumns = `client_name, total_requests, successful_requests, failed_requests, cached_requests, last_request_at, updated_at`

const tableStatsColumns = `client_name, table_name, operation, total_requests, successful_requests, failed_requests, cached_requests, last_request_at, updated_at`

// ListClients returns every client_statistics row, by client name.
func (s *StatsStore) ListClients(ctx context.Context) ([]ClientStats, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientStatsColumns+` FROM client_statistics ORDER BY client_name`)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanClientStats)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	return out, nil
}

// Client returns one client's row (nil when it has none) and its
// per-table rows, by table and operation.
func (s *StatsStore) Client(ctx context.Context, name string) (*ClientStats, []TableStats, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+clientStatsColumns+` FROM client_statistics WHERE client_name = $1`, name)
	if err != nil {
		return nil, nil, fmt.Errorf("stats: %w", err)
	}
	cs, err := pgx.CollectRows(rows, scanClientStats)
	if err != nil {
		return nil, nil, fmt.Errorf("stats: %w", err)
	}
	rows, err = s.pool.Query(ctx, `SELECT `+tableStatsColumns+` FROM client_table_statistics WHERE client_name = $1 ORDER BY table_name, operation`, name)
	if err != nil {
		return nil, nil, fmt.Errorf("stats: %w", err)
	}
	ts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TableStats, error) {
		var t TableStats
		err := r.Scan(&t.Client, &t.Table, &t.Operation, &t.Total, &t.Successful, &t.Failed, &t.Cached, &t.LastRequestAt, &t.UpdatedAt)
		return t, err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("stats: %w", err)
	}
	if ts == nil {
		ts = []TableStats{}
	}
	if len(cs) == 0 {
		return nil, ts, nil
	}
	return &cs[0], ts, nil
}

func scanClientStats(r pgx.CollectableRow) (ClientStats, error) {
	var c ClientStats
	err := r.Scan(&c.Client, &c.Total, &c.Successful, &c.Failed, &c.Cached, &c.LastRequestAt, &c.UpdatedAt)
	return c, err
}

// MaxDrilldownLimit bounds one drill-down page.
const MaxDrilldownLimit = 1000

// Drilldown returns operation log rows of q.Client, newest first, using the
// (client_name, table_name, operation, created_at DESC) index; with
// ErrorsOnly and no table, the partial errors index.
func (s *StatsStore) Drilldown(ctx context.Context, q Drilldown) ([]OperationLogRow, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxDrilldownLimit)
	var sb strings.Builder
	sb.WriteString(`SELECT id, request_id, created_at, client_name, operation, table_name, status_code, duration_ms, rows, error, message, cache_key
FROM gateway_operation_log WHERE client_name = $1`)
	args := []any{q.Client}
	if q.Table != "" {
		args = append(args, q.Table)
		fmt.Fprintf(&sb, " AND table_name = $%d", len(args))
	}
	if q.Operation != "" {
		args = append(args, q.Operation)
		fmt.Fprintf(&sb, " AND operation = $%d", len(args))
	}
	if q.ErrorsOnly {
		sb.WriteString(" AND status_code >= 400")
	}
	args = append(args, limit, max(q.Offset, 0))
	fmt.Fprintf(&sb, " ORDER BY created_at DESC, id DESC LIMIT $%d OFFSET $%d", len(args)-1, len(args))
	rows, err := s.pool.Query(ctx, sb.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("stats: drilldown: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OperationLogRow, error) {
		var o OperationLogRow
		err := r.Scan(&o.ID, &o.RequestID, &o.CreatedAt, &o.Client, &o.Operation, &o.Table, &o.StatusCode, &o.DurationMS, &o.Rows, &o.Error, &o.Message, &o.CacheKey)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("stats: drilldown: %w", err)
	}
	if out == nil {
		out = []OperationLogRow{}
	}
	return out, nil
}

// RebuildResult counts the rows a Rebuild wrote.
type RebuildResult struct {
	Clients int64 `json:"clients"`
	Tables  int64 `json:"tables"`
}

// Rebuild replaces client_statistics (from gateway_request_log, requests
// with a client) and client_table_statistics (from gateway_operation_log;
// an operation counts as cached when its request was) in one transaction.
// It locks both tables, so flushes wait for it rather than interleave.
// Counters of requests already logged but not yet flushed by a gateway
// process are counted again by that flush.
func (s *StatsStore) Rebuild(ctx context.Context) (RebuildResult, error) {
	var res RebuildResult
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE client_statistics, client_table_statistics IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM client_table_statistics`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM client_statistics`); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO client_statistics (client_name, total_requests, successful_requests, failed_requests, cached_requests, last_request_at, updated_at)
SELECT client, count(*), count(*) FILTER (WHERE status_code < 400), count(*) FILTER (WHERE status_code >= 400),
       count(*) FILTER (WHERE cached), max(created_at), now()
FROM gateway_request_log WHERE client IS NOT NULL AND client <> '' GROUP BY client`)
		if err != nil {
			return err
		}
		res.Clients = tag.RowsAffected()
		tag, err = tx.Exec(ctx, `
INSERT INTO client_table_statistics (client_name, table_name, operation, total_requests, successful_requests, failed_requests, cached_requests, last_request_at, updated_at)
SELECT o.client_name, coalesce(o.table_name, ''), o.operation, count(*),
       count(*) FILTER (WHERE o.status_code < 400), count(*) FILTER (WHERE o.status_code >= 400),
       count(*) FILTER (WHERE c.request_id IS NOT NULL), max(o.created_at), now()
FROM gateway_operation_log o
LEFT JOIN (SELECT DISTINCT request_id FROM gateway_request_log WHERE cached) c ON c.request_id = o.request_id
GROUP BY o.client_name, coalesce(o.table_name, ''), o.operation`)
		if err != nil {
			return err
		}
		res.Tables = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return RebuildResult{}, fmt.Errorf("stats: rebuild: %w", err)
	}
	return res, nil
}
