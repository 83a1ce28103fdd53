package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/gateway"
)

// Deferred requests (spec §5) touch two databases:
//
//   - the logging database holds gateway_deferred_requests, the source of
//     truth for a request's state (DeferredStore);
//   - the target database holds the ledger athena.deferred_requests: a
//     deferred write records its request id and result envelope in the same
//     transaction as the write (DB.RunRecorded), so an activity that runs
//     again after the write committed finds the id and returns the stored
//     result instead of writing twice.

// LedgerSchema is the schema of the ledger on every target database. It is
// a system schema (gateway.SystemSchema): never exposed through the gateway.
const LedgerSchema = "athena"

// ledgerDDL creates the ledger on first use. Both statements are
// idempotent; concurrent first uses may still collide on the catalog's
// unique indexes, which ensureLedger treats as "someone else created it".
const ledgerDDL = `CREATE SCHEMA IF NOT EXISTS athena;
CREATE TABLE IF NOT EXISTS athena.deferred_requests (
    request_id  text PRIMARY KEY,
    status      integer     NOT NULL,
    result      jsonb       NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
)`

// pinned is the connection and open transaction of one recorded run: while
// the run's context carries it, every write operation of its DB (take)
// runs on that connection, inside that transaction.
type pinned struct {
	db    *DB
	conn  *pgxpool.Conn
	begun bool
	// raw is set when raw SQL ran on the connection: its session is reset
	// when the run ends (releaseRaw).
	raw bool
}

type pinnedKey struct{}

// pinnedIn returns the run of ctx pinned to db, if any.
func (db *DB) pinnedIn(ctx context.Context) *pinned {
	p, _ := ctx.Value(pinnedKey{}).(*pinned)
	if p == nil || p.db != db {
		return nil
	}
	return p
}

// begin opens the run's transaction on first use, with the options of the
// first operation (a deferred transaction keeps its isolation level).
func (p *pinned) begin(ctx context.Context, opts pgx.TxOptions) error {
	if p.begun {
		return nil
	}
	if _, err := p.conn.BeginTx(ctx, opts); err != nil {
		return fmt.Errorf("begin recorded run: %w", err)
	}
	p.begun = true
	return nil
}

// take returns a connection for an operation and the function that gives
// it back: a pooled one, or inside a recorded run the run's connection
// (its transaction opened with opts), which is given back by RunRecorded.
func (db *DB) take(ctx context.Context, opts pgx.TxOptions) (*pgxpool.Conn, func(), error) {
	if p := db.pinnedIn(ctx); p != nil {
		if err := p.begin(ctx, opts); err != nil {
			return nil, nil, err
		}
		return p.conn, func() {}, nil
	}
	conn, err := db.acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	return conn, conn.Release, nil
}

// Recorded is what a recorded run produced: the HTTP status and envelope
// of the operation's answer.
type Recorded struct {
	Status   int
	Envelope json.RawMessage
}

// ErrLedgerBroken is returned when the operation ended the run's
// transaction itself (raw SQL with COMMIT or ROLLBACK): the write and the
// ledger could not be kept in one transaction.
var ErrLedgerBroken = gateway.Errorf(gateway.CodeInvalidQueryPayload,
	"the deferred request ended its own transaction (COMMIT, ROLLBACK or BEGIN in raw SQL), which deferred execution cannot run exactly once")

// RunRecorded runs op at most once to a committed end for requestID: when
// the ledger already holds requestID, its stored answer is returned with
// replayed true and op does not run. Otherwise op runs with a context in
// which every write of db goes through one connection and transaction; when
// op's answer is a success (status < 300) the ledger row (id, status,
// envelope) is inserted in that transaction and it commits, else it rolls
// back. A second run racing the first waits on the ledger's primary key and
// then finds the first's row (or, if the first rolled back, runs).
func (db *DB) RunRecorded(ctx context.Context, requestID string, op func(ctx context.Context) (Recorded, error)) (out Recorded, replayed bool, err error) {
	if err := db.ensureLedger(ctx); err != nil {
		return Recorded{}, false, err
	}
	if out, ok, err := db.recorded(ctx, requestID); err != nil || ok {
		return out, ok, err
	}
	conn, err := db.acquire(ctx)
	if err != nil {
		return Recorded{}, false, err
	}
	p := &pinned{db: db, conn: conn}
	defer func() {
		if p.begun {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			_ = conn.Conn().PgConn().Exec(rctx, "ROLLBACK").Close() // no-op after COMMIT
			cancel()
		}
		if p.raw {
			db.releaseRaw(ctx, conn, "")
			return
		}
		conn.Release()
	}()
	out, err = op(context.WithValue(ctx, pinnedKey{}, p))
	if err != nil || out.Status >= 300 {
		return out, false, err
	}
	if !p.begun { // the operation wrote nothing through db: record anyway
		if err := p.begin(ctx, pgx.TxOptions{}); err != nil {
			return Recorded{}, false, err
		}
	}
	if conn.Conn().PgConn().TxStatus() != 'T' {
		return Recorded{}, false, ErrLedgerBroken
	}
	_, err = conn.Exec(ctx, `INSERT INTO athena.deferred_requests (request_id, status, result) VALUES ($1, $2, $3)`,
		requestID, out.Status, []byte(out.Envelope))
	if err == nil {
		_, err = conn.Exec(ctx, "COMMIT")
	}
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "23505" {
			// Another attempt committed the request meanwhile: its answer
			// is the answer, this transaction rolls back.
			if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
				return Recorded{}, false, rerr
			}
			p.begun = false
			got, ok, rerr := db.recorded(ctx, requestID)
			if rerr == nil && ok {
				return got, true, nil
			}
			return Recorded{}, false, errors.Join(err, rerr)
		}
		return Recorded{}, false, fmt.Errorf("record deferred request: %w", err)
	}
	p.begun = false
	if afterCommit != nil {
		if err := afterCommit(requestID); err != nil {
			return Recorded{}, false, err
		}
	}
	return out, false, nil
}

// afterCommit, when set (tests only, SetAfterCommitHook), runs after a
// recorded run committed and before RunRecorded returns: a failure there
// stands for a worker killed between the commit and the activity's
// completion.
var afterCommit func(requestID string) error

// SetAfterCommitHook installs f as the after-commit fault hook and returns
// the function restoring the previous one. For tests.
func SetAfterCommitHook(f func(requestID string) error) (restore func()) {
	prev := afterCommit
	afterCommit = f
	return func() { afterCommit = prev }
}

// recorded reads requestID's ledger row.
func (db *DB) recorded(ctx context.Context, requestID string) (Recorded, bool, error) {
	var out Recorded
	err := db.pool.QueryRow(ctx, `SELECT status, result FROM athena.deferred_requests WHERE request_id = $1`, requestID).
		Scan(&out.Status, &out.Envelope)
	if errors.Is(err, pgx.ErrNoRows) {
		return Recorded{}, false, nil
	}
	if err != nil {
		return Recorded{}, false, fmt.Errorf("read deferred ledger: %w", err)
	}
	return out, true, nil
}

// ledgerOnce remembers, per DB, that the ledger exists.
var ledgerOnce sync.Map // *DB → struct{}

// ensureLedger creates the ledger schema and table on first use.
func (db *DB) ensureLedger(ctx context.Context) error {
	if _, ok := ledgerOnce.Load(db); ok {
		return nil
	}
	_, err := db.pool.Exec(ctx, ledgerDDL)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "23505" || pgErr.Code == "42P06" || pgErr.Code == "42P07") {
		err = nil // created concurrently by another process
	}
	if err != nil {
		return fmt.Errorf("create deferred ledger: %w", err)
	}
	ledgerOnce.Store(db, struct{}{})
	return nil
}

// DeferredState is the state of a deferred request.
type DeferredState string

// The states of gateway_deferred_requests.state.
const (
	DeferredQueued    DeferredState = "queued"
	DeferredRunning   DeferredState = "running"
	DeferredCompleted DeferredState = "completed"
	DeferredFailed    DeferredState = "failed"
)

// DeferredRequest is one row of gateway_deferred_requests.
type DeferredRequest struct {
	ID         string            `json:"request_id"`
	Client     string            `json:"client"`
	Operation  string            `json:"operation"`
	Method     string            `json:"-"`
	Path       string            `json:"-"`
	Headers    map[string]string `json:"-"`
	Body       json.RawMessage   `json:"-"`
	Principal  json.RawMessage   `json:"-"`
	State      DeferredState     `json:"state"`
	Attempts   int               `json:"attempts"`
	StatusCode *int              `json:"status_code"`
	Result     json.RawMessage   `json:"result"`
	Error      *string           `json:"error"`
	WorkflowID string            `json:"workflow_id"`
	CreatedAt  time.Time         `json:"created_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	StartedAt  *time.Time        `json:"started_at"`
	EndedAt    *time.Time        `json:"completed_at"`
}

// DeferredStore keeps gateway_deferred_requests on the logging database.
type DeferredStore struct{ pool *pgxpool.Pool }

// NewDeferredStore returns the store over the logging database's pool.
func NewDeferredStore(pool *pgxpool.Pool) *DeferredStore { return &DeferredStore{pool: pool} }

const deferredColumns = `request_id, client_name, operation, coalesce(method, ''), coalesce(path, ''), headers, payload,
	principal, state, attempts, status_code, result, error, coalesce(workflow_id, ''), created_at, updated_at, started_at, completed_at`

func scanDeferred(row pgx.Row) (DeferredRequest, error) {
	var r DeferredRequest
	var headers []byte
	err := row.Scan(&r.ID, &r.Client, &r.Operation, &r.Method, &r.Path, &headers, &r.Body,
		&r.Principal, &r.State, &r.Attempts, &r.StatusCode, &r.Result, &r.Error, &r.WorkflowID,
		&r.CreatedAt, &r.UpdatedAt, &r.StartedAt, &r.EndedAt)
	if err != nil {
		return r, err
	}
	if len(headers) > 0 {
		if err := json.Unmarshal(headers, &r.Headers); err != nil {
			return r, fmt.Errorf("deferred request headers: %w", err)
		}
	}
	return r, nil
}

// Create inserts r as queued.
func (s *DeferredStore) Create(ctx context.Context, r DeferredRequest) error {
	headers, err := json.Marshal(r.Headers)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO gateway_deferred_requests
		(request_id, client_name, operation, method, path, headers, payload, principal, workflow_id, state)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'queued')`,
		r.ID, r.Client, r.Operation, r.Method, r.Path, headers, []byte(r.Body), []byte(r.Principal), r.WorkflowID)
	if err != nil {
		return fmt.Errorf("queue deferred request: %w", err)
	}
	return nil
}

// Discard deletes a queued request that was never acknowledged (its
// workflow could not be started).
func (s *DeferredStore) Discard(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM gateway_deferred_requests WHERE request_id = $1 AND state = 'queued' AND attempts = 0`, id)
	return err
}

// Get reads one request; 404 not_found when there is none.
func (s *DeferredStore) Get(ctx context.Context, id string) (DeferredRequest, error) {
	r, err := scanDeferred(s.pool.QueryRow(ctx, `SELECT `+deferredColumns+` FROM gateway_deferred_requests WHERE request_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, gateway.Errorf(gateway.CodeNotFound, "no deferred request %q", id)
	}
	return r, err
}

// Start marks an attempt of the request: running, one more attempt. A
// request already completed or failed is returned unchanged with started
// false (a late duplicate attempt must not reopen it).
func (s *DeferredStore) Start(ctx context.Context, id string) (r DeferredRequest, started bool, err error) {
	r, err = scanDeferred(s.pool.QueryRow(ctx, `UPDATE gateway_deferred_requests
		SET state = 'running', attempts = attempts + 1, started_at = coalesce(started_at, now()), updated_at = now()
		WHERE request_id = $1 AND state IN ('queued', 'running')
		RETURNING `+deferredColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		r, err = s.Get(ctx, id)
		return r, false, err
	}
	return r, err == nil, err
}

// Finish records the end of the request: completed with the envelope of a
// success, failed with the envelope (and message) of a failure. A completed
// request is never turned into a failed one.
func (s *DeferredStore) Finish(ctx context.Context, id string, state DeferredState, status int, envelope json.RawMessage, errText string) error {
	var st *int
	if status != 0 {
		st = &status
	}
	var msg *string
	if errText != "" {
		msg = &errText
	}
	var env []byte
	if len(envelope) > 0 {
		env = envelope
	}
	_, err := s.pool.Exec(ctx, `UPDATE gateway_deferred_requests
		SET state = $2, status_code = coalesce($3, status_code), result = coalesce($4, result), error = $5,
		    updated_at = now(), completed_at = now()
		WHERE request_id = $1 AND state <> 'completed'`, id, string(state), st, env, msg)
	if err != nil {
		return fmt.Errorf("finish deferred request: %w", err)
	}
	return nil
}

// Retrying records why the last attempt of a running request failed
// (transiently: another attempt follows), for the status route.
func (s *DeferredStore) Retrying(ctx context.Context, id, errText string) error {
	_, err := s.pool.Exec(ctx, `UPDATE gateway_deferred_requests SET error = $2, updated_at = now()
		WHERE request_id = $1 AND state = 'running'`, id, errText)
	return err
}

// Requeue turns a failed request back into a queued one and returns it as
// it was; a request in another state answers 409
// deferred_request_not_failed, an unknown one 404.
func (s *DeferredStore) Requeue(ctx context.Context, id string) (DeferredRequest, error) {
	prev, err := scanDeferred(s.pool.QueryRow(ctx, `WITH old AS (
			SELECT * FROM gateway_deferred_requests WHERE request_id = $1 AND state = 'failed' FOR UPDATE
		), upd AS (
			UPDATE gateway_deferred_requests d SET state = 'queued', error = NULL, result = NULL, status_code = NULL,
			       completed_at = NULL, updated_at = now()
			FROM old WHERE d.request_id = old.request_id
		)
		SELECT `+deferredColumns+` FROM old`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		cur, gerr := s.Get(ctx, id)
		if gerr != nil {
			return cur, gerr
		}
		return cur, gateway.Errorf(gateway.CodeDeferredNotFailed, "deferred request %q is %s: only a failed request can be requeued", id, cur.State)
	}
	return prev, err
}

// Restore puts a requeued request back as it was before Requeue (its new
// run could not be started).
func (s *DeferredStore) Restore(ctx context.Context, prev DeferredRequest) error {
	_, err := s.pool.Exec(ctx, `UPDATE gateway_deferred_requests
		SET state = $2, error = $3, result = $4, status_code = $5, completed_at = $6, updated_at = now()
		WHERE request_id = $1 AND state = 'queued'`,
		prev.ID, string(prev.State), prev.Error, []byte(prev.Result), prev.StatusCode, prev.EndedAt)
	return err
}
