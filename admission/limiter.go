package admission

import (
	"context"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// Options configures a Limiter; zero values take the defaults.
type Options struct {
	// Global limits every request of this gateway (all processes together
	// for the rate when Redis is configured).
	Global Limit
	// ClientDefault is every client's limit unless overridden.
	ClientDefault Limit
	// Clients overrides ClientDefault per client name (configuration file);
	// an override from the database (SetOverride) wins over these.
	Clients map[string]Limit
	// Redis, when set, shares the rates between gateway processes.
	Redis *redis.Client
	// Prefix starts every Redis key ("athena:admission:").
	Prefix string
	// Chunk is how many tokens one Redis call takes at most (32): the
	// process spends them locally, saving a round trip per request. It is
	// capped at a quarter of the burst, so the tokens processes hold at
	// once stay within about one burst.
	Chunk int
	// RedisTimeout bounds one Redis call (100ms); slower counts as down.
	RedisTimeout time.Duration
	// RedisRetry is how long limits stay per process after a Redis error
	// before Redis is asked again (1s).
	RedisRetry time.Duration
	Logger     *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = "athena:admission:"
	}
	if o.Chunk <= 0 {
		o.Chunk = 32
	}
	if o.RedisTimeout <= 0 {
		o.RedisTimeout = 100 * time.Millisecond
	}
	if o.RedisRetry <= 0 {
		o.RedisRetry = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Source says where a client's limit comes from.
type Source string

// Sources of a client's effective limit, most specific first.
const (
	SourceDatabase Source = "database"
	SourceConfig   Source = "config"
	SourceDefault  Source = "default"
)

// Limiter decides admission. It is safe for concurrent use; Admit takes
// no lock of its own when a client's tokens are at hand (the per-process
// rate limiter and the token chunk each hold a short mutex).
type Limiter struct {
	opts   Options
	redis  *redis_rate.Limiter // nil: per process only
	global *state

	clients   sync.Map // client name → *state
	decisions sync.Map // decisionKey → *atomic.Int64

	mu        sync.Mutex       // guards overrides and limit changes of states
	overrides map[string]Limit // from the database

	redisDownUntil atomic.Int64 // unix nanos; Redis is not asked before
	redisDown      atomic.Bool  // for logging the transitions once
	fallbacks      atomic.Int64 // Redis calls that failed
}

// New builds a limiter. It does no I/O.
func New(opts Options) *Limiter {
	opts = opts.withDefaults()
	l := &Limiter{opts: opts, overrides: map[string]Limit{}}
	if opts.Redis != nil {
		l.redis = redis_rate.NewLimiter(opts.Redis)
	}
	l.global = newState(opts.Prefix+"global", opts.Global, opts.Chunk)
	return l
}

// Ticket is an admitted request's hold on in-flight slots. Release it
// exactly once when the request ends. Tickets are shared and immutable:
// each client's state holds one per combination of slots, so handing one
// out (and storing it in an interface) allocates nothing.
type Ticket struct {
	client, global *atomic.Int64
}

// noTicket holds nothing: a refusal's, or a request under no cap.
var noTicket = &Ticket{}

// Release frees the ticket's in-flight slots.
func (t *Ticket) Release() {
	if t.client != nil {
		t.client.Add(-1)
	}
	if t.global != nil {
		t.global.Add(-1)
	}
}

// Verdict is why a request was refused (Reason "" when it was not).
type Verdict struct {
	Reason Reason
	// RetryAfter is when the refusing limit would admit the request: the
	// rate limiter's real wait, 0 for an in-flight cap (unknown).
	RetryAfter time.Duration
	// Count and Limit describe the refusing limit's window: requests in
	// flight and the cap, or tokens used and the burst.
	Count, Limit int
}

// Admitted reports whether the request may run.
func (v Verdict) Admitted() bool { return v.Reason == ReasonNone }

// Admit decides one request of client. Admitted, it returns a ticket to
// release when the request ends; refused, the ticket is empty. Checks run
// cheapest first, and a refusal gives back what earlier checks took (an
// in-flight slot; a rate token cannot be given back, so the client's rate
// is checked before the global one, which then is spent only by requests
// their client admits).
func (l *Limiter) Admit(ctx context.Context, client string) (*Ticket, Verdict) {
	cs := l.state(client)
	var t Ticket
	var v Verdict
	if t.client, v = cs.enter(ReasonClientInFlight); !v.Admitted() {
		return noTicket, v
	}
	if t.global, v = l.global.enter(ReasonGlobalInFlight); !v.Admitted() {
		t.Release()
		return noTicket, v
	}
	if v = l.take(ctx, cs, ReasonClientRate); !v.Admitted() {
		t.Release()
		return noTicket, v
	}
	if v = l.take(ctx, l.global, ReasonGlobalRate); !v.Admitted() {
		t.Release()
		return noTicket, v
	}
	cs.admitted.Add(1)
	return cs.ticket(t.client != nil, t.global != nil), Verdict{}
}

// state returns client's state, creating it with its effective limit.
func (l *Limiter) state(client string) *state {
	if v, ok := l.clients.Load(client); ok {
		return v.(*state)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if v, ok := l.clients.Load(client); ok {
		return v.(*state)
	}
	lim, _ := l.effectiveLocked(client)
	s := newState(l.opts.Prefix+"client:"+client, lim, l.opts.Chunk)
	s.tickets = [4]*Ticket{noTicket, {client: &s.inFlight}, {global: &l.global.inFlight}, {client: &s.inFlight, global: &l.global.inFlight}}
	l.clients.Store(client, s)
	return s
}

// Effective returns client's limit and where it comes from.
func (l *Limiter) Effective(client string) (Limit, Source) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.effectiveLocked(client)
}

func (l *Limiter) effectiveLocked(client string) (Limit, Source) {
	if lim, ok := l.overrides[client]; ok {
		return lim.withDefaults(), SourceDatabase
	}
	if lim, ok := l.opts.Clients[client]; ok {
		return lim.withDefaults(), SourceConfig
	}
	return l.opts.ClientDefault.withDefaults(), SourceDefault
}

// Configured returns client's limit from the configuration file, if any.
func (l *Limiter) Configured(client string) (Limit, bool) {
	lim, ok := l.opts.Clients[client]
	return lim, ok
}

// Global returns the global limit.
func (l *Limiter) Global() Limit { return l.opts.Global.withDefaults() }

// SetOverride sets (lim non-nil) or removes client's limit from the
// database; it takes effect for the next request.
func (l *Limiter) SetOverride(client string, lim *Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lim == nil {
		delete(l.overrides, client)
	} else {
		l.overrides[client] = *lim
	}
	l.applyLocked(client)
}

// ReplaceOverrides sets every database override at once (a reload):
// clients missing from m lose theirs.
func (l *Limiter) ReplaceOverrides(m map[string]Limit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.overrides
	l.overrides = make(map[string]Limit, len(m))
	for k, v := range m {
		l.overrides[k] = v
	}
	for k := range old {
		l.applyLocked(k)
	}
	for k := range m {
		l.applyLocked(k)
	}
}

// applyLocked gives an existing state its (changed) effective limit.
func (l *Limiter) applyLocked(client string) {
	if v, ok := l.clients.Load(client); ok {
		lim, _ := l.effectiveLocked(client)
		v.(*state).setLimit(lim, l.opts.Chunk)
	}
}

// InFlight reports the requests in flight per client in this process
// (only clients with an in-flight cap are counted) and globally.
func (l *Limiter) InFlight() (clients map[string]int64, global int64) {
	clients = map[string]int64{}
	l.clients.Range(func(k, v any) bool {
		clients[k.(string)] = v.(*state).inFlight.Load()
		return true
	})
	return clients, l.global.inFlight.Load()
}

// Clients lists the clients seen so far, sorted.
func (l *Limiter) Clients() []string {
	var out []string
	l.clients.Range(func(k, _ any) bool { out = append(out, k.(string)); return true })
	sort.Strings(out)
	return out
}

// Shared reports whether rates are currently shared through Redis.
func (l *Limiter) Shared() bool { return l.redis != nil && !l.redisDown.Load() }

// Fallbacks counts the Redis calls that failed; each made the rates per
// process for RedisRetry.
func (l *Limiter) Fallbacks() int64 { return l.fallbacks.Load() }

// decisionKey labels one decision counter.
type decisionKey struct {
	client   string
	decision Decision
	reason   Reason
}

// Count records a refusal for the metrics: the caller decides whether it
// is deferred or rejected (Admit counts admitted requests itself, on the
// client's state, so the common path takes no map lookup more).
func (l *Limiter) Count(client string, d Decision, r Reason) {
	k := decisionKey{client, d, r}
	v, ok := l.decisions.Load(k)
	if !ok {
		v, _ = l.decisions.LoadOrStore(k, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(1)
}

// DecisionCount is how many decisions of one kind a client got.
type DecisionCount struct {
	Client   string
	Decision Decision
	Reason   Reason
	N        int64
}

// Decisions reads the decision counters.
func (l *Limiter) Decisions() []DecisionCount {
	var out []DecisionCount
	l.clients.Range(func(k, v any) bool {
		if n := v.(*state).admitted.Load(); n > 0 {
			out = append(out, DecisionCount{k.(string), Admitted, ReasonNone, n})
		}
		return true
	})
	l.decisions.Range(func(k, v any) bool {
		dk := k.(decisionKey)
		out = append(out, DecisionCount{dk.client, dk.decision, dk.reason, v.(*atomic.Int64).Load()})
		return true
	})
	return out
}
