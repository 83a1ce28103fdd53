package gateway

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Idempotent transactions (spec §3.9): a repeated idempotency_key answers
// the first committed response instead of running again. The rules live
// here once; a store only keeps the records (postgres.TransactionResults in
// the logging database, MemoryIdempotency in one process).
const (
	// IdempotencyRetention is how long a committed answer is replayed.
	IdempotencyRetention = 24 * time.Hour
	// IdempotencyStaleAfter is how long a reservation may stay unfinished
	// before another request may take the key over (the reserving process
	// died between reserve and complete).
	IdempotencyStaleAfter = 10 * time.Minute
	// MemoryIdempotencyMax bounds the in-process store's entries.
	MemoryIdempotencyMax = 10000
)

// IdempotencyStore keeps idempotency records.
type IdempotencyStore interface {
	// Reserve claims key in scope for a request whose body hashes to hash
	// (claimed), or returns the committed answer to replay, or a 409
	// idempotency_conflict (IdempotencyMismatch, IdempotencyInProgress).
	Reserve(ctx context.Context, scope, key, hash string) (replay []byte, claimed bool, err error)
	// Complete stores the committed answer of a claimed key.
	Complete(ctx context.Context, scope, key string, response []byte) error
	// Release drops a claim whose transaction did not commit.
	Release(ctx context.Context, scope, key string) error
}

// IdempotencyInProgress is the 409 for a key whose transaction is running.
func IdempotencyInProgress() *Error {
	return Errorf(CodeIdempotencyConflict,
		"a transaction with this idempotency_key is still running; retry shortly")
}

// IdempotencyMismatch is the 409 for a key reused with another request.
func IdempotencyMismatch() *Error {
	return Errorf(CodeIdempotencyConflict,
		"idempotency_key was already used with a different request")
}

// RunIdempotent runs run at most once per (scope, key) and returns its
// answer. key "" runs it unconditionally. A key already answered returns
// that answer with replayed set, without running; the same key with a
// different request (by RequestHash), or while its first run is still
// going, is 409 idempotency_conflict. Only committed answers are kept: when
// run fails the claim is released, so the request may be retried with its
// key; a failure run marks with AfterCommit keeps the claim instead (the
// work committed, so it must not run again). When the answer cannot be stored the run still answers (it
// committed); the reservation then stays pending, so a retry gets 409 until
// it goes stale rather than running twice. Store failures after the run are
// logged to log, never returned.
func RunIdempotent(ctx context.Context, store IdempotencyStore, scope, key string, request []byte, log *slog.Logger, run func() ([]byte, error)) (answer []byte, replayed bool, err error) {
	if key == "" {
		answer, err = run()
		return answer, false, err
	}
	replay, claimed, err := store.Reserve(ctx, scope, key, RequestHash(request))
	if err != nil {
		return nil, false, err
	}
	if !claimed {
		return replay, true, nil
	}
	answer, err = run()
	// The run has ended: its bookkeeping must finish even if the caller
	// has gone.
	bg := context.WithoutCancel(ctx)
	if err != nil {
		var ac *afterCommitError
		if errors.As(err, &ac) {
			return nil, false, ac.err
		}
		if rerr := store.Release(bg, scope, key); rerr != nil && log != nil {
			log.WarnContext(ctx, "release idempotency key", "err", rerr)
		}
		return nil, false, err
	}
	if cerr := store.Complete(bg, scope, key, answer); cerr != nil && log != nil {
		log.ErrorContext(ctx, "store transaction result", "err", cerr)
	}
	return answer, false, nil
}

// AfterCommit marks a failure of an idempotent run that happened after its
// work committed (rendering the answer): RunIdempotent returns err but keeps
// the reservation pending, so a retry gets 409 until it goes stale rather
// than running twice.
func AfterCommit(err error) error { return &afterCommitError{err: err} }

type afterCommitError struct{ err error }

func (e *afterCommitError) Error() string { return e.err.Error() }
func (e *afterCommitError) Unwrap() error { return e.err }

// RequestHash identifies a request body for idempotency: the same key with a
// different body is refused. Insignificant whitespace is ignored.
func RequestHash(body []byte) string {
	var compact bytes.Buffer
	if json.Compact(&compact, body) != nil {
		compact.Reset()
		compact.Write(body)
	}
	sum := sha256.Sum256(compact.Bytes())
	return hex.EncodeToString(sum[:])
}

// MemoryIdempotency is the in-process IdempotencyStore: bounded (the oldest
// entries go first when full) and expiring (entries older than the
// retention are ignored and replaced). It answers retries reaching this
// process only; a logging database serves several processes.
type MemoryIdempotency struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	m   map[string]*memoryRecord
}

type memoryRecord struct {
	hash     string
	response []byte // nil while the transaction runs
	at       time.Time
}

// NewMemoryIdempotency keeps at most max records for ttl; now nil means
// time.Now.
func NewMemoryIdempotency(max int, ttl time.Duration, now func() time.Time) *MemoryIdempotency {
	if now == nil {
		now = time.Now
	}
	return &MemoryIdempotency{max: max, ttl: ttl, now: now, m: map[string]*memoryRecord{}}
}

// live reports whether e still holds its key at now.
func (r *MemoryIdempotency) live(e *memoryRecord, now time.Time) bool {
	if e.response == nil {
		return now.Sub(e.at) < IdempotencyStaleAfter
	}
	return now.Sub(e.at) < r.ttl
}

// Reserve implements IdempotencyStore.
func (r *MemoryIdempotency) Reserve(_ context.Context, scope, key, hash string) ([]byte, bool, error) {
	k := scope + "\x00" + key
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[k]; ok {
		if r.live(e, now) {
			switch {
			case e.hash != hash:
				return nil, false, IdempotencyMismatch()
			case e.response == nil:
				return nil, false, IdempotencyInProgress()
			}
			return e.response, false, nil
		}
		delete(r.m, k)
	}
	if len(r.m) >= r.max {
		r.evict(now)
	}
	r.m[k] = &memoryRecord{hash: hash, at: now}
	return nil, true, nil
}

// evict drops expired entries, then, if still full, the oldest one.
func (r *MemoryIdempotency) evict(now time.Time) {
	var oldest string
	var oldestAt time.Time
	for k, e := range r.m {
		if !r.live(e, now) {
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

// Complete implements IdempotencyStore.
func (r *MemoryIdempotency) Complete(_ context.Context, scope, key string, response []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[scope+"\x00"+key]; ok {
		e.response = bytes.Clone(response)
		e.at = r.now()
	}
	return nil
}

// Release implements IdempotencyStore.
func (r *MemoryIdempotency) Release(_ context.Context, scope, key string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := scope + "\x00" + key
	if e, ok := r.m[k]; ok && e.response == nil {
		delete(r.m, k)
	}
	return nil
}
