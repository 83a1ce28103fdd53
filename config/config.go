// Package config loads Athena's configuration: a YAML file found the way spec
// §8 describes, ${ENV} references inside it, and ATHENA_<SECTION>_<KEY>
// environment overrides. It only parses and validates; nothing here opens a
// connection.
package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/athena-gateway/athena/gateway"
)

// Config is the whole configuration file.
type Config struct {
	API      API      `yaml:"api"`
	Postgres Postgres `yaml:"postgres"`
	Gateway  Gateway  `yaml:"gateway"`
	Temporal Temporal `yaml:"temporal"`
	// Redis is optional everywhere: without it the read cache is
	// process-local.
	Redis Redis `yaml:"redis"`
	// Cache is the read cache of fetch responses (package cache).
	Cache Cache `yaml:"cache"`
	// ControlPlane is the gateway's own database and the live registry (controlplane.go).
	ControlPlane ControlPlane `yaml:"control_plane"`
	// Telemetry is the request and operation logs written to the logging
	// database.
	Telemetry Telemetry `yaml:"telemetry"`
	// APIKeys says whether tenant requests need an API key (spec §1.2).
	APIKeys APIKeys `yaml:"api_keys"`
	// Deferred paces deferred requests (spec §5).
	Deferred Deferred `yaml:"deferred"`
	// Admission is the admission limiter (spec §5; package admission).
	Admission Admission `yaml:"admission"`
	// Clients maps a client name (the X-Athena-Client value) to its database.
	Clients map[string]Client `yaml:"postgres_clients"`

	// Path is the file the configuration was read from ("" for defaults only).
	Path string `yaml:"-"`
}

// API configures the HTTP listener.
type API struct {
	Host              string        `yaml:"host"`
	Port              int           `yaml:"port"`
	BodyLimitBytes    int64         `yaml:"body_limit_bytes"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	// MaxConnections caps the HTTP connections served at once; past it a
	// new connection is answered 503 with Retry-After and closed. 0 derives
	// it from the file descriptor limit (three quarters of it, keeping at
	// least 256 descriptors for pools and the rest).
	MaxConnections int `yaml:"max_connections"`
	// TrustedProxies are the reverse proxies (addresses or CIDRs) whose
	// X-Forwarded-For names the client in the request log; none by default.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// Postgres holds the pool defaults every client inherits.
type Postgres struct {
	MaxConns         int32         `yaml:"max_conns"`
	MinConns         int32         `yaml:"min_conns"`
	ConnectTimeout   time.Duration `yaml:"connect_timeout"`
	AcquireTimeout   time.Duration `yaml:"acquire_timeout"`
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	// DeadlineMargin is added to the statement timeout to bound, on the
	// gateway's side, how long a database call waits for a silent server
	// (a stalled one never sends its statement-timeout error): past it the
	// connection is closed and the request answers 504.
	DeadlineMargin  time.Duration `yaml:"deadline_margin"`
	MaxConnIdleTime time.Duration `yaml:"max_conn_idle_time"`
	MaxConnLifetime time.Duration `yaml:"max_conn_lifetime"`
	// ExposedSchemas are the schemas fetch, insert, update, delete, embeds
	// and RPC reach (spec §1.1), in the order an unqualified name is looked
	// up; default ["public"]. A client overrides it in postgres_clients or
	// in its control-plane metadata. System schemas (gateway.SystemSchema)
	// are refused.
	ExposedSchemas []string `yaml:"exposed_schemas"`
}

// Gateway bounds what one request may ask for.
type Gateway struct {
	MaxInsertRows int   `yaml:"max_insert_rows"`
	MaxLimit      int64 `yaml:"max_limit"`
	// DirectURI governs the direct PostgreSQL URI headers (x-pg-uri,
	// x-athena-jdbc-url, x-jdbc-url; spec §1.1).
	DirectURI DirectURI `yaml:"direct_uri"`
}

// DirectURI: a caller-supplied URI makes the gateway connect wherever it
// says (an SSRF door), so the headers are refused (403) unless enabled.
type DirectURI struct {
	Enabled bool `yaml:"enabled"`
	// AllowedHosts, when not empty, limits the URI's host to these entries:
	// a host name ("db.internal", matched case-insensitively), a host:port
	// ("db.internal:5432", "10.0.0.5:6432") or a CIDR ("10.0.0.0/8",
	// matched against a literal IP host only: names are not resolved, so a
	// DNS answer cannot smuggle a host in). Empty allows any host.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// APIKeys is the configuration side of key enforcement. The stored
// switch (api_key_config.enforce_api_keys, PUT /admin/api-key-config) and
// per-client overrides win when an operator set them; Required decides
// where nothing is stored.
type APIKeys struct {
	// Required: nil means "not set", which is true for athena serve and
	// false for athena dev's loopback-only demo.
	Required *bool `yaml:"required"`
}

// KeysRequired resolves Required with def for "not set".
func (k APIKeys) KeysRequired(def bool) bool {
	if k.Required == nil {
		return def
	}
	return *k.Required
}

// Temporal says where the Temporal server is (the worker and, for deferred
// work, the gateway connect to it). TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_API_KEY, TEMPORAL_TLS_CERT, TEMPORAL_TLS_KEY and TEMPORAL_TLS_CA
// (the Temporal CLI's names) override the file; ATHENA_TEMPORAL_<KEY>
// overrides those.
type Temporal struct {
	// Address is the frontend's host:port.
	Address   string `yaml:"address"`
	Namespace string `yaml:"namespace"`
	// TLSCertFile and TLSKeyFile are a client certificate (mTLS); TLSCAFile
	// verifies the server. Setting any of them turns TLS on.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	TLSCAFile   string `yaml:"tls_ca_file"`
	// APIKey authenticates to hosted Temporal; it turns TLS on as well.
	APIKey string `yaml:"api_key"`
}

// Deferred configures deferred execution (spec §5): writes queued as
// DeferredRequest workflows on the athena-deferred task queue. The queue is
// the pacing: a worker runs at most MaxConcurrentActivities of them at once,
// and the Temporal server hands out at most ActivitiesPerSecond across all
// workers, so a drain never takes the tenant pool from synchronous callers.
type Deferred struct {
	// MaxConcurrentActivities is each worker's slots for deferred requests;
	// every running one holds one connection of its client's pool, so it
	// should stay below postgres.max_conns (and each client's max_conns),
	// leaving the rest to synchronous callers: the worker uses at most
	// postgres.max_conns - 1 (DeferredSlots). Default 4.
	MaxConcurrentActivities int `yaml:"max_concurrent_activities"`
	// ActivitiesPerSecond is the task queue's rate across all workers, set
	// through Temporal (TaskQueueActivitiesPerSecond). Default 200.
	ActivitiesPerSecond float64 `yaml:"activities_per_second"`
	// RetryAfter is the polling interval the 202 suggests (Retry-After,
	// retry_after_seconds). Default 2s.
	RetryAfter time.Duration `yaml:"retry_after"`
	// StartTimeout bounds starting the workflow; past it (Temporal
	// unreachable) the request answers 503 deferred_queue_unavailable.
	// Default 5s.
	StartTimeout time.Duration `yaml:"start_timeout"`
}

// DeferredSlots is the concurrency a worker gives deferred requests:
// deferred.max_concurrent_activities, capped at postgres.max_conns - 1 (at
// least 1) so the tenant pool always has a connection for synchronous
// callers.
func (c Config) DeferredSlots() int {
	return max(1, min(c.Deferred.MaxConcurrentActivities, int(c.Postgres.MaxConns)-1))
}

// Telemetry configures the request and operation logs (gateway_request_log,
// gateway_operation_log, spec §7). They are written only when the control
// plane is configured, in batches on a pool of their own, and never make a
// request wait: entries beyond the queue are dropped and counted.
type Telemetry struct {
	Enabled bool `yaml:"enabled"`
	// Metrics records every request in the Prometheus metrics and serves
	// /metrics; false leaves both out (the request path then records
	// nothing), independently of the logs that Enabled governs.
	Metrics bool `yaml:"metrics"`
	// LogPoolMaxConns sizes the dedicated logging pool, opened on the
	// control-plane client's URI beside the pool used for key lookups.
	LogPoolMaxConns  int32         `yaml:"log_pool_max_conns"`
	LogQueueSize     int           `yaml:"log_queue_size"`     // entries waiting per log
	LogBatchSize     int           `yaml:"log_batch_size"`     // rows per COPY
	LogFlushInterval time.Duration `yaml:"log_flush_interval"` // a partial batch waits at most this
	// LogRetention deletes older rows every hour; 0 keeps them forever.
	LogRetention time.Duration `yaml:"log_retention"`
	// BackgroundTasks bounds the telemetry statements (log COPYs,
	// retention deletes, statistics flushes and rebuilds) a process runs
	// at once, whichever pool they use, so telemetry never takes more than
	// this many connections of the logging database.
	BackgroundTasks int `yaml:"background_tasks"`
	// StatsInterval is how often a gateway process flushes its statistics
	// counters (a StatsFlush workflow carrying the deltas).
	StatsInterval time.Duration `yaml:"stats_interval"`
	// StatsMaxKeys bounds the counters held in memory per process (clients
	// plus (client, table, operation) keys), including a flush Temporal has
	// not accepted yet; records for new keys beyond it are dropped and
	// counted.
	StatsMaxKeys int `yaml:"stats_max_keys"`
}

// Admission configures the admission limiter (spec §5): requests per
// second with a burst and a cap on requests in flight, globally and per
// client. Over a limit, reads answer 429 rate_limited and writes are
// deferred. Off by default; when off the request path does not consult it.
type Admission struct {
	Enabled bool `yaml:"enabled"`
	// Global limits every tenant request: the rate across every gateway
	// process sharing Redis (per process without Redis), the in-flight cap
	// per process.
	Global AdmissionLimit `yaml:"global"`
	// ClientDefault is each client's limit unless Clients or the client's
	// athena_client_configs row ("admission" key, set through
	// PUT /admin/clients/{name}/admission) says otherwise.
	ClientDefault AdmissionLimit `yaml:"client_default"`
	// Clients overrides ClientDefault per client name; the database wins
	// over this.
	Clients map[string]AdmissionLimit `yaml:"clients"`
	// RecordAdmitted writes admitted decisions to gateway_admission_events
	// too (one row per tenant request); false keeps only deferred and
	// rejected ones.
	RecordAdmitted bool `yaml:"record_admitted"`
	// RedisPrefix starts the limiter's Redis keys.
	RedisPrefix string `yaml:"redis_prefix"`
	// RedisChunk is how many tokens a process takes from Redis per call
	// (at most a quarter of the burst), spending them locally.
	RedisChunk int `yaml:"redis_chunk"`
	// RedisTimeout bounds one Redis call; RedisRetry is how long limits
	// stay per process after Redis failed before it is asked again.
	RedisTimeout time.Duration `yaml:"redis_timeout"`
	RedisRetry   time.Duration `yaml:"redis_retry"`
	// ReloadInterval is how often the per-client limits are re-read from
	// the logging database, so a change made through another process's
	// admin route reaches this one.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// AdmissionLimit is one limit; 0 means no limit on that dimension, and a
// rate without a burst gets one second's worth.
type AdmissionLimit struct {
	RPS         float64 `yaml:"rps"`
	Burst       int     `yaml:"burst"`
	MaxInFlight int     `yaml:"max_in_flight"`
}

func (l AdmissionLimit) check(name string) []string {
	var errs []string
	if l.RPS < 0 || l.RPS != l.RPS || l.RPS > 1e9 {
		errs = append(errs, name+".rps must be between 0 and 1e9")
	}
	if l.Burst < 0 || l.MaxInFlight < 0 {
		errs = append(errs, name+".burst and "+name+".max_in_flight must not be negative")
	}
	return errs
}

// Client is one backend database. In YAML it is either a bare URI string or
// a mapping with uri plus per-client pool overrides.
type Client struct {
	URI              string        `yaml:"uri"`
	MaxConns         int32         `yaml:"max_conns"`
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	// ExposedSchemas overrides postgres.exposed_schemas for this client.
	ExposedSchemas []string `yaml:"exposed_schemas"`
}

// UnmarshalYAML accepts `name: "postgres://…"` as well as the mapping form.
func (c *Client) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		c.URI = n.Value
		return nil
	}
	type plain Client
	return n.Decode((*plain)(c))
}

// Default returns the configuration used when a key is not set.
func Default() Config {
	return Config{
		API: API{
			Host:              "0.0.0.0",
			Port:              4052,
			BodyLimitBytes:    10 << 20,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       60 * time.Second,
			WriteTimeout:      120 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   15 * time.Second,
		},
		Postgres: Postgres{
			MaxConns:         10,
			ConnectTimeout:   5 * time.Second,
			AcquireTimeout:   5 * time.Second,
			StatementTimeout: 30 * time.Second,
			DeadlineMargin:   5 * time.Second,
			MaxConnIdleTime:  5 * time.Minute,
			MaxConnLifetime:  time.Hour,
			ExposedSchemas:   append([]string(nil), gateway.DefaultExposedSchemas...),
		},
		Gateway:      Gateway{MaxInsertRows: 10000},
		Cache:        Cache{Enabled: true, TTL: 30 * time.Second, MaxBytes: 64 << 20, RedisTTL: 5 * time.Minute},
		Temporal:     Temporal{Address: "127.0.0.1:7233", Namespace: "default"},
		ControlPlane: DefaultControlPlane(),
		Telemetry: Telemetry{
			Enabled:          true,
			Metrics:          true,
			LogPoolMaxConns:  2,
			LogQueueSize:     10000,
			LogBatchSize:     500,
			LogFlushInterval: time.Second,
			LogRetention:     14 * 24 * time.Hour,
			BackgroundTasks:  2,
			StatsInterval:    5 * time.Second,
			StatsMaxKeys:     10000,
		},
		Deferred: Deferred{MaxConcurrentActivities: 4, ActivitiesPerSecond: 200, RetryAfter: 2 * time.Second, StartTimeout: 5 * time.Second},
		Admission: Admission{
			RecordAdmitted: true,
			RedisPrefix:    "athena:admission:",
			RedisChunk:     32,
			RedisTimeout:   100 * time.Millisecond,
			RedisRetry:     time.Second,
			ReloadInterval: 10 * time.Second,
		},
		Clients: map[string]Client{},
	}
}

// ErrNotFound is returned by Find when no candidate file exists.
var ErrNotFound = errors.New("no configuration file found")

// Candidates lists where the configuration file is looked for, in order:
// the --config flag, ATHENA_CONFIG_PATH, ./config.yaml,
// $XDG_CONFIG_HOME/athena/config.yaml, ~/.athena/config.yaml.
func Candidates(flagPath string, getenv func(string) string) []string {
	var out []string
	if flagPath != "" {
		return []string{flagPath}
	}
	if p := getenv("ATHENA_CONFIG_PATH"); p != "" {
		return []string{p}
	}
	out = append(out, "config.yaml")
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		out = append(out, filepath.Join(x, "athena", "config.yaml"))
	}
	if h := getenv("HOME"); h != "" {
		out = append(out, filepath.Join(h, ".athena", "config.yaml"))
	}
	return out
}

// Load finds, reads and validates the configuration. An explicitly named
// file (flag or ATHENA_CONFIG_PATH) must exist; otherwise a missing file
// means defaults plus environment overrides.
func Load(flagPath string, getenv func(string) string) (Config, error) {
	explicit := flagPath != "" || getenv("ATHENA_CONFIG_PATH") != ""
	cfg := Default()
	for _, p := range Candidates(flagPath, getenv) {
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) && !explicit {
			continue
		}
		if err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		if err := Parse(data, &cfg); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", p, err)
		}
		cfg.Path = p
		break
	}
	applyTemporalEnv(&cfg.Temporal, getenv)
	if v := getenv("REDIS_URL"); v != "" && getenv("ATHENA_REDIS_URL") == "" {
		cfg.Redis.URL = v
	}
	if err := applyEnv(&cfg, getenv, os.Environ()); err != nil {
		return Config{}, err
	}
	if err := cfg.resolveClientEnv(getenv); err != nil {
		return Config{}, err
	}
	return cfg, cfg.Validate()
}

// Parse decodes YAML over cfg (which should start as Default()). Unknown
// keys are errors, so a typo does not silently fall back to a default.
func Parse(data []byte, cfg *Config) error {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	// An empty file decodes to io.EOF: that simply means "all defaults".
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	if cfg.Clients == nil {
		cfg.Clients = map[string]Client{}
	}
	return nil
}

// applyTemporalEnv applies the environment variables the Temporal CLI and
// SDK samples use, so one set of variables configures both.
func applyTemporalEnv(t *Temporal, getenv func(string) string) {
	for env, field := range map[string]*string{
		"TEMPORAL_ADDRESS":   &t.Address,
		"TEMPORAL_NAMESPACE": &t.Namespace,
		"TEMPORAL_API_KEY":   &t.APIKey,
		"TEMPORAL_TLS_CERT":  &t.TLSCertFile,
		"TEMPORAL_TLS_KEY":   &t.TLSKeyFile,
		"TEMPORAL_TLS_CA":    &t.TLSCAFile,
	} {
		if v := getenv(env); v != "" {
			*field = v
		}
	}
}

// Redis names the optional Redis server ("" = none). REDIS_URL sets it too.
type Redis struct {
	URL string `yaml:"url"`
}

// Cache configures the read cache. Generations make cached reads exact
// (README "Read cache"); the TTLs only bound memory and how long a write
// made outside Athena stays invisible.
type Cache struct {
	Enabled  bool          `yaml:"enabled"`
	TTL      time.Duration `yaml:"ttl"`       // local entry lifetime
	MaxBytes int64         `yaml:"max_bytes"` // local cache bound, in response bytes
	RedisTTL time.Duration `yaml:"redis_ttl"` // Redis copy lifetime; 0 = generations only
	// Clients overrides the above per client name.
	Clients map[string]CacheClient `yaml:"clients"`
}

// CacheClient is one client's override; zero durations inherit.
type CacheClient struct {
	Enabled  *bool         `yaml:"enabled"`
	TTL      time.Duration `yaml:"ttl"`
	RedisTTL time.Duration `yaml:"redis_ttl"`
}

var envRef = regexp.MustCompile(`^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$`)

// resolveClientEnv replaces "${VAR}" client URIs with the variable's value.
func (c *Config) resolveClientEnv(getenv func(string) string) error {
	for name, cl := range c.Clients {
		if m := envRef.FindStringSubmatch(strings.TrimSpace(cl.URI)); m != nil {
			v := getenv(m[1])
			if v == "" {
				return fmt.Errorf("postgres_clients.%s: environment variable %s is not set", name, m[1])
			}
			cl.URI = v
			c.Clients[name] = cl
		}
	}
	return nil
}

// Validate checks ranges and names.
func (c *Config) Validate() error {
	var errs []string
	if c.API.Port < 0 || c.API.Port > 65535 {
		errs = append(errs, fmt.Sprintf("api.port %d is out of range", c.API.Port))
	}
	if c.API.MaxConnections < 0 {
		errs = append(errs, "api.max_connections must not be negative (0 derives it from the file descriptor limit)")
	}
	if c.API.BodyLimitBytes <= 0 {
		errs = append(errs, "api.body_limit_bytes must be positive")
	}
	if c.Postgres.MaxConns <= 0 {
		errs = append(errs, "postgres.max_conns must be positive")
	}
	if c.Postgres.MinConns < 0 || c.Postgres.MinConns > c.Postgres.MaxConns {
		errs = append(errs, "postgres.min_conns must be between 0 and max_conns")
	}
	if c.Postgres.AcquireTimeout <= 0 {
		errs = append(errs, "postgres.acquire_timeout must be positive")
	}
	if c.Postgres.DeadlineMargin <= 0 {
		errs = append(errs, "postgres.deadline_margin must be positive")
	}
	if c.Gateway.MaxInsertRows <= 0 {
		errs = append(errs, "gateway.max_insert_rows must be positive")
	}
	if strings.TrimSpace(c.Temporal.Address) == "" {
		errs = append(errs, "temporal.address must not be empty")
	}
	if strings.TrimSpace(c.Temporal.Namespace) == "" {
		errs = append(errs, "temporal.namespace must not be empty")
	}
	if (c.Temporal.TLSCertFile == "") != (c.Temporal.TLSKeyFile == "") {
		errs = append(errs, "temporal.tls_cert_file and temporal.tls_key_file go together")
	}
	if c.Cache.TTL <= 0 {
		errs = append(errs, "cache.ttl must be positive")
	}
	if c.Cache.MaxBytes <= 0 {
		errs = append(errs, "cache.max_bytes must be positive")
	}
	if c.Cache.RedisTTL < 0 {
		errs = append(errs, "cache.redis_ttl must not be negative")
	}
	for n, cc := range c.Cache.Clients {
		if cc.TTL < 0 || cc.RedisTTL < 0 {
			errs = append(errs, fmt.Sprintf("cache.clients.%s: durations must not be negative", n))
		}
	}
	if c.Telemetry.LogPoolMaxConns <= 0 {
		errs = append(errs, "telemetry.log_pool_max_conns must be positive")
	}
	if c.Telemetry.LogQueueSize <= 0 || c.Telemetry.LogBatchSize <= 0 {
		errs = append(errs, "telemetry.log_queue_size and telemetry.log_batch_size must be positive")
	}
	if c.Telemetry.LogFlushInterval <= 0 {
		errs = append(errs, "telemetry.log_flush_interval must be positive")
	}
	for _, h := range c.Gateway.DirectURI.AllowedHosts {
		if !validHostEntry(h) {
			errs = append(errs, fmt.Sprintf("gateway.direct_uri.allowed_hosts: %q is neither a host name, a host:port nor a CIDR", h))
		}
	}
	for _, p := range c.API.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err != nil {
			errs = append(errs, fmt.Sprintf("api.trusted_proxies: %q is neither an IP address nor a CIDR", p))
		}
	}
	if c.Deferred.MaxConcurrentActivities <= 0 {
		errs = append(errs, "deferred.max_concurrent_activities must be positive")
	}
	if c.Deferred.ActivitiesPerSecond <= 0 {
		errs = append(errs, "deferred.activities_per_second must be positive")
	}
	if c.Deferred.RetryAfter <= 0 || c.Deferred.StartTimeout <= 0 {
		errs = append(errs, "deferred.retry_after and deferred.start_timeout must be positive")
	}
	if c.Telemetry.BackgroundTasks <= 0 {
		errs = append(errs, "telemetry.background_tasks must be positive")
	}
	if c.Telemetry.StatsInterval <= 0 || c.Telemetry.StatsMaxKeys <= 0 {
		errs = append(errs, "telemetry.stats_interval and telemetry.stats_max_keys must be positive")
	}
	if c.Telemetry.LogRetention < 0 {
		errs = append(errs, "telemetry.log_retention must not be negative")
	}
	errs = append(errs, c.Admission.check()...)
	if len(c.Postgres.ExposedSchemas) == 0 {
		errs = append(errs, "postgres.exposed_schemas must name at least one schema")
	}
	if err := CheckExposedSchemas(c.Postgres.ExposedSchemas); err != nil {
		errs = append(errs, "postgres.exposed_schemas: "+err.Error())
	}
	names := make([]string, 0, len(c.Clients))
	for n := range c.Clients {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !gateway.ValidClientName(n) {
			errs = append(errs, fmt.Sprintf("postgres_clients: invalid client name %q", n))
		}
		if strings.TrimSpace(c.Clients[n].URI) == "" {
			errs = append(errs, fmt.Sprintf("postgres_clients.%s: empty URI", n))
		}
		if err := CheckExposedSchemas(c.Clients[n].ExposedSchemas); err != nil {
			errs = append(errs, fmt.Sprintf("postgres_clients.%s.exposed_schemas: %v", n, err))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// CheckExposedSchemas validates a list of exposed schemas: plain
// identifiers, no system schema (gateway.SystemSchema), no repeats.
// Refusing a system schema here, rather than silently dropping it, tells
// the operator the configuration does not do what it says.
func CheckExposedSchemas(schemas []string) error {
	seen := map[string]bool{}
	for _, s := range schemas {
		switch {
		case !gateway.ValidIdentifier(s):
			return fmt.Errorf("invalid schema name %q", s)
		case gateway.SystemSchema(s):
			return fmt.Errorf("schema %q is never exposed (system schemas and athena are reachable only through raw SQL)", s)
		case seen[s]:
			return fmt.Errorf("schema %q is listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

// validHostEntry accepts what registry matches a direct URI's host against:
// a CIDR, a host:port, or a bare host name or IP address.
func validHostEntry(h string) bool {
	if _, err := netip.ParsePrefix(h); err == nil {
		return true
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if host, port, err := net.SplitHostPort(h); err == nil {
		n, err := strconv.Atoi(port)
		return host != "" && err == nil && n > 0 && n <= 65535
	}
	return h != "" && !strings.ContainsAny(h, " /:@?#")
}

// applyEnv applies ATHENA_<SECTION>_<KEY> overrides (e.g. ATHENA_API_PORT,
// ATHENA_POSTGRES_MAX_CONNS) to the scalar fields of each section, and
// ATHENA_CLIENT_<NAME>=<uri> to add or replace a client.
func applyEnv(cfg *Config, getenv func(string) string, environ []string) error {
	root := reflect.ValueOf(cfg).Elem()
	rt := root.Type()
	for i := 0; i < rt.NumField(); i++ {
		sf := rt.Field(i)
		section := yamlName(sf)
		if section == "" || section == "-" || sf.Type.Kind() != reflect.Struct {
			continue
		}
		sv := root.Field(i)
		for j := 0; j < sf.Type.NumField(); j++ {
			key := yamlName(sf.Type.Field(j))
			env := "ATHENA_" + strings.ToUpper(section+"_"+key)
			raw := getenv(env)
			if raw == "" {
				continue
			}
			if err := setScalar(sv.Field(j), raw); err != nil {
				return fmt.Errorf("%s=%q: %w", env, raw, err)
			}
		}
	}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "ATHENA_CLIENT_") || v == "" {
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(k, "ATHENA_CLIENT_"))
		cfg.Clients[name] = Client{URI: getenv(k)}
	}
	return nil
}

func yamlName(f reflect.StructField) string {
	tag := f.Tag.Get("yaml")
	name, _, _ := strings.Cut(tag, ",")
	return name
}

var durationType = reflect.TypeOf(time.Duration(0))

func setScalar(v reflect.Value, raw string) error {
	if v.Type() == durationType {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return err
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Int, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, v.Type().Bits())
		if err != nil {
			return err
		}
		v.SetInt(n)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		if err := setScalar(p.Elem(), raw); err != nil {
			return err
		}
		v.Set(p)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("unsupported type %s", v.Type())
		}
		var items []string // comma-separated; empty clears the list
		for _, it := range strings.Split(raw, ",") {
			if it = strings.TrimSpace(it); it != "" {
				items = append(items, it)
			}
		}
		v.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

func (a Admission) check() []string {
	errs := a.Global.check("admission.global")
	errs = append(errs, a.ClientDefault.check("admission.client_default")...)
	names := make([]string, 0, len(a.Clients))
	for n := range a.Clients {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		errs = append(errs, a.Clients[n].check("admission.clients."+n)...)
	}
	if a.RedisChunk <= 0 || a.RedisTimeout <= 0 || a.RedisRetry <= 0 || a.ReloadInterval <= 0 {
		errs = append(errs, "admission.redis_chunk, redis_timeout, redis_retry and reload_interval must be positive")
	}
	if a.RedisPrefix == "" {
		errs = append(errs, "admission.redis_prefix must not be empty")
	}
	return errs
}
