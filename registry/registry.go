// Package registry maps client names (the X-Athena-Client header), direct
// database URIs and wildcard host names to databases (spec §1.1, §8).
//
// Clients come from the config file and, when the control plane (the
// logging database, spec §7) is configured, from its athena_clients table,
// merged over the file and kept live with LISTEN/NOTIFY plus a poll. The
// merged view is an immutable snapshot behind an atomic pointer, so Lookup —
// on every request — takes no lock and does no I/O. Pools are created
// lazily on first use and reused; a client whose database is down costs
// nothing until it is asked for, and then answers 503 instead of stopping
// the server.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// Registry holds the known clients and their (lazily opened) pools. It is
// safe for concurrent use.
type Registry struct {
	log      *slog.Logger
	defaults config.Postgres
	cp       config.ControlPlane // effective values
	cpErr    error               // invalid control-plane configuration: Start returns it
	file     map[string]config.Client
	suffix   string // wildcard host suffix (".db.example.com"), "" when off
	getenv   func(string) string

	state   atomic.Pointer[snapshot]
	applyMu sync.Mutex // serialises snapshot replacement

	// Control plane; all nil when it is off.
	cpPool *pgxpool.Pool
	// migrated is set once Migrate has succeeded.
	migrated atomic.Bool
	store    *postgres.ClientStore
	routes   *postgres.RouteStore

	direct *directCache
	// directURI is gateway.direct_uri: whether direct-URI headers are
	// accepted and for which hosts.
	directURI config.DirectURI

	kick     chan struct{} // coalesced reload requests (NOTIFY)
	failures chan failure  // connect failures to record, drained by a worker
	// failureEvery is the minimum time between two recorded failures of
	// one client (per process), so a dead database costs one write per
	// interval, not one per request.
	failureEvery time.Duration

	closed   atomic.Bool
	startMu  sync.Mutex
	started  bool
	stop     context.CancelFunc
	bg       sync.WaitGroup // background loops
	retiring sync.WaitGroup // pools being closed
}

// snapshot is one immutable merged view. Replaced whole, never modified.
type snapshot struct {
	clients map[string]*entry
	names   []string          // tenant-visible names, sorted
	routes  map[string]string // active wildcard routes: key → client
}

// entry is one client as served. Immutable except for its pool holder,
// which is shared between snapshots while the connection settings stay
// the same.
type entry struct {
	name     string
	source   string // config | database
	active   bool
	frozen   bool
	reserved bool   // the control plane's own client
	reason   string // why inactive, when known
	loadErr  string // the URI cannot be resolved (unset env var)
	cfg      config.Client
	pool     *holder
	inFile   bool
	envVar   string
	hasRow   bool
	metadata []byte
}

// holder owns one client pool. Its key is everything the pool was built
// from, so a snapshot keeps the holder (and the open pool) when nothing
// relevant changed.
type holder struct {
	key string
	db  atomic.Pointer[postgres.DB]

	mu      sync.Mutex // serialises opening and retiring
	retired bool

	lastFailure atomic.Int64 // unix nanos of the last recorded failure
	failing     atomic.Bool  // a failure was recorded since the last success
}

type failure struct {
	client string
	text   string // "" means: connected again, reset the count
}

// Options tunes a Registry beyond the configuration; the zero value is the
// production behaviour.
type Options struct {
	// Getenv resolves pg_uri_env_var clients and ATHENA_WILDCARD_HOST_PATTERN
	// (default os.Getenv).
	Getenv func(string) string
	// FailureEvery is the minimum time between two recorded load failures
	// of one client by this process (default 30s).
	FailureEvery time.Duration
}

// New builds a registry from the configuration. It opens nothing: pools are
// created on first use and the control plane is read by Start. Without a
// control plane (control_plane.client not among postgres_clients) it serves
// the file's clients only.
func New(cfg config.Config, log *slog.Logger) *Registry {
	return NewWithOptions(cfg, log, Options{})
}

// NewWithOptions is New with explicit Options.
func NewWithOptions(cfg config.Config, log *slog.Logger, o Options) *Registry {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.FailureEvery <= 0 {
		o.FailureEvery = 30 * time.Second
	}
	cp := cfg.ControlPlane.Effective(o.Getenv)
	r := &Registry{
		log:          log,
		defaults:     cfg.Postgres,
		cp:           cp,
		file:         map[string]config.Client{},
		getenv:       o.Getenv,
		kick:         make(chan struct{}, 1),
		failures:     make(chan failure, 64),
		failureEvery: o.FailureEvery,
		directURI:    cfg.Gateway.DirectURI,
	}
	for name, c := range cfg.Clients {
		r.file[name] = c
	}
	if err := cp.Validate(); err != nil {
		r.cpErr = err
	}
	r.suffix, _ = cp.WildcardSuffix()
	r.direct = newDirectCache(cp.DirectURIMaxPools, cp.DirectURIIdleTimeout, r.openDirect, r.closePool)

	if c, ok := r.file[cp.Client]; ok && cp.Client != "" {
		pc, err := r.poolConfig(c, "athena-control-plane")
		if err != nil {
			r.cpErr = fmt.Errorf("control plane client %q: the database URI cannot be parsed", cp.Client)
		} else if pool, err := pgxpool.NewWithConfig(context.Background(), pc); err != nil {
			r.cpErr = fmt.Errorf("control plane client %q: %s", cp.Client, redactText(err.Error()))
		} else {
			r.cpPool = pool
			r.store = postgres.NewClientStore(pool)
			r.routes = postgres.NewRouteStore(pool)
		}
	} else if log != nil {
		log.Warn("control plane disabled: its client is not among postgres_clients; serving config-file clients only, without live changes, auto-disable or wildcard routes",
			"control_plane_client", cp.Client)
	}
	r.state.Store(r.build(nil, nil, nil))
	return r
}

// ControlPlane returns the logging database's pool (spec §7), or nil when
// the control plane is off. The registry closes it in Close, after every
// tenant pool.
func (r *Registry) ControlPlane() *pgxpool.Pool { return r.cpPool }

// ControlPlaneClient is the reserved client name of the logging database
// ("" when the control plane is off).
func (r *Registry) ControlPlaneClient() string {
	if r.cpPool == nil {
		return ""
	}
	return r.cp.Client
}

// Reserved reports whether name is the control plane's own client, which
// tenant routes must refuse (Lookup already does: 403 forbidden).
func (r *Registry) Reserved(name string) bool {
	return r.cpPool != nil && strings.TrimSpace(name) == r.cp.Client
}

// Names lists the tenant-visible client names (the reserved control-plane
// client excluded), sorted.
func (r *Registry) Names() []string {
	names := r.state.Load().names
	return append([]string(nil), names...)
}

// Lookup returns the database of the named client, opening its pool on
// first use. It never does database I/O beyond pgxpool's lazy setup.
// Missing name 400 missing_client_header, unknown 400 invalid_client, the
// reserved control-plane client 403 forbidden, inactive 403
// client_inactive, frozen 503 client_frozen.
func (r *Registry) Lookup(name string) (*postgres.DB, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, gateway.Errorf(gateway.CodeMissingClientHeader, "X-Athena-Client header is required")
	}
	e := r.state.Load().clients[name]
	if e == nil {
		return nil, gateway.Errorf(gateway.CodeInvalidClient, "unknown client %q", name)
	}
	if r.closed.Load() {
		return nil, errShuttingDown()
	}
	if err := e.usable(); err != nil {
		return nil, err
	}
	return r.dbFor(e)
}

// usable reports why requests may not use e, or nil.
func (e *entry) usable() error {
	switch {
	case e.reserved:
		return gateway.Errorf(gateway.CodeForbidden, "client %q is reserved for the gateway's own data", e.name)
	case !e.active:
		err := gateway.Errorf(gateway.CodeClientInactive, "client %q is inactive", e.name)
		if e.reason != "" {
			err.Detail = e.reason
		}
		return err
	case e.frozen:
		return &gateway.Error{Code: gateway.CodeClientFrozen, Message: fmt.Sprintf("client %q is frozen", e.name),
			Detail: "the client is frozen by an operator; retry later", RetryAfter: 30}
	case e.loadErr != "":
		return &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: fmt.Sprintf("client %q is misconfigured", e.name),
			Detail: e.loadErr, RetryAfter: 30}
	}
	return nil
}

// dbFor returns e's pool, creating it on first use.
func (r *Registry) dbFor(e *entry) (*postgres.DB, error) {
	h := e.pool
	if db := h.db.Load(); db != nil {
		return db, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if db := h.db.Load(); db != nil {
		return db, nil
	}
	if h.retired || r.closed.Load() {
		// The snapshot we read was replaced (URI changed, client deleted)
		// or the gateway is stopping: the caller retries on the new one.
		return nil, &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: "client configuration changed",
			Detail: "the client's configuration changed during the request; retry", RetryAfter: 1}
	}
	db, err := r.open(e)
	if err != nil {
		return nil, err // not cached: a fixed configuration is picked up next time
	}
	h.db.Store(db)
	return db, nil
}

// poolConfig turns a client's configuration into pool settings.
func (r *Registry) poolConfig(c config.Client, appName string) (*pgxpool.Config, error) {
	pc, err := pgxpool.ParseConfig(c.URI)
	if err != nil {
		return nil, err
	}
	d := r.defaults
	pc.MaxConns = d.MaxConns
	if c.MaxConns > 0 {
		pc.MaxConns = c.MaxConns
	}
	if pc.MaxConns <= 0 {
		pc.MaxConns = 4
	}
	pc.MinConns = min(d.MinConns, pc.MaxConns)
	if d.MaxConnIdleTime > 0 {
		pc.MaxConnIdleTime = d.MaxConnIdleTime
	}
	if d.MaxConnLifetime > 0 {
		pc.MaxConnLifetime = d.MaxConnLifetime
	}
	if d.ConnectTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = d.ConnectTimeout
	}
	if pc.ConnConfig.RuntimeParams == nil {
		pc.ConnConfig.RuntimeParams = map[string]string{}
	}
	if _, set := pc.ConnConfig.RuntimeParams["application_name"]; !set {
		pc.ConnConfig.RuntimeParams["application_name"] = appName
	}
	postgres.ConfigurePool(pc, r.dbOptions(c))
	return pc, nil
}

func (r *Registry) dbOptions(c config.Client) postgres.Options {
	timeout := r.defaults.StatementTimeout
	if c.StatementTimeout > 0 {
		timeout = c.StatementTimeout
	}
	schemas := r.defaults.ExposedSchemas
	if len(c.ExposedSchemas) > 0 {
		schemas = c.ExposedSchemas
	}
	return postgres.Options{StatementTimeout: timeout, AcquireTimeout: r.defaults.AcquireTimeout, DeadlineMargin: r.defaults.DeadlineMargin, ExposedSchemas: schemas}
}

// open creates e's pool. pgxpool connects lazily, so this does no I/O and a
// down database surfaces later as a mapped 503 on the request that needs
// it (and, with a control plane, as a recorded load failure).
func (r *Registry) open(e *entry) (*postgres.DB, error) {
	pc, err := r.poolConfig(e.cfg, "athena")
	if err != nil {
		// The parse error may echo the URI (with a password): keep it out of
		// the response and the log line.
		r.log.Error("client has an invalid database URI", "client", e.name)
		return nil, &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: fmt.Sprintf("client %q is misconfigured", e.name), Detail: "the client's database URI cannot be parsed", RetryAfter: 30}
	}
	if r.store != nil && e.hasRow {
		pc.ConnConfig.Tracer = &connectWatch{r: r, client: e.name, h: e.pool}
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, postgres.MapError(err)
	}
	r.log.Info("client pool created", "client", e.name, "max_conns", pc.MaxConns)
	return postgres.New(pool, r.dbOptions(e.cfg)), nil
}

// build merges the file with the database rows (nil: none yet). For each
// name: a database-sourced row wins over the file; a config-sourced row
// lends its is_active/is_frozen flags to the file's client (so operators
// can freeze a file client) but never its URI, which the file owns; a
// config-sourced row whose name is not in this process's file is not
// served. Holders of unchanged clients are carried over from prev.
func (r *Registry) build(rows []postgres.ClientRow, routes map[string]string, prev *snapshot) *snapshot {
	s := &snapshot{clients: map[string]*entry{}, routes: routes}
	if s.routes == nil {
		s.routes = map[string]string{}
	}
	reserved := r.ControlPlaneClient()
	for name, c := range r.file {
		s.clients[name] = &entry{name: name, source: postgres.SourceConfig, active: true, cfg: c, inFile: true, reserved: name == reserved}
	}
	for _, row := range rows {
		if row.Name == reserved {
			continue // the control plane's URI comes from the file only
		}
		e := s.clients[row.Name]
		switch {
		case row.Source == postgres.SourceDatabase:
			c := config.Client{URI: row.URI}
			if e != nil {
				c.MaxConns, c.StatementTimeout, c.ExposedSchemas = e.cfg.MaxConns, e.cfg.StatementTimeout, e.cfg.ExposedSchemas
			}
			ne := &entry{name: row.Name, source: row.Source, active: row.Active, frozen: row.Frozen, reason: row.DisabledReason,
				cfg: c, inFile: e != nil, envVar: row.URIEnvVar, hasRow: true, metadata: row.Metadata}
			if row.URIEnvVar != "" {
				ne.cfg.URI = r.getenv(row.URIEnvVar)
				if strings.TrimSpace(ne.cfg.URI) == "" {
					ne.loadErr = fmt.Sprintf("environment variable %s is not set", row.URIEnvVar)
				}
			}
			s.clients[row.Name] = ne
		case e != nil:
			e.active, e.frozen, e.reason, e.hasRow, e.metadata = row.Active, row.Frozen, row.DisabledReason, true, row.Metadata
		}
		if e := s.clients[row.Name]; e != nil {
			// Metadata written through the admin API was checked there; a
			// row edited by hand with a bad list keeps the file's (or the
			// default) schemas rather than exposing more.
			if schemas, err := metadataSchemas(row.Metadata); err != nil {
				r.log.Warn("client metadata has an invalid exposed_schemas; ignoring it", "client", row.Name, "err", err)
			} else if schemas != nil {
				e.cfg.ExposedSchemas = schemas
			}
		}
	}
	for name, e := range s.clients {
		e.pool = &holder{key: poolKey(e.cfg)}
		if prev != nil {
			if old := prev.clients[name]; old != nil && old.pool.key == e.pool.key {
				e.pool = old.pool
			}
		}
		if !e.reserved {
			s.names = append(s.names, name)
		}
	}
	sort.Strings(s.names)
	return s
}

// poolKey also holds the exposed schemas: the DB enforces them, so a
// changed list gets a fresh DB (and metadata cache) like a changed timeout.
func poolKey(c config.Client) string {
	return c.URI + "\x00" + strconv.Itoa(int(c.MaxConns)) + "\x00" + c.StatementTimeout.String() +
		"\x00" + strings.Join(c.ExposedSchemas, ",")
}

// apply installs the snapshot built from rows and retires the pools no
// longer used (URI changed, client deleted).
func (r *Registry) apply(rows []postgres.ClientRow, routes map[string]string) {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	prev := r.state.Load()
	next := r.build(rows, routes, prev)
	r.state.Store(next)
	for name, old := range prev.clients {
		ne := next.clients[name]
		switch {
		case ne == nil:
			r.log.Info("client removed", "client", name)
		case ne.active != old.active || ne.frozen != old.frozen || ne.pool != old.pool:
			r.log.Info("client changed", "client", name, "active", ne.active, "frozen", ne.frozen, "uri_changed", ne.pool != old.pool)
		}
		if ne == nil || ne.pool != old.pool {
			r.retire(old.pool)
		}
	}
	for name, ne := range next.clients {
		if prev.clients[name] == nil {
			r.log.Info("client added", "client", name, "source", ne.source)
		}
	}
}

// retire takes h's pool out of service and closes it in the background:
// pgxpool.Close waits for connections in use, so in-flight requests finish.
func (r *Registry) retire(h *holder) {
	h.mu.Lock()
	h.retired = true
	db := h.db.Swap(nil)
	h.mu.Unlock()
	if db != nil {
		r.closePool(db.Pool())
	}
}

// closePool closes p in the background; Close waits for it.
func (r *Registry) closePool(p *pgxpool.Pool) {
	r.retiring.Add(1)
	go func() {
		defer r.retiring.Done()
		p.Close()
	}()
}

// PoolStat is one pool's state, for health and admin routes.
type PoolStat struct {
	Client           string `json:"client"`
	Kind             string `json:"kind"` // client | control_plane | direct
	Open             bool   `json:"open"`
	MaxConns         int32  `json:"max_conns"`
	TotalConns       int32  `json:"total_conns"`
	IdleConns        int32  `json:"idle_conns"`
	AcquiredConns    int32  `json:"acquired_conns"`
	AcquireCount     int64  `json:"acquire_count"`
	EmptyAcquires    int64  `json:"empty_acquire_count"` // acquires that had to wait for a connection
	CanceledAcquires int64  `json:"canceled_acquire_count"`
	AcquireWaitMS    int64  `json:"acquire_wait_ms"` // total time spent waiting for a connection
}

func poolStat(name, kind string, p *pgxpool.Pool) PoolStat {
	ps := PoolStat{Client: name, Kind: kind}
	if p == nil {
		return ps
	}
	s := p.Stat()
	ps.Open = true
	ps.MaxConns = s.MaxConns()
	ps.TotalConns = s.TotalConns()
	ps.IdleConns = s.IdleConns()
	ps.AcquiredConns = s.AcquiredConns()
	ps.AcquireCount = s.AcquireCount()
	ps.EmptyAcquires = s.EmptyAcquireCount()
	ps.CanceledAcquires = s.CanceledAcquireCount()
	ps.AcquireWaitMS = s.EmptyAcquireWaitTime().Milliseconds()
	return ps
}

// Stats reports every client's pool (Open false when never used), then the
// control plane's, then the direct-URI pools (passwords redacted).
func (r *Registry) Stats() []PoolStat {
	s := r.state.Load()
	out := make([]PoolStat, 0, len(s.clients)+1)
	for _, n := range s.names {
		var p *pgxpool.Pool
		if db := s.clients[n].pool.db.Load(); db != nil {
			p = db.Pool()
		}
		out = append(out, poolStat(n, "client", p))
	}
	if r.cpPool != nil {
		out = append(out, poolStat(r.cp.Client, "control_plane", r.cpPool))
	}
	return append(out, r.direct.stats()...)
}

// Close stops the background loops, closes every pool (waiting for
// connections in use) and finally the control plane's. Further lookups
// answer 503.
func (r *Registry) Close() {
	if r.closed.Swap(true) {
		return
	}
	r.startMu.Lock()
	if r.stop != nil {
		r.stop()
	}
	r.startMu.Unlock()
	r.bg.Wait()
	r.direct.shutdown()
	for _, e := range r.state.Load().clients {
		r.retire(e.pool)
	}
	r.retiring.Wait()
	if r.cpPool != nil {
		r.cpPool.Close()
	}
}

func errShuttingDown() error {
	return &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: "gateway is shutting down", Detail: "gateway is shutting down", RetryAfter: 1}
}

// errNoControlPlane answers admin changes when there is no database to
// write them to.
var errNoControlPlane = &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: "control plane is not configured",
	Detail: "client changes need the logging database: add its client to postgres_clients and name it in control_plane.client"}

// isBackendDown reports whether err means the control plane is unreachable
// (retry later) rather than broken (fail now).
func isBackendDown(err error) bool {
	return postgres.MapError(err).Code == gateway.CodeBackendUnavailable || errors.Is(err, context.DeadlineExceeded)
}
