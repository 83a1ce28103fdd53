package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/internal/testenv"
	"github.com/athena-gateway/athena/postgres"
)

const testAdminKey = "test-admin-key-0123456789"

// testClock is a settable clock for the Authenticator.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// keyEnv is an engine with the admin key routes and a probe route over a
// migrated private logging schema.
type keyEnv struct {
	*harness
	store *postgres.KeyStore
	auth  *auth.Authenticator
	pool  *pgxpool.Pool
	clock *testClock
}

// logPool makes a private schema in the test database, migrates the
// control-plane tables into it and returns a pool whose search_path is it.
func logPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL (run `make test`, which starts it)", err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := fmt.Sprintf("api_test_%d_%s", time.Now().Unix(), hex.EncodeToString(b[:]))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		c, err := pgx.Connect(context.Background(), testDatabaseURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	if _, _, err := postgres.Migrate(ctx, pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return pool
}

// newKeyEnv builds the environment. opts.Now is replaced by the env's
// clock; AdminKey defaults to testAdminKey unless noAdmin.
func newKeyEnv(t testing.TB, pool *pgxpool.Pool, opts auth.Options) *keyEnv {
	t.Helper()
	gin.SetMode(gin.TestMode)
	if pool == nil {
		pool = logPool(t)
	}
	clk := &testClock{now: time.Now()}
	opts.Now = clk.Now
	store := postgres.NewKeyStore(pool)
	a := auth.New(store, opts)
	t.Cleanup(a.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := gin.New()
	e.ContextWithFallback = true
	s := newServer(Deps{Auth: a, APIKeys: store}, Options{BodyLimitBytes: 1 << 20}, log)
	e.Use(s.requestID, s.recoverPanic)
	registerKeyTestRoutes(e, s)
	return &keyEnv{harness: &harness{t: t, engine: e}, store: store, auth: a, pool: pool, clock: clk}
}

// registerKeyTestRoutes registers the admin key routes of routes.go and
// /clients behind the admin check, plus a probe route standing in for a
// gateway handler: authenticate for the client, then read and decode the
// body, then authorize.
func registerKeyTestRoutes(e *gin.Engine, s *Server) {
	routes := append(s.apiKeyRoutes(), route{[]string{get}, "/clients", "admin_clients", "", func(c *gin.Context) error {
		c.JSON(200, gin.H{"clients": []string{}})
		return nil
	}})
	for i := range routes {
		routes[i].handler = s.adminOnly(routes[i].handler)
	}
	routes = append(routes, route{[]string{post}, "/probe", "probe", "", func(c *gin.Context) error {
		client := strings.TrimSpace(c.GetHeader("X-Athena-Client"))
		p, err := s.authenticate(c, client)
		if err != nil {
			return err
		}
		body, err := s.readBody(c)
		if err != nil {
			return err
		}
		var req struct {
			Table  string `json:"table_name"`
			Schema string `json:"schema_name"`
			Action string `json:"action"`
			Right  string `json:"right"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return gateway.Errorf(gateway.CodeInvalidJSON, "invalid JSON")
		}
		if req.Right != "" {
			if err := s.authorize(p, req.Right); err != nil {
				return err
			}
		}
		if req.Table != "" {
			action, _ := auth.ActionFor(req.Action)
			if err := s.authorizeTable(p, gateway.TableRef{Schema: req.Schema, Name: req.Table}, action); err != nil {
				return err
			}
		}
		info := gateway.RequestInfoFrom(c.Request.Context())
		writeJSON(c, 200, gin.H{"key_id": p.KeyID, "info_key_id": info.KeyID, "anonymous": p.Anonymous, "admin": p.Admin})
		return nil
	}})
	s.register(e, routes)
}

// setEnforce sets the global switch and drops the cached configuration.
func (e *keyEnv) setEnforce(t *testing.T, on bool) {
	t.Helper()
	if _, err := e.store.SetConfig(context.Background(), &on, nil); err != nil {
		t.Fatal(err)
	}
	e.auth.Invalidate("")
}

func (e *keyEnv) newKey(t *testing.T, client string, rights ...string) (string, auth.Key) {
	t.Helper()
	k, plaintext, err := e.store.CreateKey(context.Background(), postgres.NewKey{Name: "t", ClientName: client, Rights: rights})
	if err != nil {
		t.Fatal(err)
	}
	return plaintext, k
}

func (e *keyEnv) sql(t *testing.T, q string, args ...any) {
	t.Helper()
	if _, err := e.pool.Exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func (r response) wantCode(t *testing.T, status int, code gateway.Code) response {
	t.Helper()
	r.want(t, status)
	if got := r.code(); got != string(code) {
		t.Fatalf("code: got %q, want %q; body %s", got, code, r.Body)
	}
	return r
}

func TestAuthenticateHTTP(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{AdminKey: testAdminKey})
	e.setEnforce(t, true)
	ctx := context.Background()
	good, goodKey := e.newKey(t, "", "users.read", "orders.*", "*.read", "gateway.query")
	bound, _ := e.newKey(t, "shop", "users.read")
	expired, expiredKey := e.newKey(t, "", "users.read")
	e.sql(t, "UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE public_id = $1", expiredKey.PublicID)
	inactive, inactiveKey := e.newKey(t, "", "users.read")
	e.sql(t, "UPDATE api_keys SET is_active = false WHERE public_id = $1", inactiveKey.PublicID)
	revoked, revokedKey := e.newKey(t, "", "users.read")
	if _, err := e.store.RevokeKey(ctx, revokedKey.PublicID); err != nil {
		t.Fatal(err)
	}
	g, _ := auth.GenerateKey()
	unknown := g.Plaintext
	wrongSecret := good[:strings.Index(good, ".")+1] + strings.Repeat("A", 43)

	tests := []struct {
		name    string
		client  string
		body    string
		headers []string
		status  int
		code    gateway.Code
	}{
		{"missing key", "app", `{}`, nil, 401, gateway.CodeUnauthorized},
		{"garbled key", "app", `{}`, []string{"X-Athena-Key", "ath_garbage"}, 401, gateway.CodeUnauthorized},
		{"not a key at all", "app", `{}`, []string{"apikey", "hello"}, 401, gateway.CodeUnauthorized},
		{"unknown key", "app", `{}`, []string{"X-Athena-Key", unknown}, 401, gateway.CodeUnauthorized},
		{"wrong secret", "app", `{}`, []string{"X-Athena-Key", wrongSecret}, 401, gateway.CodeUnauthorized},
		{"expired key", "app", `{}`, []string{"X-Athena-Key", expired}, 401, gateway.CodeUnauthorized},
		{"inactive key", "app", `{}`, []string{"X-Athena-Key", inactive}, 401, gateway.CodeUnauthorized},
		{"revoked key", "app", `{}`, []string{"X-Athena-Key", revoked}, 401, gateway.CodeUnauthorized},
		{"key for another client", "app", `{}`, []string{"X-Athena-Key", bound}, 403, gateway.CodeForbidden},
		{"key for its client", "shop", `{"table_name":"users","action":"fetch"}`, []string{"X-Athena-Key", bound}, 200, ""},
		{"X-Athena-Key", "app", `{}`, []string{"X-Athena-Key", good}, 200, ""},
		{"apikey", "app", `{}`, []string{"apikey", good}, 200, ""},
		{"x-api-key", "app", `{}`, []string{"x-api-key", good}, 200, ""},
		{"apikey and x-api-key (old SDKs)", "app", `{}`, []string{"apikey", good, "x-api-key", good}, 200, ""},
		{"Authorization Bearer", "app", `{}`, []string{"Authorization", "Bearer " + good}, 200, ""},
		{"authorization bearer lowercase", "app", `{}`, []string{"authorization", "bearer " + good}, 200, ""},
		{"Bearer JWT is not a key", "app", `{}`, []string{"Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"}, 401, gateway.CodeUnauthorized},
		{"apikey wins over a Bearer JWT", "app", `{}`, []string{"apikey", good, "Authorization", "Bearer eyJ.x.y"}, 200, ""},
		{"admin key in X-Athena-Admin-Key", "app", `{"right":"pipelines.run"}`, []string{"X-Athena-Admin-Key", testAdminKey}, 200, ""},
		{"admin key in apikey", "app", `{"right":"pipelines.run"}`, []string{"apikey", testAdminKey}, 200, ""},
		{"wrong admin header", "app", `{}`, []string{"X-Athena-Admin-Key", "nope", "X-Athena-Key", good}, 401, gateway.CodeUnauthorized},
		{"missing right", "app", `{"right":"gateway.rpc.execute"}`, []string{"X-Athena-Key", good}, 403, gateway.CodeForbidden},
		{"fixed right held", "app", `{"right":"gateway.query"}`, []string{"X-Athena-Key", good}, 200, ""},
		{"table right exact", "app", `{"table_name":"users","action":"fetch"}`, []string{"X-Athena-Key", good}, 200, ""},
		{"table right wildcard", "app", `{"table_name":"orders","action":"delete"}`, []string{"X-Athena-Key", good}, 200, ""},
		{"action wildcard", "app", `{"table_name":"posts","action":"fetch"}`, []string{"X-Athena-Key", good}, 200, ""},
		{"table write missing", "app", `{"table_name":"users","action":"insert"}`, []string{"X-Athena-Key", good}, 403, gateway.CodeForbidden},
		{"qualified table needs literal or gateway right", "app", `{"schema_name":"sales","table_name":"users","action":"update"}`, []string{"X-Athena-Key", good}, 403, gateway.CodeForbidden},
		{"bound key, injected client", "shop' OR '1'='1", `{}`, []string{"X-Athena-Key", bound}, 403, gateway.CodeForbidden},
		{"unbound key, injected client stays data", "x'; DROP TABLE api_keys; --", `{}`, []string{"X-Athena-Key", good}, 200, ""},
		{"injected key header", "app", `{}`, []string{"X-Athena-Key", "ath_x' OR '1'='1.--"}, 401, gateway.CodeUnauthorized},
		{"injected public id of valid shape", "app", `{}`, []string{"X-Athena-Key", "ath_or11." + strings.Repeat("A", 43)}, 401, gateway.CodeUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/probe", tt.client, tt.body, tt.headers...)
			if tt.code != "" {
				r.wantCode(t, tt.status, tt.code)
				if r.JSON["status"] != "error" || r.Header.Get("X-Request-Id") == "" {
					t.Fatalf("not an error envelope with a request id: %s", r.Body)
				}
				return
			}
			r.want(t, tt.status)
		})
	}
	// The principal reaches RequestInfo, and the missing right is named.
	r := e.do("POST", "/probe", "app", `{}`, "X-Athena-Key", good).want(t, 200)
	if r.JSON["key_id"] != goodKey.PublicID || r.JSON["info_key_id"] != goodKey.PublicID {
		t.Fatalf("key id: got %s, want %s", r.Body, goodKey.PublicID)
	}
	r = e.do("POST", "/probe", "app", `{"table_name":"users","action":"delete"}`, "X-Athena-Key", good).want(t, 403)
	if !strings.Contains(string(r.Body), "users.delete") {
		t.Fatalf("403 does not name the right: %s", r.Body)
	}
	var n int
	if err := e.pool.QueryRow(ctx, "SELECT count(*) FROM api_keys").Scan(&n); err != nil || n != 5 {
		t.Fatalf("api_keys after injection attempts: %d rows, %v; want 5", n, err)
	}
}

func TestEnforcementOffHTTP(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{})
	e.setEnforce(t, false)
	good, _ := e.newKey(t, "", "users.read")
	bound, _ := e.newKey(t, "shop")
	e.do("POST", "/probe", "app", `{"right":"gateway.query"}`).want(t, 200)
	e.do("POST", "/probe", "app", `{}`, "X-Athena-Key", "ath_garbage").wantCode(t, 401, gateway.CodeUnauthorized)
	// A valid key is not held to its rights while enforcement is off.
	e.do("POST", "/probe", "app", `{"right":"gateway.query"}`, "X-Athena-Key", good).want(t, 200)
	e.do("POST", "/probe", "app", `{}`, "X-Athena-Key", bound).wantCode(t, 403, gateway.CodeForbidden)

	// A per-client override turns it on for one client only.
	on := true
	if _, err := e.store.SetClientConfig(context.Background(), "locked", &on, nil); err != nil {
		t.Fatal(err)
	}
	e.auth.Invalidate("")
	e.do("POST", "/probe", "locked", `{}`).wantCode(t, 401, gateway.CodeUnauthorized)
	e.do("POST", "/probe", "locked", `{"right":"gateway.query"}`, "X-Athena-Key", good).wantCode(t, 403, gateway.CodeForbidden)
	e.do("POST", "/probe", "app", `{}`).want(t, 200)
}

// TestAuthBeforeBody: an unauthenticated caller gets 401 even when the body
// is bad JSON; an authenticated one gets the 400.
func TestAuthBeforeBody(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{})
	e.setEnforce(t, true)
	good, _ := e.newKey(t, "")
	e.do("POST", "/probe", "app", `{not json`).wantCode(t, 401, gateway.CodeUnauthorized)
	e.do("POST", "/probe", "app", `{not json`, "X-Athena-Key", "ath_bad").wantCode(t, 401, gateway.CodeUnauthorized)
	e.do("POST", "/probe", "app", `{not json`, "X-Athena-Key", good).wantCode(t, 400, gateway.CodeInvalidJSON)
}

// TestRevocationAfterCacheWindowHTTP: a key revoked by another process
// (straight in the database) keeps working until the cache window ends.
func TestRevocationAfterCacheWindowHTTP(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{CacheTTL: 5 * time.Second})
	e.setEnforce(t, true)
	good, k := e.newKey(t, "")
	e.do("POST", "/probe", "app", `{}`, "X-Athena-Key", good).want(t, 200)
	e.sql(t, "UPDATE api_keys SET is_active = false, revoked_at = now() WHERE public_id = $1", k.PublicID)
	e.clock.advance(4 * time.Second)
	e.do("POST", "/probe", "app", `{}`, "X-Athena-Key", good).want(t, 200)
	e.clock.advance(time.Second)
	e.do("POST", "/probe", "app", `{}`, "X-Athena-Key", good).wantCode(t, 401, gateway.CodeUnauthorized)
}

// TestKeyStoreDownHTTP: with the logging database unreachable, fail_closed
// answers 503 with Retry-After and fail_open lets the request through.
func TestKeyStoreDownHTTP(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	dead, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dead.Close)
	g, _ := auth.GenerateKey()

	closed := newKeyEnv(t, dead, auth.Options{FailMode: auth.FailClosed, AdminKey: testAdminKey})
	r := closed.do("POST", "/probe", "app", `{}`, "X-Athena-Key", g.Plaintext).wantCode(t, 503, gateway.CodeBackendUnavailable)
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("503 without Retry-After")
	}
	if strings.Contains(string(r.Body), "127.0.0.1") {
		t.Fatalf("connection details leaked: %s", r.Body)
	}
	closed.do("POST", "/probe", "app", `{}`).wantCode(t, 503, gateway.CodeBackendUnavailable)
	// The admin key needs no store; the admin routes report the store.
	closed.do("POST", "/probe", "app", `{}`, "X-Athena-Admin-Key", testAdminKey).want(t, 200)
	closed.do("GET", "/admin/api-keys", "", "", "X-Athena-Admin-Key", testAdminKey).wantCode(t, 503, gateway.CodeBackendUnavailable)

	open := newKeyEnv(t, dead, auth.Options{FailMode: auth.FailOpen})
	r = open.do("POST", "/probe", "app", `{"right":"gateway.query"}`, "X-Athena-Key", g.Plaintext).want(t, 200)
	if r.JSON["anonymous"] != true {
		t.Fatalf("fail_open: got %s, want anonymous", r.Body)
	}
	open.do("POST", "/probe", "app", `{}`).want(t, 200)
}

// TestNoAuthenticatorConfigured: without a key store the gateway runs
// anonymously and the admin API is closed.
func TestNoAuthenticatorConfigured(t *testing.T) {
	gin.SetMode(gin.TestMode)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := gin.New()
	s := newServer(Deps{}, Options{BodyLimitBytes: 1 << 20}, log) // nothing wired
	e.Use(s.requestID)
	registerKeyTestRoutes(e, s)
	h := &harness{t: t, engine: e}
	h.do("POST", "/probe", "app", `{"right":"gateway.query"}`).want(t, 200)
	h.do("GET", "/admin/api-keys", "", "").wantCode(t, 401, gateway.CodeUnauthorized)
	h.do("GET", "/admin/api-keys", "", "", "X-Athena-Admin-Key", testAdminKey).wantCode(t, 403, gateway.CodeForbidden)
}

func TestBearerToken(t *testing.T) {
	for give, want := range map[string]string{
		"Bearer abc":   "abc",
		"bearer  abc ": "abc",
		"BEARER abc":   "abc",
		"Basic abc":    "",
		"Bearer":       "",
		"":             "",
		"Bearerabc":    "",
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", give)
		if got := bearerToken(r); got != want {
			t.Errorf("bearerToken(%q): got %q, want %q", give, got, want)
		}
	}
}
