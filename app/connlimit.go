package app

import (
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// fdLimit returns the soft RLIMIT_NOFILE. Go's os package (since 1.19)
// already raises the soft limit to the hard one at start on Linux, so the
// gateway only reads and logs it: doing it again would change nothing.
func fdLimit() (soft, hard uint64, err error) {
	var r syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r); err != nil {
		return 0, 0, err
	}
	return r.Cur, r.Max, nil
}

// defaultMaxConnections derives api.max_connections from the descriptor
// limit, keeping a quarter of it (at least 256) for what else needs
// descriptors: database pools, Redis, Temporal, log files.
func defaultMaxConnections(fds uint64) int {
	reserve := max(fds/4, 256)
	if fds <= reserve+64 {
		return 64
	}
	n := fds - reserve
	if n > 1<<30 {
		n = 1 << 30
	}
	return int(n)
}

// overloadBody is the spec §1.4 envelope of the answer past the cap; the
// closed set of codes has none for an overloaded gateway, and
// backend_unavailable (503, retry) is what the client should do with it.
const overloadBody = `{"status":"error","message":"too many open connections","error":"the gateway is serving as many connections as it may; retry shortly","code":"backend_unavailable","data":{"operation":"connect","details":{}}}`

// overloadResponse is what a connection past the cap reads: a complete
// HTTP/1.1 answer, so clients see a retryable 503 instead of a timeout.
var overloadResponse = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: application/json; charset=utf-8\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"Content-Length: " + strconv.Itoa(len(overloadBody)) + "\r\n" +
	"\r\n" + overloadBody)

// Rejections answered at once; beyond this many in progress, an
// over-limit connection is closed without an answer so that a flood cannot
// pile up descriptors in rejecters.
const maxRejecting = 64

// rejectGrace bounds how long a rejected connection is kept to send the
// answer and drain the request (closing with unread input would reset the
// connection before the client read the 503).
const rejectGrace = time.Second

// limitListener caps the connections being served. Accept keeps
// accepting past the cap (a blocked Accept would leave clients to time out
// in the kernel's queue) and answers the extra connections with 503.
type limitListener struct {
	net.Listener
	max       int64
	active    atomic.Int64
	rejecting atomic.Int64
}

func newLimitListener(ln net.Listener, max int) *limitListener {
	return &limitListener{Listener: ln, max: int64(max)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.active.Add(1) <= l.max {
			return &limitedConn{Conn: c, release: func() { l.active.Add(-1) }}, nil
		}
		l.active.Add(-1)
		l.reject(c)
	}
}

func (l *limitListener) reject(c net.Conn) {
	if l.rejecting.Add(1) > maxRejecting {
		l.rejecting.Add(-1)
		_ = c.Close()
		return
	}
	go func() {
		defer l.rejecting.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(rejectGrace))
		if _, err := c.Write(overloadResponse); err != nil {
			return
		}
		if tc, ok := c.(interface{ CloseWrite() error }); ok {
			_ = tc.CloseWrite()
		}
		var buf [4096]byte
		for {
			if _, err := c.Read(buf[:]); err != nil {
				return
			}
		}
	}()
}

// limitedConn frees its slot once, when closed.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
