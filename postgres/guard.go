package postgres

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The gateway-side deadline. statement_timeout is enforced by the server,
// so a server that stops answering (stalled, SIGSTOPped, partitioned
// without a reset) would hold a request for as long as it stays silent.
// Every tenant connection is therefore dialled through guardDialer, which
// wraps it in a guardedConn: each Read or Write that stays blocked longer
// than the connection's bound (statement timeout + DeadlineMargin) is
// ended by closing the socket, and the operation fails with
// errStalled (504 statement_timeout). A healthy server always answers
// within the statement timeout (its own error arrives then), so the bound
// only ever fires for a silent one.
//
// Why not a context.WithTimeout per request: a runtime timer per request
// costs about 6% of a fetch's CPU (see sharedDeadline). The guard costs two
// atomic stores and a monotonic clock read per socket call, and one
// process-wide watcher goroutine that scans the open connections every
// watchTick while any exist, so a stalled call ends between bound and
// bound+watchTick. Timing the socket call rather than the request also
// bounds the right thing: a transaction of several statements may run for
// several statement timeouts, each of its round trips may not stay silent
// for longer than one.

// watchTick is how often the watcher looks for stalled socket calls.
const watchTick = 250 * time.Millisecond

// errStalled is the error of a database call whose connection the watcher
// closed: the server stayed silent past the statement timeout plus the
// margin. It is a deadline, not a connection failure: MapError answers 504.
var errStalled = stalledError{}

type stalledError struct{}

func (stalledError) Error() string {
	return "database did not answer within the statement timeout plus the gateway's margin"
}
func (stalledError) Is(target error) bool { return target == context.DeadlineExceeded }

// monoStart anchors mono: time.Since reads the monotonic clock, so a
// wall-clock step never expires a call.
var monoStart = time.Now()

// mono returns monotonic nanoseconds since monoStart, never 0 (0 means
// "no call blocked").
func mono() int64 { return int64(time.Since(monoStart)) + 1 }

// guardedConn times its blocking socket calls for the watcher.
type guardedConn struct {
	net.Conn
	bound int64 // nanoseconds a call may stay blocked
	// readSince and writeSince hold mono() while a Read or Write is
	// blocked, 0 otherwise. The watcher claims an expired call by swapping
	// its start for -1, so a call that ended (or a newer one) is never
	// taken for it.
	readSince, writeSince atomic.Int64
	expired               atomic.Bool
	removed               sync.Once
}

func (c *guardedConn) Read(b []byte) (int, error) {
	if c.expired.Load() {
		return 0, errStalled
	}
	c.readSince.Store(mono())
	n, err := c.Conn.Read(b)
	c.readSince.Store(0)
	if err != nil && c.expired.Load() {
		err = errStalled
	}
	return n, err
}

func (c *guardedConn) Write(b []byte) (int, error) {
	if c.expired.Load() {
		return 0, errStalled
	}
	c.writeSince.Store(mono())
	n, err := c.Conn.Write(b)
	c.writeSince.Store(0)
	if err != nil && c.expired.Load() {
		err = errStalled
	}
	return n, err
}

func (c *guardedConn) Close() error {
	c.removed.Do(func() { watcher.remove(c) })
	return c.Conn.Close()
}

// expire ends c's blocked call if it started before cutoff. It closes the
// socket, which unblocks the call; pgconn then closes the connection and
// the pool destroys it on release, so the pool recovers with fresh
// connections once the server answers again.
func (c *guardedConn) expire(now int64) bool {
	for _, since := range []*atomic.Int64{&c.readSince, &c.writeSince} {
		s := since.Load()
		if s > 0 && now-s > c.bound && since.CompareAndSwap(s, -1) {
			c.expired.Store(true)
			_ = c.Conn.Close()
			return true
		}
	}
	return false
}

// stallWatcher is the one goroutine that expires stalled calls. It runs
// only while guarded connections exist.
type stallWatcher struct {
	mu      sync.Mutex
	conns   map[*guardedConn]struct{}
	running bool
}

var watcher = &stallWatcher{conns: map[*guardedConn]struct{}{}}

func (w *stallWatcher) add(c *guardedConn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conns[c] = struct{}{}
	if !w.running {
		w.running = true
		go w.loop()
	}
}

func (w *stallWatcher) remove(c *guardedConn) {
	w.mu.Lock()
	delete(w.conns, c)
	w.mu.Unlock()
}

func (w *stallWatcher) loop() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	var batch []*guardedConn
	for range t.C {
		w.mu.Lock()
		if len(w.conns) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		batch = batch[:0]
		for c := range w.conns {
			batch = append(batch, c)
		}
		w.mu.Unlock()
		now := mono()
		for _, c := range batch {
			c.expire(now)
		}
	}
}

// TCP keepalive for tenant connections: a peer that vanished without a
// reset (host down, partition) is found within idle + count×interval
// instead of the kernel's two hours; TCP_USER_TIMEOUT bounds how long sent
// data may stay unacknowledged.
var keepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}

// defaultUserTimeout is TCP_USER_TIMEOUT when no statement timeout bounds
// the connection.
const defaultUserTimeout = 60 * time.Second

// guardDialer dials tenant connections with keepalive and a TCP user
// timeout and, when bound > 0, guards them (see guardedConn).
func guardDialer(bound time.Duration) pgconn.DialFunc {
	ut := bound
	if ut <= 0 {
		ut = defaultUserTimeout
	}
	d := &net.Dialer{KeepAliveConfig: keepAlive, Control: userTimeoutControl(ut)}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil || bound <= 0 {
			return c, err
		}
		g := &guardedConn{Conn: c, bound: int64(bound)}
		watcher.add(g)
		return g, nil
	}
}

// isStalled reports an error caused by the watcher.
func isStalled(err error) bool { return errors.Is(err, errStalled) }
