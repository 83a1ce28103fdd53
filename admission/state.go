package admission

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"golang.org/x/time/rate"
)

// state is one limit's live state (the global one or a client's): its
// in-flight count, its per-process rate limiter and the tokens taken from
// Redis and not yet spent.
type state struct {
	key      string // Redis key
	inFlight atomic.Int64
	admitted atomic.Int64 // requests admitted (a client's state only)
	// tickets are a client's tickets by the slots they hold (ticket).
	tickets [4]*Ticket
	cfg     atomic.Pointer[rateConfig]

	mu     sync.Mutex // guards tokens and expiry
	tokens int
	expiry time.Time
}

// chunkHold is how long tokens taken from Redis stay spendable.
const chunkHold = time.Second

// rateConfig is a limit with what enforcing it needs, swapped whole when
// the limit changes.
type rateConfig struct {
	limit Limit
	local *rate.Limiter // per process: no Redis, or Redis down
	redis redis_rate.Limit
	chunk int
	// hold bounds how long tokens taken from Redis may be spent. Redis
	// counts them spent when granted, so a token spent late lets the
	// gateways exceed the rate momentarily by the tokens held (at most a
	// chunk, a quarter of the burst, per process) however long they are
	// held; the bound keeps a stale chunk from outliving a quiet period
	// (and a slow rate's tokens from lingering). A hold as short as the
	// time the bucket needs to earn the chunk made busy processes go back
	// to Redis almost every request (athena-bench: on/off 0.62).
	hold time.Duration
}

func newState(key string, lim Limit, chunk int) *state {
	s := &state{key: key}
	s.setLimit(lim, chunk)
	return s
}

func (s *state) setLimit(lim Limit, chunk int) {
	lim = lim.withDefaults()
	c := &rateConfig{limit: lim}
	if lim.RPS > 0 {
		c.local = rate.NewLimiter(rate.Limit(lim.RPS), lim.Burst)
		// One token per 1/RPS: redis_rate's emission interval is Period/Rate.
		c.redis = redis_rate.Limit{Rate: 1, Burst: lim.Burst, Period: time.Duration(float64(time.Second) / lim.RPS)}
		c.chunk = max(1, min(chunk, lim.Burst/4))
		c.hold = chunkHold
	}
	s.cfg.Store(c)
	s.mu.Lock()
	s.tokens = 0 // tokens of the old limit are not this one's
	s.mu.Unlock()
}

// ticket returns the client's ticket holding the given slots.
func (s *state) ticket(client, global bool) *Ticket {
	i := 0
	if client {
		i |= 1
	}
	if global {
		i |= 2
	}
	return s.tickets[i]
}

// enter takes an in-flight slot when the limit caps them; the returned
// counter is what to release (nil: nothing was taken).
func (s *state) enter(reason Reason) (*atomic.Int64, Verdict) {
	max := s.cfg.Load().limit.MaxInFlight
	if max <= 0 {
		return nil, Verdict{}
	}
	if n := s.inFlight.Add(1); n > int64(max) {
		s.inFlight.Add(-1)
		return nil, Verdict{Reason: reason, Count: int(n - 1), Limit: max}
	}
	return &s.inFlight, Verdict{}
}

// take spends one rate token of s: from the chunk at hand, else from
// Redis (a new chunk), else — no Redis, or Redis failing — from the
// per-process limiter.
func (l *Limiter) take(ctx context.Context, s *state, reason Reason) Verdict {
	c := s.cfg.Load()
	if c.local == nil {
		return Verdict{}
	}
	if l.redis != nil && time.Now().UnixNano() >= l.redisDownUntil.Load() {
		if v, ok := l.takeShared(ctx, s, c, reason); ok {
			return v
		}
	}
	now := time.Now()
	if c.local.AllowN(now, 1) {
		return Verdict{}
	}
	// The wait for one token at the limiter's current level.
	missing := 1 - c.local.TokensAt(now)
	wait := time.Duration(missing / c.limit.RPS * float64(time.Second))
	used := c.limit.Burst - int(math.Max(0, math.Floor(c.local.TokensAt(now))))
	return Verdict{Reason: reason, RetryAfter: wait, Count: used, Limit: c.limit.Burst}
}

// takeShared takes the token through Redis; ok is false when Redis failed
// (the caller falls back to the per-process limiter).
func (l *Limiter) takeShared(ctx context.Context, s *state, c *rateConfig, reason Reason) (Verdict, bool) {
	now := time.Now()
	s.mu.Lock()
	if s.tokens > 0 && now.Before(s.expiry) {
		s.tokens--
		s.mu.Unlock()
		return Verdict{}, true
	}
	s.mu.Unlock()
	// The request's cancellation must not count as a Redis failure.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.RedisTimeout)
	res, err := l.redis.AllowAtMost(rctx, s.key, c.redis, c.chunk)
	cancel()
	if err != nil {
		l.redisFailed(err)
		return Verdict{}, false
	}
	l.redisAnswered()
	if res.Allowed == 0 {
		return Verdict{Reason: reason, RetryAfter: max(res.RetryAfter, 0), Count: c.limit.Burst - res.Remaining, Limit: c.limit.Burst}, true
	}
	if res.Allowed > 1 && s.cfg.Load() == c {
		s.mu.Lock()
		s.tokens += res.Allowed - 1
		s.expiry = now.Add(c.hold)
		s.mu.Unlock()
	}
	return Verdict{}, true
}

// redisFailed switches rates to per process for RedisRetry.
func (l *Limiter) redisFailed(err error) {
	l.fallbacks.Add(1)
	l.redisDownUntil.Store(time.Now().Add(l.opts.RedisRetry).UnixNano())
	if l.redisDown.CompareAndSwap(false, true) {
		l.opts.Logger.Warn("admission: Redis is not answering; rate limits are per process until it does", "err", err, "retry_in", l.opts.RedisRetry)
	}
}

func (l *Limiter) redisAnswered() {
	if l.redisDown.Load() && l.redisDown.CompareAndSwap(true, false) {
		l.opts.Logger.Info("admission: Redis answers again; rate limits are shared")
	}
}
