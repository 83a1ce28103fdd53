package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rollbackTimeout bounds the ROLLBACK after a failed transaction. It runs
// even when the caller's context is gone, so the connection goes back to
// the pool clean instead of being destroyed.
const rollbackTimeout = 5 * time.Second

// opPlan is one operation's built statements and where their results go.
type opPlan struct {
	stmts []stmt
	fetch *fetchScan // fetch operations
	parts [][]byte   // mutation operations: returned rows per statement
	count []int64    // mutation operations: affected rows per statement
}

// Transaction runs req's operations in one database transaction, in order;
// any failure rolls back all of them.
//
// Execution shape: every statement is built first (with the same builders
// the routes use, so an operation runs exactly the SQL its route would),
// then the whole transaction goes to the server as ONE pgx.Batch:
// BEGIN [ISOLATION LEVEL …] [READ ONLY] [DEFERRABLE]; the statements; COMMIT. No
// statement depends on another's result, so nothing needs a round trip of
// its own: one round trip once pgx has prepared the statement shapes on
// the connection (two the first time, the prepare being a pipelined round
// trip of its own), plus a ROLLBACK when something failed. pgx.BeginFunc
// would cost a round trip per statement plus BEGIN and COMMIT.
//
// A failure is an *gateway.OpError naming the operation whose statement
// failed (a statement that fails to prepare is traced back by its text); a
// failing COMMIT (a serialization failure, a deferred constraint) is
// returned as is, since no single operation caused it.
func (db *DB) Transaction(ctx context.Context, req gateway.TransactionRequest) (gateway.TransactionResult, error) {
	plans := make([]opPlan, len(req.Ops))
	for i, op := range req.Ops {
		if err := db.planOp(ctx, op, &plans[i]); err != nil {
			return gateway.TransactionResult{}, &gateway.OpError{Index: i, ID: op.ID, Err: err}
		}
	}

	// In a recorded run (deferred execution, deferred.go) the run's
	// transaction, opened with these options, is this transaction: the
	// ledger row commits with it.
	recorded := db.pinnedIn(ctx) != nil
	conn, release, err := db.take(ctx, txOptions(req.Options))
	if err != nil {
		return gateway.TransactionResult{}, err
	}
	defer release()

	b := &pgx.Batch{}
	if !recorded {
		b.BeginTx(txOptions(req.Options))
	}
	if db.timeout != "" {
		b.Queue(setTimeoutSQL, db.timeout) // local to the transaction
	}
	type queued struct {
		op int
		s  stmt
	}
	var run []queued
	for i, p := range plans {
		for _, s := range p.stmts {
			b.Queue(s.sql, s.args...)
			run = append(run, queued{i, s})
		}
	}
	if !recorded {
		b.Queue("COMMIT")
	}

	br := conn.SendBatch(ctx, b)
	defer func() {
		if recorded {
			return // RunRecorded commits or rolls back
		}
		// A no-op once COMMIT ran (the batch closed the transaction); after
		// a failure it is the ROLLBACK that returns the connection clean.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = br.Tx().Rollback(rctx)
	}()

	failed := -1 // operation whose statement failed
	if !recorded {
		_, err = br.Exec() // BEGIN
	}
	if err == nil && db.timeout != "" {
		_, err = br.Exec()
	}
	for _, q := range run {
		if err != nil {
			break
		}
		if err = q.s.scan(br.QueryRow()); err != nil {
			failed = q.op
		}
	}
	commit := recorded && err == nil
	if err == nil && !recorded {
		_, err = br.Exec()
		commit = err == nil
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if isStaleMetadata(err) {
			db.meta.invalidate()
		}
		if failed < 0 {
			// Failed while pgx prepared or encoded the batch, before
			// anything ran: trace the statement back by its text.
			var pe pgx.ErrPreprocessingBatch
			if errors.As(err, &pe) {
				for _, q := range run {
					if q.s.sql == pe.SQL() {
						failed = q.op
						break
					}
				}
			}
		}
		if failed >= 0 {
			op := req.Ops[failed]
			return gateway.TransactionResult{}, &gateway.OpError{Index: failed, ID: op.ID, Err: fmt.Errorf("%s rows: %w", op.Kind, err)}
		}
		if !commit {
			return gateway.TransactionResult{}, fmt.Errorf("transaction: %w", err)
		}
	}

	out := gateway.TransactionResult{Results: make([]gateway.OpResult, len(req.Ops))}
	seen := map[gateway.TableRef]bool{}
	for i, op := range req.Ops {
		r := gateway.OpResult{ID: op.ID, Kind: op.Kind}
		p := plans[i]
		if p.fetch != nil {
			rows, count, err := p.fetch.result(op.Fetch.Count)
			fr := gateway.FetchResult{Rows: rows, Count: count}
			if err != nil {
				return gateway.TransactionResult{}, err
			}
			r.Rows, r.Count = fr.Rows, fr.Count
		} else {
			var total int64
			for _, c := range p.count {
				total += c
			}
			r.Rows, r.Count = joinArrays(p.parts), &total
		}
		out.Results[i] = r
		if t := op.Table(); op.Writes() && !seen[t] {
			seen[t] = true
			out.Written = append(out.Written, t)
		}
	}
	return out, nil
}

// planOp builds op's statements into p with its route's builder.
func (db *DB) planOp(ctx context.Context, op gateway.TransactionOp, p *opPlan) error {
	if op.Fetch != nil {
		fp, err := db.PlanFetch(ctx, op.Fetch, nil)
		if err != nil {
			return err
		}
		p.fetch = &fetchScan{}
		p.stmts = p.fetch.stmts(&fp.q, fp.head)
		return nil
	}
	var texts []sqlText
	err := db.withTable(ctx, op.Table(), func(m *tableMeta) error {
		var err error
		switch {
		case op.Insert != nil:
			texts, err = buildInsert(m, *op.Insert)
		case op.Update != nil:
			var t sqlText
			t, err = buildUpdate(m, *op.Update)
			texts = []sqlText{t}
		case op.Delete != nil:
			var t sqlText
			t, err = buildDelete(m, *op.Delete)
			texts = []sqlText{t}
		default:
			err = gateway.Errorf(gateway.CodeInvalidTransactionPayload, "operation has no payload")
		}
		return err
	})
	if err != nil {
		return err
	}
	p.parts = make([][]byte, len(texts))
	p.count = make([]int64, len(texts))
	p.stmts = make([]stmt, len(texts))
	for i, t := range texts {
		p.stmts[i] = stmt{t.sql, t.args, func(r pgx.Row) error { return r.Scan(&p.parts[i], &p.count[i]) }}
	}
	return nil
}

// txOptions translates the domain's transaction modes.
func txOptions(o gateway.TransactionOptions) pgx.TxOptions {
	var t pgx.TxOptions
	switch o.Isolation {
	case gateway.IsolationReadCommitted:
		t.IsoLevel = pgx.ReadCommitted
	case gateway.IsolationRepeatableRead:
		t.IsoLevel = pgx.RepeatableRead
	case gateway.IsolationSerializable:
		t.IsoLevel = pgx.Serializable
	}
	if o.ReadOnly {
		t.AccessMode = pgx.ReadOnly
	}
	if o.Deferrable {
		t.DeferrableMode = pgx.Deferrable
	}
	return t
}

// Idempotency records keep the rules of gateway.RunIdempotent: committed
// results answer for gateway.IdempotencyRetention, reservations go stale
// after gateway.IdempotencyStaleAfter.
const (
	DefaultIdempotencyRetention = gateway.IdempotencyRetention
	idempotencyStaleAfter       = gateway.IdempotencyStaleAfter
)

// TransactionResults remembers committed transaction responses by
// (scope, idempotency_key) in the logging database (table
// gateway_transactions, migration 003), so a retried request gets the first
// answer instead of running again, whichever gateway process it reaches.
type TransactionResults struct {
	pool      *pgxpool.Pool
	retention time.Duration
}

// NewTransactionResults stores results in pool (the logging database).
// retention <= 0 means DefaultIdempotencyRetention.
func NewTransactionResults(pool *pgxpool.Pool, retention time.Duration) *TransactionResults {
	if retention <= 0 {
		retention = DefaultIdempotencyRetention
	}
	return &TransactionResults{pool: pool, retention: retention}
}

// reserveSQL claims (scope, key) for a run: it inserts a pending row, or
// takes over a row whose reservation went stale or whose result expired.
// When it claims nothing, the second half returns the row that holds the
// key (not visible when the holder committed after this statement began:
// no row at all, which callers treat like a pending one).
const reserveSQL = `WITH claim AS (
  INSERT INTO gateway_transactions AS g (scope, idempotency_key, request_hash)
  VALUES ($1, $2, $3)
  ON CONFLICT (scope, idempotency_key) DO UPDATE
    SET request_hash = excluded.request_hash, response = NULL, created_at = now(), completed_at = NULL
    WHERE (g.response IS NULL AND g.created_at < now() - $4::float8 * interval '1 second')
       OR (g.response IS NOT NULL AND g.completed_at < now() - $5::float8 * interval '1 second')
  RETURNING true AS claimed
)
SELECT true, NULL::text, NULL::text FROM claim
UNION ALL
SELECT false, g.request_hash, g.response::text FROM gateway_transactions g
WHERE g.scope = $1 AND g.idempotency_key = $2 AND NOT EXISTS (SELECT 1 FROM claim)`

// Reserve claims key in scope for a request whose body hashes to hash.
// Outcomes: claimed (run the transaction, then Complete or Release);
// replay non-nil (the committed response to send again); or a 409
// idempotency_conflict when the key is held by a transaction still running
// or was used with a different request.
func (s *TransactionResults) Reserve(ctx context.Context, scope, key, hash string) (replay []byte, claimed bool, err error) {
	rows, err := s.pool.Query(ctx, reserveSQL, scope, key, hash, idempotencyStaleAfter.Seconds(), s.retention.Seconds())
	if err != nil {
		return nil, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	var (
		got          bool
		storedHash   *string
		response     *string
		claimedByRow bool
	)
	for rows.Next() {
		if err := rows.Scan(&claimedByRow, &storedHash, &response); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("reserve idempotency key: %w", err)
		}
		got = true
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("reserve idempotency key: %w", err)
	}
	switch {
	case got && claimedByRow:
		return nil, true, nil
	case got && storedHash != nil && *storedHash != hash:
		return nil, false, gateway.IdempotencyMismatch()
	case got && response != nil:
		return []byte(*response), false, nil
	}
	return nil, false, gateway.IdempotencyInProgress()
}

// Complete stores the committed response for a key claimed by Reserve.
func (s *TransactionResults) Complete(ctx context.Context, scope, key string, response []byte) error {
	_, err := s.pool.Exec(ctx,
		`UPDATE gateway_transactions SET response = $3::text::json, completed_at = now() WHERE scope = $1 AND idempotency_key = $2`,
		scope, key, string(response))
	if err != nil {
		return fmt.Errorf("store transaction result: %w", err)
	}
	return nil
}

// Release gives up a claim whose transaction did not commit, so the
// request may be retried with the same key.
func (s *TransactionResults) Release(ctx context.Context, scope, key string) error {
	_, err := s.pool.Exec(ctx,
		`DELETE FROM gateway_transactions WHERE scope = $1 AND idempotency_key = $2 AND response IS NULL`, scope, key)
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
