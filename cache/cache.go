package cache

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
	"github.com/redis/go-redis/v9"
)

// Outcome says how a read was answered; it is sent as X-Athena-Cache-Outcome.
type Outcome string

// Outcomes of a read.
const (
	HitLocal Outcome = "hit_local" // from this process's memory
	HitRedis Outcome = "hit_redis" // from Redis (another process, or before a restart)
	Miss     Outcome = "miss"      // computed by the database and stored
	Bypass   Outcome = "bypass"    // computed by the database, not stored
)

// Hit reports whether the answer came from a cache.
func (o Outcome) Hit() bool { return o == HitLocal || o == HitRedis }

// Defaults applied by New when an option is zero.
const (
	DefaultTTL           = 30 * time.Second
	DefaultMaxBytes      = 64 << 20
	DefaultWarnInterval  = 30 * time.Second
	DefaultProbeInterval = time.Second
)

// redisOpTimeout bounds one Redis exchange on the request path, on top of
// the client's own dial/read timeouts: a slow Redis must cost a request at
// most this much before the cache steps aside.
const redisOpTimeout = time.Second

// ClientOptions overrides Options for one scope (a client name).
type ClientOptions struct {
	// Disabled turns caching off for the client: its reads bypass (its
	// writes still invalidate, so turning it back on is safe).
	Disabled bool
	// TTL and RedisTTL replace the global values when positive.
	TTL      time.Duration
	RedisTTL time.Duration
}

// Options configures a Cache.
type Options struct {
	// TTL is how long a local entry lives. Correctness does not depend on it
	// (generations do that); it bounds memory held by cold entries and how
	// long a write made outside Athena can stay invisible.
	TTL time.Duration
	// MaxBytes bounds the local cache by the size of the cached responses.
	MaxBytes int64
	// RedisTTL is how long a response written through to Redis lives; 0
	// keeps responses out of Redis (Redis then only carries generations).
	RedisTTL time.Duration
	// Clients holds per-client overrides, keyed by client name.
	Clients map[string]ClientOptions
	// Redis, when set, holds the generations and a copy of each response.
	Redis *redis.Client
	// Logger receives the Redis-down warnings (at most one per WarnInterval).
	Logger        *slog.Logger
	WarnInterval  time.Duration
	ProbeInterval time.Duration // how often a degraded cache retries Redis
	// Now is the clock local expiry uses; nil means time.Now. Tests move it.
	Now func() time.Time
}

// Key identifies one cached response: a SHA-256 over the scope, the
// normalised request and the generations it was read under.
type Key [32]byte

// String is the key as sent in cache_key: the first 64 bits in hex, the
// form cache_key has always had. Lookups use all 256 bits.
func (k Key) String() string { return hex.EncodeToString(k[:8]) }

// Read describes one cacheable read.
type Read struct {
	// Scope is the database the read runs on (api.Resolution.Scope).
	Scope string
	// Request is the normalised request; equal bytes mean an equal answer
	// for equal database contents.
	Request []byte
	// Tables are the resolved tables the read touches (postgres.Tables).
	Tables []string
	// Cacheable is false when the tables could not be resolved or some
	// relation's changes cannot be tracked by name (a view, say).
	Cacheable bool
	// NoCache is the caller's Cache-Control: no-cache.
	NoCache bool
}

// Stats are the cache's counters since start.
type Stats struct {
	HitsLocal, HitsRedis, Misses, Bypasses uint64
	// Loads counts database loads the cache started (single-flight leaders).
	Loads uint64
	// RedisErrors counts failed Redis exchanges (each also degrades the cache).
	RedisErrors uint64
	// Waiting is the number of reads currently waiting on a load.
	Waiting int64
	// Bytes is the weighted size of the local cache.
	Bytes uint64
	// Degraded is set while Redis is configured but not answering.
	Degraded bool
}

// entry is one local value. deps are its index keys (see index), so an
// evicted entry can leave the index.
type entry struct {
	body   []byte
	ttl    time.Duration
	deps   []string
	stored int64 // Unix nanoseconds; see notice.At
}

// Cache is the read cache. A nil *Cache is valid and caches nothing. It is
// safe for concurrent use.
type Cache struct {
	opts  Options
	rdb   *redis.Client
	log   *slog.Logger
	local *otter.Cache[Key, *entry]
	// flights are the loads in the air, by key (single flight; the
	// leader runs inline).
	flightMu sync.Mutex
	flights  map[Key]*flight
	gens     localGens
	idx      index
	// afterMiss, when set (tests only), runs between a local miss and
	// joining the flight: the window in which a leader can finish.
	afterMiss func()
	// beforeApply, when set (tests only), runs before the subscriber
	// applies a notice: it holds a notice in flight.
	beforeApply func()

	degraded atomic.Bool
	failures atomic.Uint64 // failed Redis exchanges
	// epoch moves on every failure and every queued bump; the recovery
	// probe compares it before and after replaying, so anything that went
	// wrong meanwhile keeps the cache degraded until the next replay.
	epoch     atomic.Uint64
	pendingMu sync.Mutex
	pending   map[string]struct{} // generation keys whose INCR may not have happened
	lastWarn  atomic.Int64

	hitsLocal, hitsRedis, misses, bypasses, loads atomic.Uint64
	waiting                                       atomic.Int64

	// The lease (lease.go): while it runs, reads take their generations
	// from the mirror and a local hit costs no Redis round trip.
	id         string // this process, in readersKey and notices
	ackCh      string // where other processes acknowledge our notices
	base       time.Time
	leaseUntil atomic.Int64 // c.mono() value; 0 = not healthy
	breaks     atomic.Uint64
	lastBreaks uint64 // renew's view of breaks (loop goroutine only)
	mirror     mirror
	pongs      chan string
	acks       chan string
	noticeN    atomic.Uint64
	waitMu     sync.Mutex
	waiters    map[uint64]waiter

	startOnce, closeOnce sync.Once
	stop, done           chan struct{}
	sub                  *redis.PubSub
}

// New builds a cache. It does no I/O; Start runs the Redis subscriber and
// the recovery probe.
func New(opts Options) (*Cache, error) {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.RedisTTL < 0 {
		return nil, errors.New("cache: negative redis ttl")
	}
	if opts.WarnInterval <= 0 {
		opts.WarnInterval = DefaultWarnInterval
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Cache{
		opts:    opts,
		rdb:     opts.Redis,
		log:     opts.Logger,
		gens:    localGens{m: map[genKey]*atomic.Uint64{}},
		flights: map[Key]*flight{},
		id:      newID(),
		base:    time.Now(),
		mirror:  mirror{m: map[genKey]uint64{}},
		pongs:   make(chan string, 4),
		acks:    make(chan string, 256),
		waiters: map[uint64]waiter{},
		idx:     index{m: map[string]map[Key]struct{}{}},
		pending: map[string]struct{}{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	o := &otter.Options[Key, *entry]{
		MaximumWeight: uint64(opts.MaxBytes),
		// The response bytes dominate an entry; the key and bookkeeping are
		// a small constant on top.
		Weigher: func(_ Key, e *entry) uint32 {
			return uint32(min(len(e.body)+len(Key{})+64, 1<<31))
		},
		ExpiryCalculator: otter.ExpiryCreatingFunc(func(e otter.Entry[Key, *entry]) time.Duration { return e.Value.ttl }),
		// Atomic (under the entry's lock), so an entry replaced right after
		// expiring cannot lose its index entries to a late notification.
		OnAtomicDeletion: func(e otter.DeletionEvent[Key, *entry]) {
			if e.Cause != otter.CauseReplacement {
				c.idx.remove(e.Key, e.Value.deps)
			}
		},
	}
	if opts.Now != nil {
		o.Clock = clockFunc(opts.Now)
	}
	local, err := otter.New(o)
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	c.local = local
	return c, nil
}

// clockFunc adapts a time source to otter's clock. No ticks: the periodic
// clean-up is an optimisation, expiry is checked on every read anyway.
type clockFunc func() time.Time

func (f clockFunc) NowNano() int64                      { return f().UnixNano() }
func (f clockFunc) Tick(time.Duration) <-chan time.Time { return nil }

// Enabled reports whether reads of scope may be cached; callers skip the
// work of preparing a Read when it is false.
func (c *Cache) Enabled(scope string) bool {
	return c != nil && !c.opts.Clients[scope].Disabled
}

func (c *Cache) ttls(scope string) (local, remote time.Duration) {
	local, remote = c.opts.TTL, c.opts.RedisTTL
	if o, ok := c.opts.Clients[scope]; ok {
		if o.TTL > 0 {
			local = o.TTL
		}
		if o.RedisTTL > 0 {
			remote = o.RedisTTL
		}
	}
	return local, remote
}

// Do answers r from the cache or from load. load renders the whole
// response for the given key (it goes into the body as cache_key); its
// bytes are stored only when it succeeds and the read is cacheable.
// Identical concurrent reads share one load; the waiting callers receive
// the same bytes (which they must not modify).
//
// The generations are read before load runs, so a response computed from
// data a concurrent write is replacing is stored under the generations
// that write is about to bump, and no read started after the write's
// response can find it.
func (c *Cache) Do(ctx context.Context, r Read, load func(ctx context.Context, key Key) ([]byte, error)) ([]byte, Outcome, error) {
	if c == nil || r.NoCache || !r.Cacheable || !c.Enabled(r.Scope) {
		return c.bypass(ctx, r, load)
	}
	gens, err := c.generations(ctx, r.Scope, r.Tables)
	if err != nil {
		return c.bypass(ctx, r, load)
	}
	k := makeKey(r.Scope, r.Request, r.Tables, gens)
	if e, ok := c.local.GetIfPresent(k); ok {
		c.hitsLocal.Add(1)
		return e.body, HitLocal, nil
	}
	if c.afterMiss != nil {
		c.afterMiss()
	}
	c.waiting.Add(1)
	defer c.waiting.Add(-1)
	f, leader := c.join(k)
	if !leader {
		select {
		case <-f.done:
			return f.body, f.outcome, f.err
		case <-ctx.Done():
			return nil, "", ctx.Err()
		}
	}
	// The leader loads inline: no goroutine per miss. The load is shared,
	// so the leader's caller going away must not fail the others: it runs
	// detached, bounded by the database's statement and acquire timeouts
	// and by the Redis timeouts.
	defer c.land(k, f) // also on a panic, so followers never hang
	// A leader that finished between our miss above and this flight has
	// stored its answer: look again rather than load a second time (64
	// concurrent cold reads now and then issued 2 queries).
	if e, ok := c.local.GetIfPresent(k); ok {
		c.hitsLocal.Add(1)
		f.filled = filled{e.body, HitLocal}
		return e.body, HitLocal, nil
	}
	f.filled, f.err = c.fill(context.WithoutCancel(ctx), r, k, load)
	return f.body, f.outcome, f.err
}

// flight is one load shared by identical concurrent reads. Its fields are
// written by the leader before done is closed and only read after.
type flight struct {
	done chan struct{}
	filled
	err error
}

// join returns the flight for k, starting one (leader true) when none is
// in the air.
func (c *Cache) join(k Key) (f *flight, leader bool) {
	c.flightMu.Lock()
	defer c.flightMu.Unlock()
	if f = c.flights[k]; f != nil {
		return f, false
	}
	f = &flight{done: make(chan struct{})}
	c.flights[k] = f
	return f, true
}

// land ends the leader's flight: later readers start their own (and find
// the stored answer), waiting ones receive this one.
func (c *Cache) land(k Key, f *flight) {
	c.flightMu.Lock()
	delete(c.flights, k)
	c.flightMu.Unlock()
	if f.err == nil && f.body == nil && f.outcome == "" {
		f.err = errLoadPanicked // the deferred call runs while a panic unwinds
	}
	close(f.done)
}

var errLoadPanicked = errors.New("cache: the shared load panicked")

// bypass loads without the cache. Its key has no generation part: there
// is nothing to look up, and reading generations from Redis would cost a
// round trip for nothing.
func (c *Cache) bypass(ctx context.Context, r Read, load func(context.Context, Key) ([]byte, error)) ([]byte, Outcome, error) {
	if c != nil {
		c.bypasses.Add(1)
	}
	b, err := load(ctx, makeKey(r.Scope, r.Request, nil, nil))
	return b, Bypass, err
}

type filled struct {
	body    []byte
	outcome Outcome
}

// fill is the single-flight leader's work: Redis first (when configured),
// then the database; the result goes into the local cache and Redis.
func (c *Cache) fill(ctx context.Context, r Read, k Key, load func(context.Context, Key) ([]byte, error)) (filled, error) {
	ttl, rttl := c.ttls(r.Scope)
	useRedis := c.rdb != nil && rttl > 0
	if useRedis {
		body, left, err := c.redisGet(ctx, k)
		switch {
		case err != nil:
			c.redisFailed(err)
			useRedis = false
		case body != nil:
			c.hitsRedis.Add(1)
			// Never keep a copy longer than Redis would have: the age of a
			// served response stays within max(ttl, redis_ttl).
			c.store(k, body, min(ttl, left), r)
			return filled{body, HitRedis}, nil
		}
	}
	c.loads.Add(1)
	body, err := load(ctx, k)
	if err != nil {
		return filled{}, err // errors are never cached
	}
	c.misses.Add(1)
	c.store(k, body, ttl, r)
	if useRedis {
		rctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
		err := c.rdb.Set(rctx, valueKey(k), body, rttl).Err()
		cancel()
		if err != nil {
			c.redisFailed(err)
		}
	}
	return filled{body, Miss}, nil
}

func (c *Cache) store(k Key, body []byte, ttl time.Duration, r Read) {
	if ttl <= 0 {
		return
	}
	deps := c.idx.add(k, r.Scope, r.Tables)
	c.local.Set(k, &entry{body: body, ttl: ttl, deps: deps, stored: time.Now().UnixNano()})
}

// Invalidate records a committed write on scope: it bumps the generation
// of every table in tables, or the scope-wide one when wide (raw SQL,
// triggers, anything that may have touched any table). Call it after the
// commit and before answering the write, so a read that starts after the
// answer sees the new generations. It never fails: when Redis cannot be
// reached the bump is kept and replayed once Redis answers, and this
// process bypasses the cache until then.
func (c *Cache) Invalidate(ctx context.Context, scope string, tables []string, wide bool) {
	if c == nil {
		return
	}
	if c.rdb == nil {
		if wide {
			c.gens.bump(scope, "")
		}
		for _, t := range tables {
			c.gens.bump(scope, t)
		}
		c.drop(scope, tables, wide, 0)
		return
	}
	keys := make([]string, 0, len(tables)+1)
	if wide {
		keys = append(keys, genKeyName(scope, ""))
	}
	for _, t := range tables {
		keys = append(keys, genKeyName(scope, t))
	}
	var err error = errDegraded
	// While degraded the bump goes straight to the replay queue: this
	// process bypasses the cache anyway, and the write should not wait on
	// a Redis that just failed.
	if !c.degraded.Load() {
		// Detached: a caller that hung up must not leave its committed write
		// un-invalidated.
		dctx := context.WithoutCancel(ctx)
		rctx, cancel := context.WithTimeout(dctx, redisOpTimeout)
		at := time.Now().UnixNano() // before the INCRs: see notice.At
		n := c.noticeN.Add(1)
		w := c.expect(n)
		defer c.unexpect(n)
		var readers *redis.MapStringStringCmd
		var now *redis.TimeCmd
		_, err = c.rdb.Pipelined(rctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.SetNX(rctx, k, randomGeneration(), 0)
				p.Incr(rctx, k)
			}
			p.Publish(rctx, Channel, notice{Scope: scope, Tables: tables, Wide: wide, At: at, ID: c.id, N: n}.encode())
			// After the PUBLISH: who may hold generations it outdated.
			readers = p.HGetAll(rctx, readersKey)
			now = p.Time(rctx)
			return nil
		})
		cancel()
		if err == nil {
			c.mirror.forget(scope, tables, wide)
			c.drop(scope, tables, wide, 0)
			c.awaitReaders(dctx, w, readers.Val(), now.Val().UnixMilli(), time.Now())
			return
		}
	}
	if err != nil {
		c.pendingMu.Lock()
		for _, k := range keys {
			c.pending[k] = struct{}{}
		}
		c.pendingMu.Unlock()
		// Queued bumps keep (or put) the cache degraded until the probe has
		// replayed them, even if a probe resumed since the check above.
		c.epoch.Add(1)
		c.degraded.Store(true)
		if err != errDegraded {
			c.redisFailed(err)
		}
	}
	c.mirror.forget(scope, tables, wide)
	c.drop(scope, tables, wide, 0)
}

// drop frees the local entries a write superseded. They are already
// unreachable (their generations are old); this only returns the memory
// at once instead of at expiry.
//
// keepAfter > 0 (another process's write, see notice.At) keeps the
// entries stored after it; 0 drops them all.
func (c *Cache) drop(scope string, tables []string, wide bool, keepAfter int64) {
	for _, k := range c.idx.take(scope, tables, wide) {
		if keepAfter > 0 {
			if e, ok := c.local.GetIfPresent(k); ok && e.stored > keepAfter {
				continue
			}
		}
		c.local.Invalidate(k)
	}
}

// redisFailed degrades the cache: reads bypass it until the probe finds
// Redis answering again. The warning is rate limited; the counter is not.
func (c *Cache) redisFailed(err error) {
	c.failures.Add(1)
	c.epoch.Add(1)
	c.degraded.Store(true)
	now := time.Now().UnixNano()
	last := c.lastWarn.Load()
	if now-last >= int64(c.opts.WarnInterval) && c.lastWarn.CompareAndSwap(last, now) {
		c.log.Warn("redis unavailable: read cache bypassed until it answers", "err", err, "redis_errors", c.failures.Load())
	}
}

// RedisErrors counts failed Redis exchanges since start.
func (c *Cache) RedisErrors() uint64 {
	if c == nil {
		return 0
	}
	return c.failures.Load()
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	if c == nil {
		return Stats{}
	}
	return Stats{
		HitsLocal: c.hitsLocal.Load(), HitsRedis: c.hitsRedis.Load(),
		Misses: c.misses.Load(), Bypasses: c.bypasses.Load(), Loads: c.loads.Load(),
		RedisErrors: c.failures.Load(), Waiting: c.waiting.Load(),
		Bytes: c.local.WeightedSize(), Degraded: c.degraded.Load(),
	}
}

// makeKey hashes the key material. Every variable-length part is length
// prefixed, so two different reads cannot produce the same material.
func makeKey(scope string, req []byte, tables []string, gens []uint64) Key {
	bp := keyBufs.Get().(*[]byte)
	b := append((*bp)[:0], "athena-cache-v1"...)
	b = binary.AppendUvarint(b, uint64(len(scope)))
	b = append(b, scope...)
	b = binary.AppendUvarint(b, uint64(len(req)))
	b = append(b, req...)
	if gens != nil {
		b = binary.BigEndian.AppendUint64(b, gens[0]) // scope-wide
		for i, t := range tables {
			b = binary.AppendUvarint(b, uint64(len(t)))
			b = append(b, t...)
			b = binary.BigEndian.AppendUint64(b, gens[i+1])
		}
	}
	k := Key(sha256.Sum256(b))
	if cap(b) <= 64<<10 { // do not pin the buffer of a huge request
		*bp = b
		keyBufs.Put(bp)
	}
	return k
}

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
