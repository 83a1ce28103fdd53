package postgres

import (
	"context"
	"sync/atomic"
	"time"
)

// sharedDeadline bounds connection acquisition without a timer per
// request. context.WithTimeout on every acquire cost about 6% of a fetch's
// CPU: each new runtime timer earlier than the network poller's sleep wakes
// the poller with a system call. Instead, every acquire that starts within
// the same quarter of the timeout shares one context whose deadline lies
// between timeout and 1.25×timeout after each of them began, so at most one
// timer is created per quarter timeout.
type sharedDeadline struct {
	cur atomic.Pointer[deadlineCtx]
}

type deadlineCtx struct {
	ctx     context.Context
	cancel  context.CancelFunc // releases the timer early when replaced
	renewAt int64              // UnixNano after which a new context is needed
}

// get returns a context that expires no sooner than timeout and no later
// than 1.25×timeout from now.
func (s *sharedDeadline) get(timeout time.Duration) context.Context {
	now := time.Now()
	old := s.cur.Load()
	if old != nil && now.UnixNano() < old.renewAt {
		return old.ctx
	}
	slack := timeout / 4
	ctx, cancel := context.WithDeadline(context.Background(), now.Add(timeout+slack))
	next := &deadlineCtx{ctx: ctx, cancel: cancel, renewAt: now.Add(slack).UnixNano()}
	if !s.cur.CompareAndSwap(old, next) {
		// Another acquire renewed it first; its context is as good.
		cancel()
		if c := s.cur.Load(); c != nil {
			return c.ctx
		}
		return next.ctx // unreachable: cur never goes back to nil
	}
	// The old context stays valid for those still waiting on it: its own
	// deadline cancels it, and nothing cancels it earlier.
	return ctx
}

// acquireContext is the context an acquire waits under: the shared deadline
// decides when waiting ends, and values (tracing, request info) come from
// the caller's context. The caller's cancellation is checked before waiting
// starts; a caller that goes away while waiting is released by the
// deadline, a bounded wait, and its statement then fails on its own
// context.
type acquireContext struct {
	context.Context // the caller's, for Value
	deadline        context.Context
}

func (c acquireContext) Deadline() (time.Time, bool) { return c.deadline.Deadline() }
func (c acquireContext) Done() <-chan struct{}       { return c.deadline.Done() }
func (c acquireContext) Err() error                  { return c.deadline.Err() }
