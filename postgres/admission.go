package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// AdmissionEvent is one row of gateway_admission_events: an admission
// decision (spec §5). WindowCount and WindowLimit describe the limit that
// refused the request (< 0: none, stored as NULL).
type AdmissionEvent struct {
	RequestID   string
	Time        time.Time
	Client      string
	Route       string
	Decision    string // admitted, deferred, rejected
	Reason      string // "" for admitted
	WindowCount int
	WindowLimit int
}

var admissionEventColumns = []string{"request_id", "created_at", "client_name", "route", "decision", "reason", "window_count", "window_limit"}

// CopyAdmissions appends rows to gateway_admission_events in one COPY.
func (s *LogStore) CopyAdmissions(ctx context.Context, rows []AdmissionEvent) (int64, error) {
	now := time.Now()
	n, err := s.pool.CopyFrom(ctx, pgx.Identifier{"gateway_admission_events"}, admissionEventColumns,
		pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
			e := &rows[i]
			return []any{
				logText(e.RequestID, maxLogText), logTime(e.Time, now), nullText(e.Client, maxLogText),
				nullText(e.Route, maxLogText), e.Decision, nullText(e.Reason, maxLogText),
				nullInt(e.WindowCount), nullInt(e.WindowLimit),
			}, nil
		}))
	if err != nil {
		return n, fmt.Errorf("copy admission events: %w", err)
	}
	return n, nil
}

const pruneAdmissionEventsSQL = `DELETE FROM gateway_admission_events WHERE ctid IN (
  SELECT ctid FROM gateway_admission_events WHERE created_at < $1 LIMIT $2)`

// PruneAdmissions deletes at most limit admission events created before
// before.
func (s *LogStore) PruneAdmissions(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, pruneAdmissionEventsSQL, before, limit)
	if err != nil {
		return 0, fmt.Errorf("prune admission events: %w", err)
	}
	return tag.RowsAffected(), nil
}

func nullInt(n int) any {
	if n < 0 {
		return nil
	}
	return int32(n)
}

// AdmissionStore reads the admission events and keeps the per-client
// limits ("admission" key of athena_client_configs.config).
type AdmissionStore struct {
	pool *pgxpool.Pool
}

// NewAdmissionStore wraps the logging database's pool. It does no I/O.
func NewAdmissionStore(pool *pgxpool.Pool) *AdmissionStore { return &AdmissionStore{pool: pool} }

// ClientAdmissions returns every client's limit document.
func (s *AdmissionStore) ClientAdmissions(ctx context.Context) (map[string]json.RawMessage, error) {
	rows, err := s.pool.Query(ctx, `SELECT client_name, config->'admission' FROM athena_client_configs
		WHERE jsonb_typeof(config->'admission') = 'object'`)
	if err != nil {
		return nil, fmt.Errorf("read client admission limits: %w", err)
	}
	out := map[string]json.RawMessage{}
	var name string
	var doc []byte
	_, err = pgx.ForEachRow(rows, []any{&name, &doc}, func() error {
		out[name] = append(json.RawMessage(nil), doc...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read client admission limits: %w", err)
	}
	return out, nil
}

// ClientAdmission returns one client's limit document (nil: none).
func (s *AdmissionStore) ClientAdmission(ctx context.Context, client string) (json.RawMessage, error) {
	var doc []byte
	err := s.pool.QueryRow(ctx, `SELECT config->'admission' FROM athena_client_configs
		WHERE client_name = $1 AND jsonb_typeof(config->'admission') = 'object'`, client).Scan(&doc)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read client admission limit: %w", err)
	}
	return doc, nil
}

// SetClientAdmission stores client's limit document (nil removes it),
// keeping the row's other keys, and returns the previous one.
func (s *AdmissionStore) SetClientAdmission(ctx context.Context, client string, doc json.RawMessage) (before json.RawMessage, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var old []byte
		err := tx.QueryRow(ctx, `SELECT config->'admission' FROM athena_client_configs WHERE client_name = $1 FOR UPDATE`, client).Scan(&old)
		if err != nil && err != pgx.ErrNoRows {
			return err
		}
		if string(old) != "null" {
			before = old
		}
		if doc == nil {
			_, err = tx.Exec(ctx, `UPDATE athena_client_configs SET config = config - 'admission', updated_at = now() WHERE client_name = $1`, client)
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO athena_client_configs (client_name, config) VALUES ($1, jsonb_build_object('admission', $2::jsonb))
			ON CONFLICT (client_name) DO UPDATE SET config = athena_client_configs.config || jsonb_build_object('admission', $2::jsonb), updated_at = now()`,
			client, string(doc))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store client admission limit: %w", err)
	}
	return before, nil
}

// AdmissionQuery selects a page of admission events, newest first. Before
// (an event id, 0 = none) pages by keyset; Offset skips rows after it.
// Empty filters match everything.
type AdmissionQuery struct {
	Client   string
	Decision string
	Before   int64
	Limit    int
	Offset   int
}

// MaxAdmissionLimit bounds one page.
const MaxAdmissionLimit = 1000

// AdmissionRow is one event as GET /admin/admission-events answers it.
type AdmissionRow struct {
	ID          int64     `json:"id"`
	CreatedAt   time.Time `json:"created_at"`
	RequestID   string    `json:"request_id"`
	Client      *string   `json:"client_name"`
	Route       *string   `json:"route"`
	Decision    string    `json:"decision"`
	Reason      *string   `json:"reason"`
	WindowCount *int32    `json:"window_count"`
	WindowLimit *int32    `json:"window_limit"`
}

// ListAdmissions returns one page of events, newest first (by id: ids
// grow with insertion, and the COPY batches insert in decision order).
func (s *AdmissionStore) ListAdmissions(ctx context.Context, q AdmissionQuery) ([]AdmissionRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, created_at, request_id, client_name, route, decision, reason, window_count, window_limit
		FROM gateway_admission_events
		WHERE ($1 = '' OR client_name = $1) AND ($2 = '' OR decision = $2) AND ($3 = 0 OR id < $3)
		ORDER BY id DESC LIMIT $4 OFFSET $5`,
		q.Client, q.Decision, q.Before, q.Limit, q.Offset)
	if err != nil {
		return nil, fmt.Errorf("list admission events: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[AdmissionRow])
	if err != nil {
		return nil, fmt.Errorf("list admission events: %w", err)
	}
	return out, nil
}
