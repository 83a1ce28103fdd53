package cache

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Channel is the Redis pub/sub channel that carries invalidation notices.
const Channel = "athena:cache:invalidate"

// genKey names one generation counter; table "" is the scope-wide one.
type genKey struct{ scope, table string }

// localGens are the generations of a cache without Redis. They start at 0
// on every start, which is safe because the local entries start empty too.
type localGens struct {
	mu sync.RWMutex
	m  map[genKey]*atomic.Uint64
}

func (g *localGens) get(scope, table string) uint64 {
	g.mu.RLock()
	p := g.m[genKey{scope, table}]
	g.mu.RUnlock()
	if p == nil {
		return 0
	}
	return p.Load()
}

func (g *localGens) bump(scope, table string) {
	k := genKey{scope, table}
	g.mu.RLock()
	p := g.m[k]
	g.mu.RUnlock()
	if p == nil {
		g.mu.Lock()
		if p = g.m[k]; p == nil {
			p = new(atomic.Uint64)
			g.m[k] = p
		}
		g.mu.Unlock()
	}
	p.Add(1)
}

// generations returns the scope-wide generation followed by one per table.
// With Redis they are read from it in one MGET (a second round trip only
// for counters that do not exist yet); an error means "do not cache".
func (c *Cache) generations(ctx context.Context, scope string, tables []string) ([]uint64, error) {
	gens := make([]uint64, len(tables)+1)
	if c.rdb == nil {
		gens[0] = c.gens.get(scope, "")
		for i, t := range tables {
			gens[i+1] = c.gens.get(scope, t)
		}
		return gens, nil
	}
	if c.degraded.Load() {
		return nil, errDegraded
	}
	if c.healthy() {
		if g, ok := c.mirror.lookup(scope, tables); ok {
			return g, nil // no round trip: see lease.go
		}
	}
	seq := c.mirror.version() // before the MGET: see mirror.store
	keys := make([]string, len(tables)+1)
	keys[0] = genKeyName(scope, "")
	for i, t := range tables {
		keys[i+1] = genKeyName(scope, t)
	}
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	vals, err := c.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		c.redisFailed(err)
		return nil, err
	}
	var missing []string
	for i, v := range vals {
		if v == nil {
			missing = append(missing, keys[i])
		}
	}
	if len(missing) > 0 {
		// A counter that does not exist (never written, or lost to a Redis
		// restart or eviction) starts at a random value: starting at 0 could
		// repeat a generation some process still holds entries for.
		var mget *redis.SliceCmd
		_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range missing {
				p.SetNX(ctx, k, randomGeneration(), 0)
			}
			mget = p.MGet(ctx, keys...)
			return nil
		})
		if err != nil {
			c.redisFailed(err)
			return nil, err
		}
		vals = mget.Val()
	}
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			return nil, errBadGeneration
		}
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return nil, errBadGeneration
		}
		gens[i] = n
	}
	c.mirror.store(seq, scope, tables, gens)
	return gens, nil
}

var (
	errDegraded      = errors.New("cache: redis unavailable")
	errBadGeneration = errors.New("cache: generation in redis is not a number")
)

// randomGeneration is where a fresh Redis counter starts: below 2^52, so
// INCR has room to grow, and random, so a counter recreated after a loss
// does not revisit values of its previous life (two lives overlap only if
// their random starts fall within the number of writes of each other).
func randomGeneration() uint64 { return 1 + rand.Uint64N(1<<52) }

// genKeyName is the Redis key of a generation counter. The braces make the
// scope a hash tag, so one read's keys share a Redis Cluster slot and one
// MGET can fetch them all.
func genKeyName(scope, table string) string {
	if table == "" {
		return "athena:gen:{" + scope + "}"
	}
	return "athena:gen:{" + scope + "}:" + table
}

func valueKey(k Key) string { return "athena:v:" + hex.EncodeToString(k[:]) }

// redisGet reads a response and its remaining lifetime in one round trip;
// a nil body means absent.
func (c *Cache) redisGet(ctx context.Context, k Key) ([]byte, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	name := valueKey(k)
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, name)
		ttl = p.PTTL(ctx, name)
		return nil
	})
	if errors.Is(err, redis.Nil) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	body, err := get.Bytes()
	if err != nil {
		return nil, 0, nil
	}
	return body, ttl.Val(), nil
}

// notice is the pub/sub message a write publishes.
type notice struct {
	Scope  string   `json:"s"`
	Tables []string `json:"t,omitempty"`
	Wide   bool     `json:"w,omitempty"`
	// At is when the writer started the bump (Unix nanoseconds, its
	// clock). Receivers keep entries stored after it: those were built
	// from the new generations, and a notice that arrives late must not
	// evict them. Dropping is only memory hygiene (superseded entries are
	// unreachable), so clock skew costs at worst a spurious miss or an
	// entry kept until its TTL, never a stale read.
	At int64 `json:"at,omitempty"`
	// ID and N name the writer process and its notice, for the readers'
	// acknowledgements (lease.go).
	ID string `json:"id,omitempty"`
	N  uint64 `json:"n,omitempty"`
	// All: bumps replayed after an outage (names unknown to the notice);
	// receivers forget every mirrored generation.
	All bool `json:"all,omitempty"`
}

func decodeNotice(payload string) (notice, bool) {
	var n notice
	err := json.Unmarshal([]byte(payload), &n)
	return n, err == nil
}

func (n notice) encode() string {
	b, _ := json.Marshal(n) // strings and a bool always marshal
	return string(b)
}

// index maps (scope, table) and scope to the local keys read from them, so
// a write can free superseded entries at once. It is bookkeeping only:
// correctness comes from the generations in the keys.
type index struct {
	mu sync.Mutex
	m  map[string]map[Key]struct{}
}

func indexName(scope, table string) string { return scope + "\x00" + table }

// add registers k under its scope and tables and returns those names.
func (x *index) add(k Key, scope string, tables []string) []string {
	deps := make([]string, 0, len(tables)+1)
	deps = append(deps, indexName(scope, ""))
	for _, t := range tables {
		deps = append(deps, indexName(scope, t))
	}
	x.mu.Lock()
	for _, d := range deps {
		set := x.m[d]
		if set == nil {
			set = map[Key]struct{}{}
			x.m[d] = set
		}
		set[k] = struct{}{}
	}
	x.mu.Unlock()
	return deps
}

// remove forgets an entry that left the local cache.
func (x *index) remove(k Key, deps []string) {
	x.mu.Lock()
	for _, d := range deps {
		if set := x.m[d]; set != nil {
			delete(set, k)
			if len(set) == 0 {
				delete(x.m, d)
			}
		}
	}
	x.mu.Unlock()
}

// take returns the keys registered under the tables (or, when wide, under
// the whole scope).
func (x *index) take(scope string, tables []string, wide bool) []Key {
	names := []string{indexName(scope, "")}
	if !wide {
		names = names[:0]
		for _, t := range tables {
			names = append(names, indexName(scope, t))
		}
	}
	var out []Key
	x.mu.Lock()
	for _, n := range names {
		for k := range x.m[n] {
			out = append(out, k)
		}
	}
	x.mu.Unlock()
	return out
}

func (x *index) clear() {
	x.mu.Lock()
	clear(x.m)
	x.mu.Unlock()
}
