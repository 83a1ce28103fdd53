package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/athena-gateway/athena/gateway"
)

// StatsFlushFunc sends one flush. flushID is "<instance>/<seq>": unique per
// gateway process and flush, and the same on every retry of that flush, so
// the receiver can make it exactly once (the app starts the StatsFlush
// workflow with ID workflows.StatsFlushID(flushID) and input
// StatsFlushInput{FlushID: flushID, Delta: d}). It should return once the
// flush is durably accepted, not wait for it to be applied.
type StatsFlushFunc func(ctx context.Context, flushID string, d gateway.StatsDelta) error

// Defaults of StatsOptions.
const (
	DefaultStatsInterval     = 5 * time.Second
	DefaultStatsMaxKeys      = 10000
	DefaultStatsFlushTimeout = 10 * time.Second
)

// StatsOptions configures NewStats. Zero values pick the defaults.
type StatsOptions struct {
	// Flush sends a delta. Nil: nothing is flushed and counters only grow
	// up to MaxKeys (tests, or no Temporal).
	Flush StatsFlushFunc
	// Interval between flushes (default 5s).
	Interval time.Duration
	// MaxKeys bounds the distinct keys (clients plus (client, table,
	// operation)) held, counting both the unsent counters and a flush being
	// retried (default 10,000). Records for a new key beyond it are dropped
	// and counted in Dropped.
	MaxKeys int
	// FlushTimeout bounds one Flush call (default 10s).
	FlushTimeout time.Duration
	// Instance names this process in flush ids (default
	// "<hostname>-<pid>-<random hex>", unique per process start).
	Instance string
	// Log receives flush failures. Nil discards.
	Log *slog.Logger
	// Direct applies a delta without Flush's messenger (the StatsFlush
	// activity's exactly-once transaction, called in-process). Close uses
	// it for what Flush cannot deliver at shutdown (Temporal unreachable),
	// under the same flush ids, so a batch that did reach the workflow is
	// still counted once. Nil: undelivered counters are lost at Close.
	Direct StatsFlushFunc
}

type statsTableKey struct{ client, table, op string }

// statsBatch is a swapped-out set of counters with the id it is sent under.
type statsBatch struct {
	id    string
	delta gateway.StatsDelta
	keys  int
}

// Stats sums request counters per client and per (client, table,
// operation) in memory and flushes the deltas every Interval. Record is a
// short critical section on one mutex and never does I/O. A failed flush is
// kept (same flush id, same counters) and retried first at the next
// interval while new records keep accumulating, so a flush that reached the
// server although Flush reported an error is never counted twice.
type Stats struct {
	opts StatsOptions

	mu      sync.Mutex
	clients map[string]*gateway.StatsCounts
	tables  map[statsTableKey]*gateway.StatsCounts
	pending *statsBatch // a failed flush to retry; guarded by mu for its key count
	seq     uint64

	flushMu sync.Mutex // one flush at a time

	dropped atomic.Int64
	flushed atomic.Int64
	failed  atomic.Int64

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// NewStats returns a started aggregator; Close stops it.
func NewStats(opts StatsOptions) *Stats {
	if opts.Interval <= 0 {
		opts.Interval = DefaultStatsInterval
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultStatsMaxKeys
	}
	if opts.FlushTimeout <= 0 {
		opts.FlushTimeout = DefaultStatsFlushTimeout
	}
	if opts.Instance == "" {
		opts.Instance = defaultInstance()
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Stats{
		opts:    opts,
		clients: map[string]*gateway.StatsCounts{},
		tables:  map[statsTableKey]*gateway.StatsCounts{},
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.loop()
	return s
}

func defaultInstance() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Record counts one request (or operation) of client on table with
// operation, answered with status at at. Status < 400 is successful,
// otherwise failed; cached counts independently. An empty client is not
// counted; table and operation both empty count only the client.
func (s *Stats) Record(client, table, operation string, status int, cached bool, at time.Time) {
	if client == "" {
		return
	}
	withTable := table != "" || operation != ""
	s.mu.Lock()
	defer s.mu.Unlock()
	cc, ok := s.clients[client]
	if !ok {
		if s.keysLocked()+1 > s.opts.MaxKeys {
			s.dropped.Add(1)
			return
		}
		cc = &gateway.StatsCounts{}
		s.clients[client] = cc
	}
	var tc *gateway.StatsCounts
	if withTable {
		k := statsTableKey{client, table, operation}
		if tc, ok = s.tables[k]; !ok {
			if s.keysLocked()+1 > s.opts.MaxKeys {
				s.dropped.Add(1)
				cc.Record(status, cached, at) // the client row is still right
				return
			}
			tc = &gateway.StatsCounts{}
			s.tables[k] = tc
		}
	}
	cc.Record(status, cached, at)
	if tc != nil {
		tc.Record(status, cached, at)
	}
}

func (s *Stats) keysLocked() int {
	n := len(s.clients) + len(s.tables)
	if s.pending != nil {
		n += s.pending.keys
	}
	return n
}

// Dropped is the number of records dropped because MaxKeys was reached.
func (s *Stats) Dropped() int64 { return s.dropped.Load() }

// Flushed is the number of successful Flush calls; Failed of failed ones.
func (s *Stats) Flushed() int64       { return s.flushed.Load() }
func (s *Stats) FailedFlushes() int64 { return s.failed.Load() }

// Pending returns a copy of the counters not yet flushed, including a
// flush waiting to be retried, summed into one delta.
func (s *Stats) Pending() gateway.StatsDelta {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.deltaLocked()
	if s.pending != nil {
		d.Clients = append(d.Clients, s.pending.delta.Clients...)
		d.Tables = append(d.Tables, s.pending.delta.Tables...)
	}
	return d
}

func (s *Stats) loop() {
	defer close(s.done)
	t := time.NewTicker(s.opts.Interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), s.opts.FlushTimeout*2)
			if err := s.FlushNow(ctx); err != nil {
				s.opts.Log.Warn("statistics flush failed; keeping the counters for the next one", "err", err)
			}
			cancel()
		}
	}
}

// FlushNow sends a pending failed flush, if any, then the counters
// recorded since the last swap. On an error the batch is kept with its
// flush id and retried by the next FlushNow.
func (s *Stats) FlushNow(ctx context.Context) error {
	if s.opts.Flush == nil {
		return nil
	}
	return s.flushWith(ctx, s.opts.Flush)
}

// flushWith is FlushNow delivering through flush.
func (s *Stats) flushWith(ctx context.Context, flush StatsFlushFunc) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	s.mu.Lock()
	p := s.pending
	s.mu.Unlock()
	if p != nil {
		if err := s.send(ctx, flush, p); err != nil {
			return err
		}
		s.mu.Lock()
		s.pending = nil
		s.mu.Unlock()
	}
	s.mu.Lock()
	if len(s.clients) == 0 && len(s.tables) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.seq++
	b := &statsBatch{id: s.opts.Instance + "/" + strconv.FormatUint(s.seq, 10), delta: s.deltaLocked(), keys: len(s.clients) + len(s.tables)}
	s.clients = map[string]*gateway.StatsCounts{}
	s.tables = map[statsTableKey]*gateway.StatsCounts{}
	s.pending = b // counted against MaxKeys until sent
	s.mu.Unlock()
	if err := s.send(ctx, flush, b); err != nil {
		return err
	}
	s.mu.Lock()
	s.pending = nil
	s.mu.Unlock()
	return nil
}

func (s *Stats) send(ctx context.Context, flush StatsFlushFunc, b *statsBatch) error {
	fctx, cancel := context.WithTimeout(ctx, s.opts.FlushTimeout)
	defer cancel()
	if err := flush(fctx, b.id, b.delta); err != nil {
		s.failed.Add(1)
		return err
	}
	s.flushed.Add(1)
	return nil
}

// deltaLocked copies the current counters, sorted by key.
func (s *Stats) deltaLocked() gateway.StatsDelta {
	var d gateway.StatsDelta
	for name, c := range s.clients {
		d.Clients = append(d.Clients, gateway.ClientStatsDelta{Client: name, StatsCounts: utc(*c)})
	}
	for k, c := range s.tables {
		d.Tables = append(d.Tables, gateway.TableStatsDelta{Client: k.client, Table: k.table, Operation: k.op, StatsCounts: utc(*c)})
	}
	return d.Merged() // keys are unique already: this only sorts
}

// utc returns c with its time in UTC, as flushes carry it.
func utc(c gateway.StatsCounts) gateway.StatsCounts {
	c.LastRequestAt = c.LastRequestAt.UTC()
	return c
}

// Close stops the flusher and flushes once more (a pending failed flush,
// then the rest), bounded by ctx. What Flush cannot deliver then is
// applied through Direct when set. It is safe to call more than once;
// later calls only flush.
func (s *Stats) Close(ctx context.Context) error {
	s.once.Do(func() { close(s.stop) })
	<-s.done
	if s.opts.Direct == nil || s.opts.Flush == nil {
		return s.FlushNow(ctx)
	}
	// The messenger gets half the time left, so that when it cannot be
	// reached the direct application still has the other half.
	fctx, cancel := ctx, context.CancelFunc(func() {})
	if dl, ok := ctx.Deadline(); ok {
		fctx, cancel = context.WithDeadline(ctx, time.Now().Add(time.Until(dl)/2))
	}
	err := s.FlushNow(fctx)
	cancel()
	if err == nil {
		return nil
	}
	s.opts.Log.Warn("statistics flush failed at shutdown; applying the counters directly", "err", err)
	return s.flushWith(ctx, s.opts.Direct)
}
