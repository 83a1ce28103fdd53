package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// transactionResults remembers committed transaction answers by
// idempotency key. *postgres.TransactionResults (the logging database) is
// used when a control plane is configured, memoryResults otherwise.
type transactionResults interface {
	// Reserve claims key for a run (claimed), or returns the committed
	// answer to replay, or a 409 idempotency_conflict.
	Reserve(ctx context.Context, scope, key, hash string) (replay []byte, claimed bool, err error)
	// Complete stores the committed answer of a claimed key.
	Complete(ctx context.Context, scope, key string, response []byte) error
	// Release drops a claim whose transaction did not commit.
	Release(ctx context.Context, scope, key string) error
}

// controlPlane is implemented by *registry.Registry: the logging database's
// pool, nil when none is configured.
type controlPlane interface {
	ControlPlane() *pgxpool.Pool
}

// Bounds of the in-process idempotency store (no logging database).
const (
	memoryResultsMax = 10000
	// idempotencyStale is how long a reservation may stay unfinished before
	// a retry may take the key over (matches the database store).
	idempotencyStale = 10 * time.Minute
)

// transactionRoute returns the POST /gateway/transaction handler. The
// in-process idempotency store lives in the closure, one per Server; it is
// only used when the registry has no logging database.
func (s *Server) transactionRoute() gin.HandlerFunc {
	mem := newMemoryResults(memoryResultsMax, postgres.DefaultIdempotencyRetention, time.Now)
	return func(c *gin.Context) { s.transaction(c, mem) }
}

// transactionStore picks where idempotent answers are kept: the logging
// database when configured (shared by every gateway process), else mem.
func (s *Server) transactionStore(mem transactionResults) transactionResults {
	if cp, ok := s.clients.(controlPlane); ok {
		if pool := cp.ControlPlane(); pool != nil {
			return postgres.NewTransactionResults(pool, 0)
		}
	}
	return mem
}

// transaction serves POST /gateway/transaction (spec §3.9): the operations
// run in one database transaction, in order, all or nothing.
//
// Decisions:
//   - every operation's table right (fetch → read, insert/update → write,
//     delete → delete) is checked before anything runs; a missing one is 403
//     naming the operation;
//   - a failure answers with the failing operation's own error envelope
//     (its status: 409 for a unique violation, 404 for an unknown table, …),
//     the message prefixed with the operation ("operation 3 (c): …"),
//     PostgreSQL's wording kept verbatim in "error", and data.details
//     carrying operation_id, operation_index (0-based) and committed:false;
//   - a repeated idempotency_key (same database, same API key) answers the
//     first committed response byte for byte, with header
//     Idempotent-Replayed: true, without running again. Only committed
//     answers are kept, so a failed transaction may be retried with its key.
//     The same key with a different body, or while the first run is still
//     going, is 409 idempotency_conflict.
func (s *Server) transaction(c *gin.Context, mem transactionResults) {
	const op = "transaction"
	var body []byte
	res, p, req, ok := decoded(s, c, op, func(b []byte) (gateway.TransactionRequest, error) {
		body = b
		return gateway.DecodeTransaction(b, stripNullsHeader(c), s.opts.Limits)
	})
	if !ok {
		return
	}
	if a := s.authn(); a != nil {
		for i, o := range req.Ops {
			t := o.Table()
			if err := a.AuthorizeTable(p, t.Schema, t.Name, tableAction[string(o.Kind)]); err != nil {
				s.writeOpError(c, &gateway.OpError{Index: i, ID: o.ID, Err: err})
				return
			}
		}
	}
	ctx := c.Request.Context()

	var (
		store   transactionResults
		scope   string
		claimed bool
	)
	if req.IdempotencyKey != "" {
		store = s.transactionStore(mem)
		scope = res.Scope + "|" + p.KeyID // tenants never share a key space
		replay, ok, err := store.Reserve(ctx, scope, req.IdempotencyKey, requestHash(body))
		if err != nil {
			writeError(c, s.log, op, err)
			return
		}
		if !ok {
			c.Header("Idempotent-Replayed", "true")
			c.Data(200, "application/json; charset=utf-8", replay)
			return
		}
		claimed = true
	}

	out, err := res.DB.Transaction(ctx, req)
	if err != nil {
		if claimed {
			if rerr := store.Release(context.WithoutCancel(ctx), scope, req.IdempotencyKey); rerr != nil && s.log != nil {
				s.log.WarnContext(ctx, "release idempotency key", "err", rerr)
			}
		}
		s.writeOpError(c, err)
		return
	}
	// Committed: cached reads of the written tables must not outlive the
	// answer (see Server.invalidate).
	for _, t := range out.Written {
		s.invalidate(ctx, res, t)
	}
	answer, err := transactionBody(req, out)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	if claimed {
		// The transaction committed: answer it whatever happens here. A
		// result that could not be stored leaves the reservation pending, so
		// a retry gets 409 until it goes stale rather than running twice.
		if cerr := store.Complete(context.WithoutCancel(ctx), scope, req.IdempotencyKey, answer); cerr != nil && s.log != nil {
			s.log.ErrorContext(ctx, "store transaction result", "err", cerr)
		}
	}
	c.Data(200, "application/json; charset=utf-8", answer)
}

// writeOpError writes err; an operation's failure carries which operation
// failed (see transaction).
func (s *Server) writeOpError(c *gin.Context, err error) {
	const op = "transaction"
	var oe *gateway.OpError
	if !errors.As(err, &oe) {
		writeError(c, s.log, op, err)
		return
	}
	mapped := postgres.MapError(oe.Err)
	if mapped.Code == gateway.CodeInternal {
		writeError(c, s.log, op, err) // logged there, never shown
		return
	}
	e := *mapped
	label := gateway.OpLabel(oe.Index, oe.ID)
	if !strings.HasPrefix(e.Message, label) {
		e.Message = label + ": " + e.Message
	}
	e.Details = make(map[string]any, len(mapped.Details)+3)
	for k, v := range mapped.Details {
		e.Details[k] = v
	}
	e.Details["operation_id"] = oe.ID
	e.Details["operation_index"] = oe.Index
	e.Details["committed"] = false
	writeError(c, s.log, op, &e)
}

// transactionBody renders the committed answer; the rows PostgreSQL built
// are copied, not re-encoded.
func transactionBody(req gateway.TransactionRequest, out gateway.TransactionResult) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"status":"success","message":"Transaction committed","data":{"committed":true,"results":[`)
	for i, r := range out.Results {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":`)
		writeString(&b, r.ID)
		b.WriteString(`,"ok":true,"data":`)
		b.Write(r.Rows)
		b.WriteString(`,"count":`)
		if r.Count != nil {
			n, _ := json.Marshal(*r.Count)
			b.Write(n)
		} else {
			b.WriteString("null")
		}
		b.WriteString(`,"error":null`)
		if f := req.Ops[i].Fetch; f != nil && f.Post != nil {
			grouped, err := postProcess(r.Rows, *f.Post)
			if err != nil {
				return nil, err
			}
			g, err := json.Marshal(map[string]any{"grouped": grouped})
			if err != nil {
				return nil, err
			}
			b.WriteString(`,"post_processing":`)
			b.Write(g)
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}}`)
	return b.Bytes(), nil
}

// requestHash identifies a transaction body for idempotency: the same key
// with a different body is refused. Insignificant whitespace is ignored.
func requestHash(body []byte) string {
	var compact bytes.Buffer
	if json.Compact(&compact, body) != nil {
		compact.Reset()
		compact.Write(body)
	}
	sum := sha256.Sum256(compact.Bytes())
	return hex.EncodeToString(sum[:])
}

// memoryResults is the in-process idempotency store: bounded (the oldest
// entries go first when full) and expiring (entries older than ttl are
// ignored and replaced). It answers retries reaching this process only;
// configure a logging database for several processes.
type memoryResults struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	m   map[string]*memoryResult
}

type memoryResult struct {
	hash     string
	response []byte // nil while the transaction runs
	at       time.Time
}

func newMemoryResults(max int, ttl time.Duration, now func() time.Time) *memoryResults {
	return &memoryResults{max: max, ttl: ttl, now: now, m: map[string]*memoryResult{}}
}

func (r *memoryResults) Reserve(_ context.Context, scope, key, hash string) ([]byte, bool, error) {
	k := scope + "\x00" + key
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[k]; ok {
		live := (e.response == nil && now.Sub(e.at) < idempotencyStale) || (e.response != nil && now.Sub(e.at) < r.ttl)
		if live {
			switch {
			case e.hash != hash:
				return nil, false, postgres.IdempotencyMismatch()
			case e.response == nil:
				return nil, false, postgres.IdempotencyInProgress()
			}
			return e.response, false, nil
		}
		delete(r.m, k)
	}
	if len(r.m) >= r.max {
		r.evict(now)
	}
	r.m[k] = &memoryResult{hash: hash, at: now}
	return nil, true, nil
}

// evict drops expired entries, then, if still full, the oldest one.
func (r *memoryResults) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, e := range r.m {
		if (e.response == nil && now.Sub(e.at) >= idempotencyStale) || (e.response != nil && now.Sub(e.at) >= r.ttl) {
			delete(r.m, k)
			continue
		}
		if oldest == "" || e.at.Before(oldestAt) {
			oldest, oldestAt = k, e.at
		}
	}
	if len(r.m) >= r.max && oldest != "" {
		delete(r.m, oldest)
	}
}

func (r *memoryResults) Complete(_ context.Context, scope, key string, response []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[scope+"\x00"+key]; ok {
		e.response = bytes.Clone(response)
		e.at = r.now()
	}
	return nil
}

func (r *memoryResults) Release(_ context.Context, scope, key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := scope + "\x00" + key
	if e, ok := r.m[k]; ok && e.response == nil {
		delete(r.m, k)
	}
	return nil
}
