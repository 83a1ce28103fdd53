// Package registry maps client names (the X-Athena-Client header) to their
// databases. Pools are created lazily on first use and reused; a client whose
// database is down costs nothing until it is asked for, and then answers
// 503 instead of stopping the server.
package registry

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// Registry holds the known clients and their (lazily opened) pools.
type Registry struct {
	log      *slog.Logger
	defaults config.Postgres

	mu      sync.RWMutex
	clients map[string]*entry
	closed  bool
}

type entry struct {
	name string
	cfg  config.Client

	// db is set once the pool exists; the hot path reads it without a lock.
	db atomic.Pointer[postgres.DB]
	mu sync.Mutex // serialises opening
}

// New builds a registry from the configured clients. It opens nothing.
func New(cfg config.Config, log *slog.Logger) *Registry {
	r := &Registry{log: log, defaults: cfg.Postgres, clients: map[string]*entry{}}
	for name, c := range cfg.Clients {
		r.clients[name] = &entry{name: name, cfg: c}
	}
	return r
}

// Names lists the client names in order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.clients))
	for n := range r.clients {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup returns the database of the named client, opening its pool on
// first use. Unknown names are 400 invalid_client.
func (r *Registry) Lookup(name string) (*postgres.DB, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, gateway.Errorf(gateway.CodeMissingClientHeader, "X-Athena-Client header is required")
	}
	r.mu.RLock()
	e, ok := r.clients[name]
	closed := r.closed
	r.mu.RUnlock()
	if !ok {
		return nil, gateway.Errorf(gateway.CodeInvalidClient, "unknown client %q", name)
	}
	if closed {
		return nil, errShuttingDown()
	}
	if db := e.db.Load(); db != nil {
		return db, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if db := e.db.Load(); db != nil {
		return db, nil
	}
	r.mu.RLock()
	closed = r.closed // Close may have passed this entry already
	r.mu.RUnlock()
	if closed {
		return nil, errShuttingDown()
	}
	db, err := r.open(e)
	if err != nil {
		return nil, err // not cached: a fixed configuration is picked up next time
	}
	e.db.Store(db)
	return db, nil
}

// open creates the pool. pgxpool connects lazily, so this does no I/O and a
// down database surfaces later as a mapped 503 on the request that needs it.
func (r *Registry) open(e *entry) (*postgres.DB, error) {
	pc, err := pgxpool.ParseConfig(e.cfg.URI)
	if err != nil {
		// The parse error may echo the URI (with a password): keep it out of
		// the response and the log line.
		r.log.Error("client has an invalid database URI", "client", e.name)
		return nil, &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: fmt.Sprintf("client %q is misconfigured", e.name), Detail: "the client's database URI cannot be parsed", RetryAfter: 30}
	}
	d := r.defaults
	pc.MaxConns = d.MaxConns
	if e.cfg.MaxConns > 0 {
		pc.MaxConns = e.cfg.MaxConns
	}
	pc.MinConns = min(d.MinConns, pc.MaxConns)
	pc.MaxConnIdleTime = d.MaxConnIdleTime
	pc.MaxConnLifetime = d.MaxConnLifetime
	if d.ConnectTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = d.ConnectTimeout
	}
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	pc.ConnConfig.RuntimeParams["application_name"] = "athena"
	timeout := d.StatementTimeout
	if e.cfg.StatementTimeout > 0 {
		timeout = e.cfg.StatementTimeout
	}
	opts := postgres.Options{StatementTimeout: timeout, AcquireTimeout: d.AcquireTimeout}
	// Set the statement timeout once per connection instead of per request.
	postgres.ConfigurePool(pc, opts)
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	r.log.Info("client pool created", "client", e.name, "max_conns", pc.MaxConns)
	return postgres.New(pool, opts), nil
}

// PoolStat is one client's pool state, for health and admin routes.
type PoolStat struct {
	Client        string `json:"client"`
	Open          bool   `json:"open"`
	MaxConns      int32  `json:"max_conns"`
	TotalConns    int32  `json:"total_conns"`
	IdleConns     int32  `json:"idle_conns"`
	AcquiredConns int32  `json:"acquired_conns"`
	AcquireCount  int64  `json:"acquire_count"`
	EmptyAcquires int64  `json:"empty_acquire_count"`
}

// Stats reports every client's pool (Open false when never used).
func (r *Registry) Stats() []PoolStat {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]PoolStat, 0, len(r.clients))
	for _, n := range r.sortedLocked() {
		e := r.clients[n]
		ps := PoolStat{Client: n}
		if db := e.db.Load(); db != nil {
			s := db.Pool().Stat()
			ps.Open = true
			ps.MaxConns = s.MaxConns()
			ps.TotalConns = s.TotalConns()
			ps.IdleConns = s.IdleConns()
			ps.AcquiredConns = s.AcquiredConns()
			ps.AcquireCount = s.AcquireCount()
			ps.EmptyAcquires = s.EmptyAcquireCount()
		}
		out = append(out, ps)
	}
	return out
}

func (r *Registry) sortedLocked() []string {
	out := make([]string, 0, len(r.clients))
	for n := range r.clients {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Close closes every open pool. Further lookups answer 503.
func (r *Registry) Close() {
	r.mu.Lock()
	r.closed = true
	entries := make([]*entry, 0, len(r.clients))
	for _, e := range r.clients {
		entries = append(entries, e)
	}
	r.mu.Unlock()
	for _, e := range entries {
		e.mu.Lock() // wait for an in-flight open
		if db := e.db.Load(); db != nil {
			db.Pool().Close()
		}
		e.mu.Unlock()
	}
}

func errShuttingDown() error {
	return &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: "gateway is shutting down", Detail: "gateway is shutting down", RetryAfter: 1}
}
