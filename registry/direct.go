package registry

import (
	"container/list"
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// directConnectTimeout bounds connecting to a direct URI: a URI that points
// at something that is not PostgreSQL (or at nothing) answers 503 quickly
// instead of holding the request.
const directConnectTimeout = 3 * time.Second

// Direct returns a pool for a direct-URI header value (spec §1.1), creating
// it on first use. Pools are keyed on the full normalised URI, kept in a
// bounded LRU (control_plane.direct_uri_max_pools) and closed after
// direct_uri_idle_timeout unused. A new pool must answer a ping before it
// is cached, so a bad URI is not kept and fails within the connect timeout:
// 400 invalid_client for an unusable URI, 503 backend_unavailable when
// nothing PostgreSQL answers, or the server's own error (e.g. bad
// password). Errors and logs never contain the password.
//
// Direct URIs are an SSRF door (the caller chooses where the gateway
// connects), so they are refused with 403 unless gateway.direct_uri.enabled,
// and with a non-empty allowed_hosts every host the URI would reach must be
// listed.
func (r *Registry) Direct(ctx context.Context, raw string) (*postgres.DB, DirectURI, error) {
	if !r.directURI.Enabled {
		return nil, DirectURI{}, gateway.Errorf(gateway.CodeForbidden,
			"direct database URIs are disabled: the operator enables them with gateway.direct_uri.enabled").
			WithDetail("reason", "direct_uri_disabled")
	}
	d, err := ParseDirectURI(raw)
	if err != nil {
		return nil, d, err
	}
	if err := checkDirectHosts(d.URI, r.directURI.AllowedHosts); err != nil {
		return nil, d, err
	}
	if r.closed.Load() {
		return nil, d, errShuttingDown()
	}
	db, err := r.direct.get(ctx, d)
	return db, d, err
}

// checkDirectHosts refuses a URI that would reach a host outside allowed
// (every host: the URL's, a host= parameter's and the fallbacks of a
// multi-host URI, as pgx would resolve them). An empty list allows any.
func checkDirectHosts(uri string, allowed []string) error {
	if len(allowed) == 0 {
		return nil
	}
	pc, err := pgconn.ParseConfig(uri)
	if err != nil {
		return gateway.Errorf(gateway.CodeInvalidClient, "direct database URI cannot be parsed")
	}
	targets := []struct {
		host string
		port uint16
	}{{pc.Host, pc.Port}}
	for _, f := range pc.Fallbacks {
		targets = append(targets, struct {
			host string
			port uint16
		}{f.Host, f.Port})
	}
	for _, t := range targets {
		if !hostAllowed(t.host, t.port, allowed) {
			return gateway.Errorf(gateway.CodeForbidden,
				"direct database URI host %q is not in gateway.direct_uri.allowed_hosts", t.host).
				WithDetail("reason", "direct_uri_host_not_allowed")
		}
	}
	return nil
}

// hostAllowed matches one host and port against the allow-list entries:
// a CIDR matches a literal IP host (names are never resolved here, so a DNS
// answer cannot smuggle a host in); host:port matches both; a bare name or
// IP matches the host on any port.
func hostAllowed(host string, port uint16, allowed []string) bool {
	ip, ipErr := netip.ParseAddr(host)
	for _, a := range allowed {
		a = strings.TrimSpace(a)
		if pfx, err := netip.ParsePrefix(a); err == nil {
			if ipErr == nil && pfx.Contains(ip.Unmap()) {
				return true
			}
			continue
		}
		h, p := a, ""
		if sh, sp, err := net.SplitHostPort(a); err == nil {
			h, p = sh, sp
		}
		if !strings.EqualFold(h, host) {
			continue
		}
		if p == "" || p == strconv.Itoa(int(port)) {
			return true
		}
	}
	return false
}

// openDirect creates and pings a direct-URI pool.
func (r *Registry) openDirect(ctx context.Context, d DirectURI) (*postgres.DB, error) {
	c := config.Client{URI: d.URI}
	pc, err := r.poolConfig(c, "athena")
	if err != nil {
		return nil, gateway.Errorf(gateway.CodeInvalidClient, "direct database URI cannot be parsed")
	}
	if pc.ConnConfig.ConnectTimeout <= 0 || pc.ConnConfig.ConnectTimeout > directConnectTimeout {
		pc.ConnConfig.ConnectTimeout = directConnectTimeout
	}
	pc.MinConns = 0
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, gateway.Errorf(gateway.CodeInvalidClient, "direct database URI cannot be used")
	}
	pctx, cancel := context.WithTimeout(ctx, directConnectTimeout+time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		ge := postgres.MapError(err)
		if ge.Code == gateway.CodeInternal || ge.Code == gateway.CodeStatementTimeout {
			// A deadline or an unexpected protocol answer: whatever is at
			// that address did not behave like PostgreSQL.
			ge = &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: "database unavailable",
				Detail: "the database named by the direct URI did not answer",
				// Failed pools are not cached: the next request dials again.
				RetryAfter: gateway.RetryAfterSeconds(0)}
		}
		cp := *ge
		cp.Detail = redactText(cp.Detail)
		r.log.Warn("direct database URI unusable", "uri", d.Redacted, "code", cp.Code)
		return nil, &cp
	}
	r.log.Info("direct-URI pool created", "uri", d.Redacted, "max_conns", pc.MaxConns)
	return postgres.New(pool, r.dbOptions(c)), nil
}

// directCache is a bounded LRU of direct-URI pools.
type directCache struct {
	max       int
	idle      time.Duration
	open      func(context.Context, DirectURI) (*postgres.DB, error)
	closePool func(*pgxpool.Pool) // closes in the background

	mu     sync.Mutex
	items  map[string]*directPool
	lru    list.List // of *directPool, most recently used first
	closed bool
}

type directPool struct {
	uri      DirectURI
	elem     *list.Element
	ready    chan struct{} // closed once db/err are set
	db       *postgres.DB
	err      error
	lastUsed time.Time // guarded by directCache.mu
}

func newDirectCache(max int, idle time.Duration, open func(context.Context, DirectURI) (*postgres.DB, error), closeFn func(*pgxpool.Pool)) *directCache {
	return &directCache{max: max, idle: idle, open: open, closePool: closeFn, items: map[string]*directPool{}}
}

func (c *directCache) get(ctx context.Context, d DirectURI) (*postgres.DB, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, errShuttingDown()
	}
	p := c.items[d.URI]
	if p != nil {
		c.lru.MoveToFront(p.elem)
		p.lastUsed = time.Now()
		c.mu.Unlock()
		select {
		case <-p.ready:
			return p.db, p.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	p = &directPool{uri: d, ready: make(chan struct{}), lastUsed: time.Now()}
	p.elem = c.lru.PushFront(p)
	c.items[d.URI] = p
	evicted := c.evictLocked()
	c.mu.Unlock()
	c.closeAll(evicted)

	db, err := c.open(ctx, d)
	c.mu.Lock()
	p.db, p.err = db, err
	stale := c.closed || c.items[d.URI] != p // closed or evicted meanwhile
	if err != nil && c.items[d.URI] == p {
		c.removeLocked(p) // not cached: the next request tries again
	}
	c.mu.Unlock()
	close(p.ready)
	if stale && db != nil {
		c.closePool(db.Pool()) // the caller may still use it: Close waits for it
	}
	return db, err
}

// evictLocked removes least recently used ready pools beyond max.
func (c *directCache) evictLocked() []*directPool {
	var out []*directPool
	for e := c.lru.Back(); e != nil && len(c.items) > c.max; {
		p := e.Value.(*directPool)
		e = e.Prev()
		select {
		case <-p.ready:
			c.removeLocked(p)
			out = append(out, p)
		default: // still opening; its opener owns it
		}
	}
	return out
}

func (c *directCache) removeLocked(p *directPool) {
	c.lru.Remove(p.elem)
	delete(c.items, p.uri.URI)
}

func (c *directCache) closeAll(ps []*directPool) {
	for _, p := range ps {
		if p.db != nil {
			c.closePool(p.db.Pool())
		}
	}
}

// janitor closes pools idle longer than c.idle until ctx ends.
func (c *directCache) janitor(ctx context.Context) {
	every := max(c.idle/4, 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.closeAll(c.expire(time.Now()))
		}
	}
}

// expire removes ready pools unused since now-idle and not in use.
func (c *directCache) expire(now time.Time) []*directPool {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*directPool
	for e := c.lru.Back(); e != nil; {
		p := e.Value.(*directPool)
		e = e.Prev()
		if now.Sub(p.lastUsed) < c.idle {
			break // the rest were used more recently
		}
		select {
		case <-p.ready:
		default:
			continue
		}
		if p.db != nil && p.db.Pool().Stat().AcquiredConns() > 0 {
			continue // a long query is still running
		}
		c.removeLocked(p)
		out = append(out, p)
	}
	return out
}

// shutdown closes every pool; later gets answer 503.
func (c *directCache) shutdown() {
	c.mu.Lock()
	c.closed = true
	var all []*directPool
	for e := c.lru.Front(); e != nil; e = e.Next() {
		p := e.Value.(*directPool)
		select {
		case <-p.ready:
			all = append(all, p)
		default: // its opener sees closed and closes it
		}
	}
	c.items = map[string]*directPool{}
	c.lru.Init()
	c.mu.Unlock()
	c.closeAll(all)
}

func (c *directCache) stats() []PoolStat {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]PoolStat, 0, len(c.items))
	for e := c.lru.Front(); e != nil; e = e.Next() {
		p := e.Value.(*directPool)
		select {
		case <-p.ready:
		default:
			continue
		}
		if p.db != nil {
			out = append(out, poolStat(p.uri.Redacted, "direct", p.db.Pool()))
		}
	}
	return out
}
