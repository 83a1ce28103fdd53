package telemetry

import (
	"context"
	"sync/atomic"
	"time"
)

// DefaultBackgroundTasks is the default number of Limiter slots.
const DefaultBackgroundTasks = 2

// Limiter is the one limit on background telemetry work in a process: log
// COPY batches, retention deletes, statistics flushes and rebuilds each
// take a slot for as long as they hold a database connection. In the
// original system telemetry tasks were spawned per request with no bound;
// under a burst they took every connection of the logging database, which
// also served the API-key lookups, and requests failed with pool timeouts.
// With a Limiter, telemetry never holds more than its slots, whatever pool
// it draws from, and what cannot get a slot waits in the background (the
// request path never calls Acquire).
//
// A nil *Limiter does not limit.
type Limiter struct {
	slots chan struct{}

	inFlight  atomic.Int64
	waits     atomic.Int64 // acquires that found every slot taken
	waitNanos atomic.Int64 // time spent waiting for a slot
	refused   atomic.Int64 // acquires that gave up (their context ended)
}

// NewLimiter returns a limiter with n slots (DefaultBackgroundTasks when n
// is not positive).
func NewLimiter(n int) *Limiter {
	if n <= 0 {
		n = DefaultBackgroundTasks
	}
	return &Limiter{slots: make(chan struct{}, n)}
}

// Acquire takes a slot, waiting until one is free or ctx ends (then it
// returns ctx's error and no slot). release gives the slot back; call it
// exactly once.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	select {
	case l.slots <- struct{}{}:
	default:
		l.waits.Add(1)
		start := time.Now()
		select {
		case l.slots <- struct{}{}:
			l.waitNanos.Add(int64(time.Since(start)))
		case <-ctx.Done():
			l.waitNanos.Add(int64(time.Since(start)))
			l.refused.Add(1)
			return nil, ctx.Err()
		}
	}
	l.inFlight.Add(1)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			l.inFlight.Add(-1)
			<-l.slots
		}
	}, nil
}

// Do runs f holding a slot; the wait for the slot counts against ctx like
// f's own work. Without a slot f does not run and Do returns ctx's error.
func (l *Limiter) Do(ctx context.Context, f func() error) error {
	release, err := l.Acquire(ctx)
	if err != nil {
		return err
	}
	defer release()
	return f()
}

// Slots is the limit; InFlight how many slots are taken now.
func (l *Limiter) Slots() int      { return cap(l.slots) }
func (l *Limiter) InFlight() int64 { return l.inFlight.Load() }

// Waits is how many acquires found every slot taken.
func (l *Limiter) Waits() int64 { return l.waits.Load() }

// Register adds the limiter's gauges and counters to m.
func (l *Limiter) Register(m *Metrics) {
	if l == nil || m == nil {
		return
	}
	one := func(v func() float64) func() []Sample {
		return func() []Sample { return []Sample{{Value: v()}} }
	}
	m.AddGauges("athena_telemetry_task_slots", "Slots of the background telemetry limiter (log writes, retention, statistics).", nil, one(func() float64 { return float64(l.Slots()) }))
	m.AddGauges("athena_telemetry_tasks_in_flight", "Background telemetry tasks holding a slot now.", nil, one(func() float64 { return float64(l.InFlight()) }))
	m.AddCounters("athena_telemetry_task_waits_total", "Background telemetry tasks that had to wait for a slot.", nil, one(func() float64 { return float64(l.Waits()) }))
	m.AddCounters("athena_telemetry_task_wait_seconds_total", "Time background telemetry tasks spent waiting for a slot.", nil, one(func() float64 { return float64(l.waitNanos.Load()) / 1e9 }))
	m.AddCounters("athena_telemetry_task_refusals_total", "Background telemetry tasks that gave up waiting for a slot.", nil, one(func() float64 { return float64(l.refused.Load()) }))
}
