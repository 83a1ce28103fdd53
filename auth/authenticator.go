package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/internal/lograte"
)

// ErrKeyNotFound is what a Store returns for an unknown public id. Any other
// Store error means the store is unreachable or broken, and the fail mode
// decides.
var ErrKeyNotFound = errors.New("api key not found")

// Store is where keys and the enforcement configuration live (the logging
// database; postgres.KeyStore).
type Store interface {
	// KeyByPublicID returns the key with its rights, or ErrKeyNotFound.
	KeyByPublicID(ctx context.Context, publicID string) (Key, error)
	// Enforcement returns the global switch and every per-client override.
	Enforcement(ctx context.Context) (EnforcementConfig, error)
	// TouchKey records that the key was just used (last_used_at).
	TouchKey(ctx context.Context, publicID string) error
}

// FailMode says what happens when enforcement is on and the store cannot be
// reached.
type FailMode string

// Fail modes (api_key_config.fail_mode).
const (
	// FailClosed refuses the request with 503 backend_unavailable.
	FailClosed FailMode = "fail_closed"
	// FailOpen lets the request through as anonymous and logs a warning.
	FailOpen FailMode = "fail_open"
)

// Valid reports whether m is a known fail mode.
func (m FailMode) Valid() bool { return m == FailClosed || m == FailOpen }

// EnforcementConfig is api_key_config plus api_key_client_config.
type EnforcementConfig struct {
	// Enforce is the global switch; nil when no operator set it, which
	// requires keys unless Options.KeysOptional says otherwise (secure by
	// default, spec §1.2).
	Enforce  *bool                        `json:"enforce_api_keys"`
	FailMode FailMode                     `json:"fail_mode"`
	Clients  map[string]ClientEnforcement `json:"-"`
}

// ClientEnforcement overrides the global switch for one client; nil fields
// inherit the global value.
type ClientEnforcement struct {
	Client    string    `json:"client_name"`
	Enforce   *bool     `json:"enforce_api_keys"`
	FailMode  *FailMode `json:"fail_mode"`
	UpdatedAt time.Time `json:"updated_at"`
}

// For resolves the effective switch and fail mode for client. A global
// switch that is not set counts as on.
func (c EnforcementConfig) For(client string) (enforce bool, mode FailMode) {
	enforce, mode = c.Enforce == nil || *c.Enforce, c.FailMode
	if o, ok := c.Clients[client]; ok {
		if o.Enforce != nil {
			enforce = *o.Enforce
		}
		if o.FailMode != nil {
			mode = *o.FailMode
		}
	}
	if !mode.Valid() {
		mode = FailClosed
	}
	return enforce, mode
}

// AdminKeyID is the Principal.KeyID of the admin key (and the
// RequestInfo.KeyID logged for it).
const AdminKeyID = "admin"

// Principal is who a request runs as.
type Principal struct {
	KeyID      string   // public id of the key; AdminKeyID for the admin key; "" when anonymous
	ClientName string   // the key's client binding; "" when bound to none
	Rights     []string // granted rights
	Admin      bool     // the admin key: every right
	Anonymous  bool     // no key checked (enforcement off, or fail_open with the store down)
	// Enforced is whether rights are checked for this request. A valid key
	// used where enforcement is off is not held to its rights: presenting a
	// key never gives less access than presenting none.
	Enforced bool
}

// Options tune an Authenticator. Zero values take the defaults.
type Options struct {
	// AdminKey is the operator key (ATHENA_ADMIN_KEY, alias ATHENA_KEY_12).
	// Empty disables the admin API: no presented value is ever the admin key.
	AdminKey string
	// CacheTTL is how long a key record (found or not) and the enforcement
	// configuration are trusted before the store is asked again; it is the
	// bound on how late a revocation takes effect. Default 5s.
	CacheTTL time.Duration
	// MaxCachedKeys bounds the key cache (positive and negative entries).
	// Default 10000.
	MaxCachedKeys int
	// LookupTimeout bounds one store call. It runs detached from the
	// request's context so that one impatient caller does not fail the other
	// callers sharing the lookup. Default 2s.
	LookupTimeout time.Duration
	// TouchInterval is the minimum time between last_used_at updates of one
	// key. Default 1 minute.
	TouchInterval time.Duration
	// MaxTouches bounds concurrent background last_used_at updates; when all
	// are busy an update is skipped (it is retried at the key's next use
	// after TouchInterval). Default 4.
	MaxTouches int
	// KeysOptional lets requests without a key through where the stored
	// global switch is not set and no client override says otherwise
	// (config api_keys.required: false; athena dev's demo). The zero value
	// requires keys.
	KeysOptional bool
	// FailMode applies while the enforcement configuration has never been
	// read (store down since start). Default FailClosed.
	FailMode FailMode
	// RetryAfter is the Retry-After (seconds) of the 503 answered in
	// fail_closed mode. Default: the real wait before the store is asked
	// again, which is none (failures are not cached), so 1.
	RetryAfter int
	// Now is the clock; tests inject one. Default time.Now.
	Now func() time.Time
	// Logger receives fail_open warnings and failed touches. Default: discard.
	Logger *slog.Logger
}

// Defaults applied by New.
const (
	DefaultCacheTTL      = 5 * time.Second
	DefaultMaxCachedKeys = 10000
	DefaultLookupTimeout = 2 * time.Second
	DefaultTouchInterval = time.Minute
	DefaultMaxTouches    = 4
	// DefaultRetryAfter: store failures are not cached, so the next
	// request asks again at once (gateway.RetryAfterSeconds(0)).
	DefaultRetryAfter = 1
)

// AdminKeyFromEnv reads the admin key: ATHENA_ADMIN_KEY, else the original
// server's name ATHENA_KEY_12.
func AdminKeyFromEnv(getenv func(string) string) string {
	if v := getenv("ATHENA_ADMIN_KEY"); v != "" {
		return v
	}
	return getenv("ATHENA_KEY_12")
}

// Authenticator checks presented keys against the Store through a short
// cache. It is safe for concurrent use. Close waits for background
// last_used_at updates.
type Authenticator struct {
	store Store
	opts  Options
	// equal compares secrets; subtle.ConstantTimeCompare outside tests.
	equal compareFunc
	// adminHash is SHA-256 of the admin key, nil when none is configured.
	// Comparing fixed-size digests keeps the comparison constant-time even
	// for presented values of a different length.
	adminHash []byte

	keys    *keyCache
	lookups singleflight.Group

	cfgMu      sync.Mutex
	cfg        EnforcementConfig
	cfgLoaded  bool      // cfg was read at least once
	cfgExpires time.Time // when cfg must be re-read
	// cfgBackoff grows while reads of the configuration fail, so an outage
	// costs one read per backoff instead of one per request; cfgRetryAt is
	// when the next read may be tried.
	cfgBackoff time.Duration
	cfgRetryAt time.Time

	// Warnings that an outage would repeat per request: the first is
	// logged, then one per lograte.DefaultInterval with a suppressed count.
	warnStoreDown, warnConfig, warnTouch lograte.Warner

	touchMu   sync.Mutex
	lastTouch map[string]time.Time
	touchSem  chan struct{}
	touchWG   sync.WaitGroup
	closed    bool
}

// New builds an Authenticator over store. It does no I/O. A nil store
// means there is no logging database: no tenant key exists and only the
// admin key (if configured) is recognised, so tenant requests need the
// admin key unless opts.KeysOptional.
func New(store Store, opts Options) *Authenticator {
	if store == nil {
		store = noStore{}
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.MaxCachedKeys <= 0 {
		opts.MaxCachedKeys = DefaultMaxCachedKeys
	}
	if opts.LookupTimeout <= 0 {
		opts.LookupTimeout = DefaultLookupTimeout
	}
	if opts.TouchInterval <= 0 {
		opts.TouchInterval = DefaultTouchInterval
	}
	if opts.MaxTouches <= 0 {
		opts.MaxTouches = DefaultMaxTouches
	}
	if !opts.FailMode.Valid() {
		opts.FailMode = FailClosed
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = DefaultRetryAfter
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &Authenticator{
		store:     store,
		opts:      opts,
		equal:     subtle.ConstantTimeCompare,
		keys:      newKeyCache(opts.MaxCachedKeys, opts.CacheTTL),
		lastTouch: map[string]time.Time{},
		touchSem:  make(chan struct{}, opts.MaxTouches),
	}
	for _, w := range []*lograte.Warner{&a.warnStoreDown, &a.warnConfig, &a.warnTouch} {
		w.Now = opts.Now
	}
	if opts.AdminKey != "" {
		h := sha256.Sum256([]byte(opts.AdminKey))
		a.adminHash = h[:]
	}
	return a
}

// AdminConfigured reports whether an admin key is set.
func (a *Authenticator) AdminConfigured() bool { return a.adminHash != nil }

// IsAdmin reports whether presented is the admin key, in constant time.
// Without a configured admin key it is always false.
func (a *Authenticator) IsAdmin(presented string) bool {
	if a.adminHash == nil || presented == "" {
		return false
	}
	h := sha256.Sum256([]byte(presented))
	return a.equal(h[:], a.adminHash) == 1
}

// Errors answered by Authenticate and Authorize. Messages are fixed strings:
// nothing the caller sent is echoed back except a key's public id.
func errUnauthorized(msg string) *gateway.Error {
	return &gateway.Error{Code: gateway.CodeUnauthorized, Message: msg, Detail: msg}
}

// ClientMismatchMessage is the message of the 403 for a key bound to another
// client (spec §1.2).
const ClientMismatchMessage = "API key client mismatch"

// Authenticate decides whether a request for client may proceed with the
// presented key ("" when none was sent). It answers before any body is
// parsed:
//
//   - the admin key → admin principal (every right, every client);
//   - no key: enforcement off → anonymous; on → 401 unauthorized;
//   - a malformed, unknown, wrong-secret, inactive, revoked or expired key →
//     401 unauthorized, whether or not enforcement is on (a client that sends
//     a key expects it to be checked, and a typo should surface at once);
//   - a key bound to another client (or used without a client) → 403
//     forbidden "API key client mismatch";
//   - store unreachable: enforcement off → anonymous (nothing to protect);
//     on → fail_closed 503 backend_unavailable with Retry-After, fail_open
//     anonymous with a logged warning.
//
// Errors are *gateway.Error.
func (a *Authenticator) Authenticate(ctx context.Context, presented, client string) (Principal, error) {
	if a.IsAdmin(presented) {
		return Principal{KeyID: AdminKeyID, Admin: true, Enforced: true}, nil
	}
	cfg, known := a.enforcement(ctx)
	enforce, mode := cfg.For(client)
	if !known {
		// Never read the configuration: we cannot know enforcement is off.
		enforce, mode = true, a.opts.FailMode
	}
	if presented == "" {
		if !known {
			return a.storeDown(ctx, mode, client, "", errors.New("enforcement configuration unavailable"))
		}
		if enforce {
			return Principal{}, errUnauthorized("missing API key")
		}
		return Principal{Anonymous: true}, nil
	}
	pk, err := ParseKey(presented)
	if err != nil {
		return Principal{}, errUnauthorized("invalid API key")
	}
	key, err := a.lookup(ctx, pk.PublicID)
	switch {
	case errors.Is(err, ErrKeyNotFound):
		return Principal{}, errUnauthorized("invalid API key")
	case err != nil:
		if known && !enforce {
			return Principal{Anonymous: true}, nil
		}
		return a.storeDown(ctx, mode, client, pk.PublicID, err)
	}
	if !verifySecret(a.equal, key, pk.Secret) {
		return Principal{}, errUnauthorized("invalid API key")
	}
	now := a.opts.Now()
	switch {
	case key.RevokedAt != nil:
		return Principal{}, errUnauthorized("API key revoked")
	case !key.Active:
		return Principal{}, errUnauthorized("API key inactive")
	case key.ExpiresAt != nil && !now.Before(*key.ExpiresAt):
		return Principal{}, errUnauthorized("API key expired")
	}
	if key.ClientName != "" && key.ClientName != client {
		e := &gateway.Error{Code: gateway.CodeForbidden, Message: ClientMismatchMessage,
			Detail: "API key " + key.PublicID + " is not valid for this client"}
		return Principal{}, e.WithDetail("api_key_id", key.PublicID)
	}
	a.touch(key.PublicID, now)
	return Principal{KeyID: key.PublicID, ClientName: key.ClientName, Rights: key.Rights, Enforced: enforce}, nil
}

// Verify checks only that presented is a valid, live key (or the admin key),
// ignoring clients and enforcement. The admin API uses it to tell a tenant
// key (403) from garbage (401).
func (a *Authenticator) Verify(ctx context.Context, presented string) (Principal, error) {
	if a.IsAdmin(presented) {
		return Principal{KeyID: AdminKeyID, Admin: true, Enforced: true}, nil
	}
	pk, err := ParseKey(presented)
	if err != nil {
		return Principal{}, errUnauthorized("invalid API key")
	}
	key, err := a.lookup(ctx, pk.PublicID)
	if err != nil {
		if errors.Is(err, ErrKeyNotFound) {
			return Principal{}, errUnauthorized("invalid API key")
		}
		return Principal{}, a.unavailable()
	}
	now := a.opts.Now()
	if !verifySecret(a.equal, key, pk.Secret) || key.RevokedAt != nil || !key.Active ||
		(key.ExpiresAt != nil && !now.Before(*key.ExpiresAt)) {
		return Principal{}, errUnauthorized("invalid API key")
	}
	return Principal{KeyID: key.PublicID, ClientName: key.ClientName, Rights: key.Rights, Enforced: true}, nil
}

func (a *Authenticator) unavailable() *gateway.Error {
	return &gateway.Error{Code: gateway.CodeBackendUnavailable, Message: "API key store unavailable",
		Detail: "API keys cannot be verified right now; retry shortly", RetryAfter: a.opts.RetryAfter}
}

// storeDown applies the fail mode. The store error is logged, never shown:
// it names hosts and users.
func (a *Authenticator) storeDown(ctx context.Context, mode FailMode, client, keyID string, err error) (Principal, error) {
	if mode == FailOpen {
		a.warnStoreDown.Warn(ctx, a.opts.Logger, "API key store unavailable; fail_open lets the request through unauthenticated",
			"client", client, "api_key_id", keyID, "err", err)
		return Principal{Anonymous: true}, nil
	}
	a.warnStoreDown.Warn(ctx, a.opts.Logger, "API key store unavailable; fail_closed refuses the request",
		"client", client, "api_key_id", keyID, "err", err)
	return Principal{}, a.unavailable()
}

// Authorize checks that p holds right. The admin key and principals whose
// rights are not enforced (anonymous, enforcement off) pass. Otherwise the
// 403 names the missing right.
func (a *Authenticator) Authorize(p Principal, right string) error {
	if p.Admin || !p.Enforced || Allows(p.Rights, right) {
		return nil
	}
	return missingRight(right)
}

// AuthorizeTable checks that p may perform action on schema.table (see
// AllowsTable for the rule).
func (a *Authenticator) AuthorizeTable(p Principal, schema, table string, action Action) error {
	if p.Admin || !p.Enforced || AllowsTable(p.Rights, schema, table, action) {
		return nil
	}
	return missingRight(TableRight(schema, table, action))
}

func missingRight(right string) *gateway.Error {
	e := &gateway.Error{Code: gateway.CodeForbidden, Message: "missing right " + right,
		Detail: "the API key lacks the right " + right}
	return e.WithDetail("right", right)
}

// lookup returns the key record from the cache, or loads it once for all
// concurrent callers and caches the outcome (found or ErrKeyNotFound).
// Store failures are not cached: the next request tries again.
func (a *Authenticator) lookup(ctx context.Context, publicID string) (Key, error) {
	now := a.opts.Now()
	if k, found, ok := a.keys.get(publicID, now); ok {
		if !found {
			return Key{}, ErrKeyNotFound
		}
		return k, nil
	}
	v, err, _ := a.lookups.Do("k:"+publicID, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.LookupTimeout)
		defer cancel()
		k, err := a.store.KeyByPublicID(lctx, publicID)
		switch {
		case errors.Is(err, ErrKeyNotFound):
			a.keys.put(publicID, Key{}, false, a.opts.Now())
			return Key{}, ErrKeyNotFound
		case err != nil:
			return Key{}, fmt.Errorf("load api key: %w", err)
		}
		a.keys.put(publicID, k, true, a.opts.Now())
		return k, nil
	})
	if err != nil {
		return Key{}, err
	}
	return v.(Key), nil
}

// enforcement returns the configuration, refreshed at most once per
// CacheTTL. When a refresh fails the last configuration read stays in force
// (it changes rarely, and it carries the fail mode that decides what a store
// outage means); known is false only when it was never read.
func (a *Authenticator) enforcement(ctx context.Context) (cfg EnforcementConfig, known bool) {
	now := a.opts.Now()
	a.cfgMu.Lock()
	if a.cfgLoaded && now.Before(a.cfgExpires) {
		cfg = a.cfg
		a.cfgMu.Unlock()
		return cfg, true
	}
	if !a.cfgLoaded && now.Before(a.cfgRetryAt) {
		// Never read, and the last try failed moments ago: do not ask the
		// store again on every request.
		a.cfgMu.Unlock()
		return EnforcementConfig{}, false
	}
	a.cfgMu.Unlock()
	v, err, _ := a.lookups.Do("config", func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.LookupTimeout)
		defer cancel()
		c, err := a.store.Enforcement(lctx)
		a.cfgMu.Lock()
		defer a.cfgMu.Unlock()
		if err != nil {
			// Back off: the last configuration (if any) stays in force until
			// the next try, which comes later after each failure.
			a.cfgBackoff = min(max(2*a.cfgBackoff, minConfigBackoff), maxConfigBackoff)
			a.cfgRetryAt = a.opts.Now().Add(a.cfgBackoff)
			if a.cfgLoaded {
				a.cfgExpires = a.cfgRetryAt
			}
			return nil, fmt.Errorf("load enforcement config: %w", err)
		}
		if c.Enforce == nil {
			on := !a.opts.KeysOptional
			c.Enforce = &on
		}
		a.cfg, a.cfgLoaded, a.cfgExpires = c, true, a.opts.Now().Add(a.opts.CacheTTL)
		a.cfgBackoff, a.cfgRetryAt = 0, time.Time{}
		return c, nil
	})
	if err == nil {
		return v.(EnforcementConfig), true
	}
	a.cfgMu.Lock()
	defer a.cfgMu.Unlock()
	if a.cfgLoaded {
		a.warnConfig.Warn(ctx, a.opts.Logger, "API key enforcement config unavailable; using the last one read", "err", err)
		return a.cfg, true
	}
	return EnforcementConfig{}, false
}

// Backoff of enforcement-configuration reads while they fail: the first
// retry after minConfigBackoff, doubling up to maxConfigBackoff, which also
// bounds how long a recovered store waits to be read again.
const (
	minConfigBackoff = 500 * time.Millisecond
	maxConfigBackoff = 15 * time.Second
)

// RequiredByDefault reports what a global switch no operator has set
// means: keys required unless Options.KeysOptional.
func (a *Authenticator) RequiredByDefault() bool { return !a.opts.KeysOptional }

// Mode reads the enforcement configuration once and says whether a tenant
// request without a key is refused, and why, for the start-up log line
// (spec §1.2: start-up logs which mode the gateway runs in). Per-client
// overrides can still differ; they are counted in why.
func (a *Authenticator) Mode(ctx context.Context) (required bool, why string) {
	lctx, cancel := context.WithTimeout(ctx, a.opts.LookupTimeout)
	defer cancel()
	c, err := a.store.Enforcement(lctx)
	switch {
	case err != nil:
		return true, fmt.Sprintf("the logging database is unreachable, so the enforcement configuration is unknown: fail mode %s until it answers", a.opts.FailMode)
	case c.Enforce != nil:
		why = fmt.Sprintf("api_key_config.enforce_api_keys is %t in the logging database (PUT /admin/api-key-config)", *c.Enforce)
		required = *c.Enforce
	case a.opts.KeysOptional:
		why = "api_keys.required is false in the configuration and api_key_config.enforce_api_keys is not set"
	default:
		why = "api_keys.required is true (the default) and api_key_config.enforce_api_keys is not set"
		required = true
	}
	if _, ok := a.store.(noStore); ok {
		why += "; there is no logging database, so no API key exists"
		if required {
			why += " and only the admin key opens tenant routes"
		}
	}
	if n := len(c.Clients); n > 0 {
		why += fmt.Sprintf("; %d client override(s) in api_key_client_config", n)
	}
	return required, why
}

// Invalidate drops cached state for publicID (or everything when it is
// ""), so changes made through this process apply to it at once; other
// processes see them within CacheTTL.
func (a *Authenticator) Invalidate(publicID string) {
	if publicID == "" {
		a.keys.clear()
		a.cfgMu.Lock()
		a.cfgExpires, a.cfgRetryAt = time.Time{}, time.Time{}
		a.cfgMu.Unlock()
		return
	}
	a.keys.remove(publicID)
}

// touch records the key's use in the background, at most once per
// TouchInterval per key and with at most MaxTouches updates in flight; it
// never blocks the request.
func (a *Authenticator) touch(publicID string, now time.Time) {
	a.touchMu.Lock()
	if a.closed || now.Sub(a.lastTouch[publicID]) < a.opts.TouchInterval {
		a.touchMu.Unlock()
		return
	}
	select {
	case a.touchSem <- struct{}{}:
	default:
		a.touchMu.Unlock()
		return // busy: try again at a later use
	}
	if len(a.lastTouch) >= a.opts.MaxCachedKeys {
		// Forget keys not touched within the interval; they may touch again.
		for id, t := range a.lastTouch {
			if now.Sub(t) >= a.opts.TouchInterval {
				delete(a.lastTouch, id)
			}
		}
	}
	a.lastTouch[publicID] = now
	a.touchWG.Add(1)
	a.touchMu.Unlock()
	go func() {
		defer a.touchWG.Done()
		defer func() { <-a.touchSem }()
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.LookupTimeout)
		defer cancel()
		if err := a.store.TouchKey(ctx, publicID); err != nil {
			a.warnTouch.Warn(context.Background(), a.opts.Logger, "record API key use", "api_key_id", publicID, "err", err)
		}
	}()
}

// Close stops background updates and waits for those in flight.
func (a *Authenticator) Close() {
	a.touchMu.Lock()
	a.closed = true
	a.touchMu.Unlock()
	a.touchWG.Wait()
}

// noStore is the Store of a gateway without a logging database.
type noStore struct{}

func (noStore) KeyByPublicID(context.Context, string) (Key, error) { return Key{}, ErrKeyNotFound }

func (noStore) Enforcement(context.Context) (EnforcementConfig, error) {
	return EnforcementConfig{FailMode: FailClosed}, nil
}

func (noStore) TouchKey(context.Context, string) error { return nil }
