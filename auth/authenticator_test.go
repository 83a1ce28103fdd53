package auth

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/athena-gateway/athena/gateway"
)

// fakeStore is an in-memory Store that counts calls and can be made
// unreachable.
type fakeStore struct {
	mu        sync.Mutex
	keys      map[string]Key
	cfg       EnforcementConfig
	down      error // returned by every call when set
	keyCalls  map[string]int
	cfgCalls  int
	touches   []string
	gate      chan struct{} // when set, KeyByPublicID waits for it to close
	touchDone chan string
}

func newFakeStore() *fakeStore {
	return &fakeStore{keys: map[string]Key{}, keyCalls: map[string]int{}, cfg: EnforcementConfig{Enforce: boolp(true), FailMode: FailClosed}}
}

func (f *fakeStore) KeyByPublicID(ctx context.Context, id string) (Key, error) {
	f.mu.Lock()
	f.keyCalls[id]++
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down != nil {
		return Key{}, f.down
	}
	k, ok := f.keys[id]
	if !ok {
		return Key{}, ErrKeyNotFound
	}
	return k, nil
}

func (f *fakeStore) Enforcement(ctx context.Context) (EnforcementConfig, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cfgCalls++
	if f.down != nil {
		return EnforcementConfig{}, f.down
	}
	return f.cfg, nil
}

func (f *fakeStore) TouchKey(ctx context.Context, id string) error {
	f.mu.Lock()
	f.touches = append(f.touches, id)
	f.mu.Unlock()
	return nil
}

func (f *fakeStore) setDown(err error) {
	f.mu.Lock()
	f.down = err
	f.mu.Unlock()
}

func (f *fakeStore) update(id string, fn func(*Key)) {
	f.mu.Lock()
	k := f.keys[id]
	fn(&k)
	f.keys[id] = k
	f.mu.Unlock()
}

func (f *fakeStore) calls(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keyCalls[id]
}

// addKey stores a fresh key and returns its plaintext.
func (f *fakeStore) addKey(t testing.TB, client string, rights ...string) (string, string) {
	t.Helper()
	g, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.keys[g.PublicID] = Key{PublicID: g.PublicID, ClientName: client, Salt: g.Salt, Hash: g.Hash, Active: true, Rights: rights}
	f.mu.Unlock()
	return g.Plaintext, g.PublicID
}

// clock is a settable time source.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestAuth(t testing.TB, store Store, clk *clock, opts Options) *Authenticator {
	t.Helper()
	opts.Now = clk.Now
	a := New(store, opts)
	t.Cleanup(a.Close)
	return a
}

func codeOf(err error) gateway.Code {
	if err == nil {
		return ""
	}
	var ge *gateway.Error
	if !errors.As(err, &ge) {
		return "not a gateway.Error"
	}
	return ge.Code
}

func TestAuthenticate(t *testing.T) {
	store := newFakeStore()
	clk := newClock()
	good, goodID := store.addKey(t, "", "users.read")
	bound, _ := store.addKey(t, "shop", "orders.*")
	expired, expiredID := store.addKey(t, "")
	store.update(expiredID, func(k *Key) { past := clk.Now().Add(-time.Second); k.ExpiresAt = &past })
	future, futureID := store.addKey(t, "")
	store.update(futureID, func(k *Key) { f := clk.Now().Add(time.Hour); k.ExpiresAt = &f })
	revoked, revokedID := store.addKey(t, "")
	store.update(revokedID, func(k *Key) { r := clk.Now(); k.RevokedAt = &r; k.Active = false })
	inactive, inactiveID := store.addKey(t, "")
	store.update(inactiveID, func(k *Key) { k.Active = false })
	unknown, _ := GenerateKey()
	wrongSecret := good[:len(good)-4] + "AAAA"
	if wrongSecret == good {
		wrongSecret = good[:len(good)-4] + "BBBB"
	}
	store.cfg.Clients = map[string]ClientEnforcement{
		"open":   {Client: "open", Enforce: boolp(false)},
		"closed": {Client: "closed", Enforce: boolp(true)},
	}
	a := newTestAuth(t, store, clk, Options{AdminKey: "the-admin-key"})

	tests := []struct {
		name      string
		key       string
		client    string
		global    bool // api_key_config.enforce
		wantCode  gateway.Code
		wantKeyID string
		anonymous bool
	}{
		{"missing key, enforced", "", "app", true, gateway.CodeUnauthorized, "", false},
		{"missing key, not enforced", "", "app", false, "", "", true},
		{"missing key, client override on", "", "closed", false, gateway.CodeUnauthorized, "", false},
		{"missing key, client override off", "", "open", true, "", "", true},
		{"garbled key", "ath_nope", "app", true, gateway.CodeUnauthorized, "", false},
		{"garbled key, not enforced", "garbage", "app", false, gateway.CodeUnauthorized, "", false},
		{"unknown key", unknown.Plaintext, "app", true, gateway.CodeUnauthorized, "", false},
		{"wrong secret", wrongSecret, "app", true, gateway.CodeUnauthorized, "", false},
		{"expired", expired, "app", true, gateway.CodeUnauthorized, "", false},
		{"not yet expired", future, "app", true, "", futureID, false},
		{"revoked", revoked, "app", true, gateway.CodeUnauthorized, "", false},
		{"inactive", inactive, "app", true, gateway.CodeUnauthorized, "", false},
		{"inactive, not enforced", inactive, "app", false, gateway.CodeUnauthorized, "", false},
		{"valid unbound key", good, "app", true, "", goodID, false},
		{"valid key, not enforced", good, "app", false, "", goodID, false},
		{"bound key, its client", bound, "shop", true, "", "", false},
		{"bound key, other client", bound, "app", true, gateway.CodeForbidden, "", false},
		{"bound key, other client, not enforced", bound, "app", false, gateway.CodeForbidden, "", false},
		{"bound key, no client", bound, "", true, gateway.CodeForbidden, "", false},
		{"bound key, client differing in case", bound, "Shop", true, gateway.CodeForbidden, "", false},
		{"admin key", "the-admin-key", "anything", true, "", AdminKeyID, false},
		{"admin key prefix", "the-admin-ke", "app", true, gateway.CodeUnauthorized, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store.mu.Lock()
			store.cfg.Enforce = boolp(tt.global)
			store.mu.Unlock()
			a.Invalidate("")
			p, err := a.Authenticate(context.Background(), tt.key, tt.client)
			if got := codeOf(err); got != tt.wantCode {
				t.Fatalf("code: got %q (%v), want %q", got, err, tt.wantCode)
			}
			if err != nil {
				return
			}
			if tt.wantKeyID != "" && p.KeyID != tt.wantKeyID {
				t.Errorf("key id: got %q, want %q", p.KeyID, tt.wantKeyID)
			}
			if p.Anonymous != tt.anonymous {
				t.Errorf("anonymous: got %v, want %v", p.Anonymous, tt.anonymous)
			}
		})
	}
}

func TestClientMismatchMessage(t *testing.T) {
	store := newFakeStore()
	key, id := store.addKey(t, "shop")
	a := newTestAuth(t, store, newClock(), Options{})
	_, err := a.Authenticate(context.Background(), key, "other")
	var ge *gateway.Error
	if !errors.As(err, &ge) || ge.Message != "API key client mismatch" || ge.Code.Status() != 403 {
		t.Fatalf("got %v, want 403 API key client mismatch", err)
	}
	if ge.Details["api_key_id"] != id {
		t.Errorf("details: got %v, want api_key_id %s", ge.Details, id)
	}
}

func TestAuthorize(t *testing.T) {
	a := New(newFakeStore(), Options{})
	keyed := Principal{KeyID: "k", Rights: []string{"users.*", "gateway.query"}, Enforced: true}
	tests := []struct {
		name  string
		p     Principal
		right string
		ok    bool
	}{
		{"granted by wildcard", keyed, "users.read", true},
		{"granted exact", keyed, RightQuery, true},
		{"missing", keyed, RightRPC, false},
		{"missing management", keyed, RightManagementRead, false},
		{"admin has all", Principal{Admin: true, Enforced: true}, RightPipelinesRun, true},
		{"anonymous passes", Principal{Anonymous: true}, RightRPC, true},
		{"not enforced passes", Principal{KeyID: "k", Rights: nil}, RightQuery, true},
		{"enforced, no rights", Principal{KeyID: "k", Enforced: true}, "users.read", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := a.Authorize(tt.p, tt.right)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				var ge *gateway.Error
				if !errors.As(err, &ge) || ge.Code != gateway.CodeForbidden || ge.Details["right"] != tt.right {
					t.Fatalf("got %#v, want 403 naming %s", err, tt.right)
				}
			}
		})
	}
	err := a.AuthorizeTable(keyed, "sales", "orders", ActionWrite)
	var ge *gateway.Error
	if !errors.As(err, &ge) || ge.Details["right"] != "sales.orders.write" {
		t.Fatalf("AuthorizeTable: got %v, want 403 naming sales.orders.write", err)
	}
	if err := a.AuthorizeTable(keyed, "", "users", ActionDelete); err != nil {
		t.Fatalf("AuthorizeTable users.delete with users.*: got %v", err)
	}
}

// TestSecretsComparedInConstantTime proves every secret comparison (tenant
// key hash and admin key) goes through the injected compare function, and
// that the default is subtle.ConstantTimeCompare.
func TestSecretsComparedInConstantTime(t *testing.T) {
	store := newFakeStore()
	key, _ := store.addKey(t, "")
	a := newTestAuth(t, store, newClock(), Options{AdminKey: "admin-secret"})
	if reflect.ValueOf(a.equal).Pointer() != reflect.ValueOf(subtle.ConstantTimeCompare).Pointer() {
		t.Fatal("default compare is not subtle.ConstantTimeCompare")
	}
	var calls int
	a.equal = func(x, y []byte) int { calls++; return subtle.ConstantTimeCompare(x, y) }

	if _, err := a.Authenticate(context.Background(), key, "app"); err != nil {
		t.Fatal(err)
	}
	// One admin check (the presented key is not the admin key) + one hash check.
	if calls != 2 {
		t.Fatalf("compare calls for a tenant key: got %d, want 2", calls)
	}
	calls = 0
	if !a.IsAdmin("admin-secret") || a.IsAdmin("admin-secreT") || a.IsAdmin("admin") {
		t.Fatal("IsAdmin answers wrongly")
	}
	if calls != 3 {
		t.Fatalf("compare calls for admin checks: got %d, want 3", calls)
	}
	// Without an admin key nothing is admin, and nothing is compared.
	b := New(store, Options{})
	if b.IsAdmin("") || b.IsAdmin("x") || b.AdminConfigured() {
		t.Fatal("admin accepted with no admin key configured")
	}
}

func TestStoreDown(t *testing.T) {
	down := fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused")
	tests := []struct {
		name      string
		mode      FailMode
		enforce   bool
		loaded    bool // configuration read before the outage
		withKey   bool
		wantCode  gateway.Code
		anonymous bool
	}{
		{"fail_closed with key", FailClosed, true, true, true, gateway.CodeBackendUnavailable, false},
		{"fail_open with key", FailOpen, true, true, true, "", true},
		{"fail_closed, no key, enforced", FailClosed, true, true, false, gateway.CodeUnauthorized, false},
		{"not enforced, key, store down", FailClosed, false, true, true, "", true},
		{"never loaded, default fail_closed", "", true, false, false, gateway.CodeBackendUnavailable, false},
		{"never loaded, default fail_closed, with key", "", true, false, true, gateway.CodeBackendUnavailable, false},
		{"never loaded, option fail_open", FailOpen, true, false, true, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			key, _ := store.addKey(t, "")
			store.cfg = EnforcementConfig{Enforce: boolp(tt.enforce), FailMode: tt.mode}
			clk := newClock()
			opts := Options{}
			if !tt.loaded {
				opts.FailMode = tt.mode
			}
			a := newTestAuth(t, store, clk, opts)
			if tt.loaded {
				a.enforcement(context.Background())
			}
			store.setDown(down)
			clk.advance(time.Minute) // every cache entry is stale
			presented := ""
			if tt.withKey {
				presented = key
			}
			p, err := a.Authenticate(context.Background(), presented, "app")
			if got := codeOf(err); got != tt.wantCode {
				t.Fatalf("code: got %q (%v), want %q", got, err, tt.wantCode)
			}
			if err == nil && p.Anonymous != tt.anonymous {
				t.Fatalf("anonymous: got %v, want %v", p.Anonymous, tt.anonymous)
			}
			var ge *gateway.Error
			if errors.As(err, &ge) && ge.Code == gateway.CodeBackendUnavailable {
				if ge.RetryAfter <= 0 {
					t.Error("503 without Retry-After")
				}
				if ge.Detail == down.Error() || ge.Message == down.Error() {
					t.Error("store error text leaked to the caller")
				}
			}
		})
	}
}

// TestRevocationWithinCacheWindow: a revoked key keeps working only until
// its cache entry expires.
func TestRevocationWithinCacheWindow(t *testing.T) {
	store := newFakeStore()
	key, id := store.addKey(t, "")
	clk := newClock()
	a := newTestAuth(t, store, clk, Options{CacheTTL: 5 * time.Second})
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, key, "app"); err != nil {
		t.Fatal(err)
	}
	store.update(id, func(k *Key) { now := clk.Now(); k.RevokedAt = &now; k.Active = false })
	clk.advance(4 * time.Second)
	if _, err := a.Authenticate(ctx, key, "app"); err != nil {
		t.Fatalf("within the cache window: got %v, want the cached key accepted", err)
	}
	if got := store.calls(id); got != 1 {
		t.Fatalf("store lookups within the window: got %d, want 1", got)
	}
	clk.advance(time.Second)
	if _, err := a.Authenticate(ctx, key, "app"); codeOf(err) != gateway.CodeUnauthorized {
		t.Fatalf("after the cache window: got %v, want 401", err)
	}
	if got := store.calls(id); got != 2 {
		t.Fatalf("store lookups: got %d, want 2", got)
	}
}

// TestExpiryIsExact: expiry is checked against the clock on every request,
// not when the record was cached.
func TestExpiryIsExact(t *testing.T) {
	store := newFakeStore()
	key, id := store.addKey(t, "")
	clk := newClock()
	exp := clk.Now().Add(2 * time.Second)
	store.update(id, func(k *Key) { k.ExpiresAt = &exp })
	a := newTestAuth(t, store, clk, Options{CacheTTL: time.Minute})
	if _, err := a.Authenticate(context.Background(), key, "app"); err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * time.Second)
	if _, err := a.Authenticate(context.Background(), key, "app"); codeOf(err) != gateway.CodeUnauthorized {
		t.Fatalf("at expiry: got %v, want 401", err)
	}
}

func TestNegativeCache(t *testing.T) {
	store := newFakeStore()
	clk := newClock()
	a := newTestAuth(t, store, clk, Options{CacheTTL: 5 * time.Second})
	g, _ := GenerateKey()
	for range 10 {
		if _, err := a.Authenticate(context.Background(), g.Plaintext, "app"); codeOf(err) != gateway.CodeUnauthorized {
			t.Fatalf("unknown key: got %v, want 401", err)
		}
	}
	if got := store.calls(g.PublicID); got != 1 {
		t.Fatalf("lookups of an unknown key within the window: got %d, want 1", got)
	}
	// A key created meanwhile is seen once the negative entry expires.
	store.mu.Lock()
	store.keys[g.PublicID] = Key{PublicID: g.PublicID, Salt: g.Salt, Hash: g.Hash, Active: true}
	store.mu.Unlock()
	clk.advance(5 * time.Second)
	if _, err := a.Authenticate(context.Background(), g.Plaintext, "app"); err != nil {
		t.Fatalf("after the window: got %v, want the new key accepted", err)
	}
}

func TestStoreErrorsAreNotCached(t *testing.T) {
	store := newFakeStore()
	key, id := store.addKey(t, "")
	a := newTestAuth(t, store, newClock(), Options{})
	a.enforcement(context.Background())
	store.setDown(errors.New("connection refused"))
	if _, err := a.Authenticate(context.Background(), key, "app"); codeOf(err) != gateway.CodeBackendUnavailable {
		t.Fatalf("store down: got %v, want 503", err)
	}
	store.setDown(nil)
	if _, err := a.Authenticate(context.Background(), key, "app"); err != nil {
		t.Fatalf("store back: got %v, want accepted", err)
	}
	if got := store.calls(id); got != 2 {
		t.Fatalf("lookups: got %d, want 2", got)
	}
}

func TestEnforcementConfigCached(t *testing.T) {
	store := newFakeStore()
	clk := newClock()
	a := newTestAuth(t, store, clk, Options{CacheTTL: 5 * time.Second})
	for range 5 {
		_, _ = a.Authenticate(context.Background(), "", "app")
	}
	if store.cfgCalls != 1 {
		t.Fatalf("config reads within the window: got %d, want 1", store.cfgCalls)
	}
	store.mu.Lock()
	store.cfg.Enforce = boolp(false)
	store.mu.Unlock()
	clk.advance(5 * time.Second)
	if p, err := a.Authenticate(context.Background(), "", "app"); err != nil || !p.Anonymous {
		t.Fatalf("after the window with enforcement off: got %+v %v, want anonymous", p, err)
	}
	// The last configuration read stays in force while the store is down.
	store.setDown(errors.New("connection refused"))
	clk.advance(5 * time.Second)
	if p, err := a.Authenticate(context.Background(), "", "app"); err != nil || !p.Anonymous {
		t.Fatalf("store down, last config off: got %+v %v, want anonymous", p, err)
	}
}

// TestConcurrentLookupsShareOneQuery: many requests for one uncached key
// cause one store query.
func TestConcurrentLookupsShareOneQuery(t *testing.T) {
	store := newFakeStore()
	key, id := store.addKey(t, "")
	gate := make(chan struct{})
	store.gate = gate
	a := newTestAuth(t, store, newClock(), Options{})
	a.enforcement(context.Background())
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Authenticate(context.Background(), key, "app")
			errs <- err
		}()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := store.calls(id); got != 1 {
		t.Fatalf("store lookups: got %d, want 1", got)
	}
}

func TestCacheIsBounded(t *testing.T) {
	store := newFakeStore()
	clk := newClock()
	a := newTestAuth(t, store, clk, Options{MaxCachedKeys: 8})
	for i := range 100 {
		g, _ := GenerateKey()
		_, _ = a.Authenticate(context.Background(), g.Plaintext, "app")
		if i%10 == 0 {
			clk.advance(time.Second)
		}
	}
	if n := a.keys.len(); n > 8 {
		t.Fatalf("cache size: got %d, want at most 8", n)
	}
}

func TestTouchAtMostOncePerInterval(t *testing.T) {
	store := newFakeStore()
	key, id := store.addKey(t, "")
	clk := newClock()
	a := newTestAuth(t, store, clk, Options{TouchInterval: time.Minute})
	ctx := context.Background()
	for range 20 {
		if _, err := a.Authenticate(ctx, key, "app"); err != nil {
			t.Fatal(err)
		}
	}
	a.touchWG.Wait()
	if len(store.touches) != 1 || store.touches[0] != id {
		t.Fatalf("touches: got %v, want one for %s", store.touches, id)
	}
	clk.advance(time.Minute)
	if _, err := a.Authenticate(ctx, key, "app"); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if len(store.touches) != 2 {
		t.Fatalf("touches after the interval: got %d, want 2", len(store.touches))
	}
	// After Close no goroutine starts.
	clk.advance(time.Minute)
	_, _ = a.Authenticate(ctx, key, "app")
	a.touchWG.Wait()
	if len(store.touches) != 2 {
		t.Fatalf("touches after Close: got %d, want 2", len(store.touches))
	}
}

func TestAdminKeyFromEnv(t *testing.T) {
	env := map[string]string{"ATHENA_KEY_12": "old"}
	if got := AdminKeyFromEnv(func(k string) string { return env[k] }); got != "old" {
		t.Fatalf("alias: got %q, want old", got)
	}
	env["ATHENA_ADMIN_KEY"] = "new"
	if got := AdminKeyFromEnv(func(k string) string { return env[k] }); got != "new" {
		t.Fatalf("primary: got %q, want new", got)
	}
}

func BenchmarkAuthenticateCached(b *testing.B) {
	store := newFakeStore()
	key, _ := store.addKey(b, "app", "users.read")
	a := New(store, Options{CacheTTL: time.Hour, AdminKey: "admin"})
	defer a.Close()
	ctx := context.Background()
	if _, err := a.Authenticate(ctx, key, "app"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := a.Authenticate(ctx, key, "app")
			if err != nil {
				b.Fatal(err)
			}
			if err := a.AuthorizeTable(p, "", "users", ActionRead); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestNilStore: without a key store, keys off explicitly (issue 12: the
// default now requires keys, TestSecureByDefault).
func TestNilStore(t *testing.T) {
	a := New(nil, Options{AdminKey: "adm", KeysOptional: true})
	defer a.Close()
	if p, err := a.Authenticate(context.Background(), "", "app"); err != nil || !p.Anonymous {
		t.Fatalf("no key: got %+v %v, want anonymous", p, err)
	}
	g, _ := GenerateKey()
	if _, err := a.Authenticate(context.Background(), g.Plaintext, "app"); codeOf(err) != gateway.CodeUnauthorized {
		t.Fatalf("tenant key: got %v, want 401", err)
	}
	if p, err := a.Authenticate(context.Background(), "adm", "app"); err != nil || !p.Admin {
		t.Fatalf("admin key: got %+v %v", p, err)
	}
}

// TestStoreOutageIsQuietAndBackedOff: during a logging-database outage,
// requests neither log one warning each nor re-read the enforcement
// configuration each: the first warning of a kind is logged, then at most
// one per interval with a suppressed count, and reads back off.
func TestStoreOutageIsQuietAndBackedOff(t *testing.T) {
	for _, loaded := range []bool{true, false} {
		t.Run(fmt.Sprintf("loaded=%v", loaded), func(t *testing.T) {
			store := newFakeStore()
			key, _ := store.addKey(t, "")
			var logs bytes.Buffer
			clk := newClock()
			a := newTestAuth(t, store, clk, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if loaded {
				a.enforcement(context.Background())
			}
			store.setDown(errors.New("connection refused"))
			store.mu.Lock()
			store.cfgCalls = 0
			store.mu.Unlock()
			const requests = 6000
			for i := range requests {
				clk.advance(10 * time.Millisecond) // 60 s of requests
				presented := ""
				if i%2 == 0 {
					presented = key
				}
				if _, err := a.Authenticate(context.Background(), presented, "app"); codeOf(err) != gateway.CodeBackendUnavailable && codeOf(err) != gateway.CodeUnauthorized {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			lines := strings.Count(logs.String(), "\n")
			// Two kinds of warning, each at most once per 10 s over 60 s.
			if lines > 2*7 {
				t.Errorf("%d requests logged %d lines, want at most %d:\n%s", requests, lines, 2*7, logs.String())
			}
			if !strings.Contains(logs.String(), "suppressed=") {
				t.Errorf("the repeated warnings do not say how many were suppressed:\n%s", logs.String())
			}
			store.mu.Lock()
			calls := store.cfgCalls
			store.mu.Unlock()
			// Backoff from 0.5 s doubling to 15 s: about 8 reads in 60 s.
			if calls > 10 {
				t.Errorf("%d requests re-read the enforcement configuration %d times, want at most 10", requests, calls)
			}
			t.Logf("%d requests: %d log lines, %d configuration reads", requests, lines, calls)
		})
	}
}

func boolp(b bool) *bool { return &b }

// TestSecureByDefault checks spec §1.2's decision: a global switch no
// operator has set (NULL in api_key_config), and a gateway without a key
// store, require keys unless KeysOptional (api_keys.required: false).
func TestSecureByDefault(t *testing.T) {
	unset := newFakeStore()
	unset.cfg = EnforcementConfig{FailMode: FailClosed}
	for _, tt := range []struct {
		name     string
		store    Store
		optional bool
		wantCode gateway.Code
	}{
		{"switch not set", unset, false, gateway.CodeUnauthorized},
		{"switch not set, keys optional", unset, true, ""},
		{"no key store", nil, false, gateway.CodeUnauthorized},
		{"no key store, keys optional", nil, true, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := New(tt.store, Options{AdminKey: "the-admin-key", KeysOptional: tt.optional})
			defer a.Close()
			p, err := a.Authenticate(context.Background(), "", "app")
			if got := codeOf(err); got != tt.wantCode {
				t.Fatalf("no key: got %q (%v), want %q", got, err, tt.wantCode)
			}
			if err == nil && !p.Anonymous {
				t.Errorf("no key, keys optional: got %+v, want anonymous", p)
			}
			if p, err := a.Authenticate(context.Background(), "the-admin-key", "app"); err != nil || !p.Admin {
				t.Errorf("admin key: got %+v %v, want the admin principal", p, err)
			}
			required, why := a.Mode(context.Background())
			if required == tt.optional || why == "" {
				t.Errorf("Mode: got required=%v %q, want required=%v with a reason", required, why, !tt.optional)
			}
		})
	}
	// An explicit stored switch still wins over the default.
	off := newFakeStore()
	off.cfg = EnforcementConfig{Enforce: boolp(false), FailMode: FailClosed}
	a := New(off, Options{})
	defer a.Close()
	if p, err := a.Authenticate(context.Background(), "", "app"); err != nil || !p.Anonymous {
		t.Errorf("stored enforce_api_keys=false: got %+v %v, want anonymous", p, err)
	}
	if required, why := a.Mode(context.Background()); required || !strings.Contains(why, "api_key_config") {
		t.Errorf("Mode with a stored false: got %v %q", required, why)
	}
}
