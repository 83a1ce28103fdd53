package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// keyStore is a KeyStore over a freshly migrated private schema.
func keyStore(t *testing.T) (*KeyStore, *testEnv) {
	t.Helper()
	env := testDB(t)
	if _, _, err := Migrate(ctxT(t), env.pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return NewKeyStore(env.pool), env
}

func wantGatewayCode(t *testing.T, err error, code gateway.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := MapError(err).Code; got != code {
		t.Fatalf("got %s (%v), want %s", got, err, code)
	}
}

func TestKeyStoreCreateAndLoad(t *testing.T) {
	s, env := keyStore(t)
	ctx := ctxT(t)
	exp := time.Now().Add(time.Hour).Truncate(time.Microsecond)
	k, plaintext, err := s.CreateKey(ctx, NewKey{Name: " orders app ", Description: "d", ClientName: "shop",
		Rights: []string{"orders.read", "orders.*", "orders.read"}, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "orders app" || k.ClientName != "shop" || !k.Active || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) {
		t.Fatalf("created key: got %+v", k)
	}
	if strings.Join(k.Rights, ",") != "orders.*,orders.read" {
		t.Fatalf("rights: got %v, want deduplicated [orders.* orders.read]", k.Rights)
	}
	parsed, err := auth.ParseKey(plaintext)
	if err != nil || parsed.PublicID != k.PublicID {
		t.Fatalf("plaintext %q: %v", plaintext, err)
	}

	full, err := s.KeyByPublicID(ctx, k.PublicID)
	if err != nil {
		t.Fatal(err)
	}
	if string(auth.HashSecret(full.Salt, parsed.Secret)) != string(full.Hash) {
		t.Fatal("stored hash does not match SHA-256(salt || secret)")
	}

	// Neither the plaintext nor the secret is stored anywhere in the row.
	secret := plaintext[strings.Index(plaintext, ".")+1:]
	var n int
	if err := env.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE row_to_json(api_keys)::text LIKE '%' || $1 || '%'`, secret).Scan(&n); err != nil || n != 0 {
		t.Fatalf("secret found in %d rows (%v)", n, err)
	}

	list, err := s.ListKeys(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: got %v, %v", list, err)
	}
	if list[0].Salt != nil || list[0].Hash != nil {
		t.Fatal("ListKeys returned secret material")
	}
	js, _ := json.Marshal(full)
	if strings.Contains(string(js), "salt") || strings.Contains(string(js), "hash") {
		t.Fatalf("key JSON exposes secret material: %s", js)
	}

	if _, err := s.KeyByPublicID(ctx, "nosuchkey"); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Fatalf("unknown key: got %v, want ErrKeyNotFound", err)
	}
}

func TestKeyStoreValidation(t *testing.T) {
	s, _ := keyStore(t)
	ctx := ctxT(t)
	past := time.Now().Add(-time.Hour)
	tests := []struct {
		name string
		give NewKey
	}{
		{"bad right", NewKey{Rights: []string{"orders.read; DROP TABLE api_keys"}}},
		{"empty right", NewKey{Rights: []string{""}}},
		{"long right", NewKey{Rights: []string{strings.Repeat("a", 129)}}},
		{"injection client", NewKey{ClientName: "x'; DROP TABLE api_keys; --"}},
		{"client with space", NewKey{ClientName: "a b"}},
		{"expired", NewKey{ExpiresAt: &past}},
		{"long name", NewKey{Name: strings.Repeat("n", 201)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.CreateKey(ctx, tt.give)
			wantGatewayCode(t, err, gateway.CodeInvalidValue)
		})
	}
	if keys, err := s.ListKeys(ctx); err != nil || len(keys) != 0 {
		t.Fatalf("after refusals: got %d keys, %v; want none", len(keys), err)
	}
}

func TestKeyStoreRevokeAndUpdate(t *testing.T) {
	s, _ := keyStore(t)
	ctx := ctxT(t)
	k, _, err := s.CreateKey(ctx, NewKey{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	name := "renamed"
	off := false
	exp := time.Now().Add(24 * time.Hour).Truncate(time.Microsecond)
	got, err := s.UpdateKey(ctx, k.PublicID, KeyPatch{Name: &name, Active: &off, ExpiresAt: &exp})
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "renamed" || got.Active || got.ExpiresAt == nil || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("updated: got %+v", got)
	}
	on := true
	if got, err = s.UpdateKey(ctx, k.PublicID, KeyPatch{Active: &on, ClearExpiry: true}); err != nil || !got.Active || got.ExpiresAt != nil {
		t.Fatalf("reactivate and clear expiry: got %+v, %v", got, err)
	}

	revoked, err := s.RevokeKey(ctx, k.PublicID)
	if err != nil || revoked.Active || revoked.RevokedAt == nil {
		t.Fatalf("revoke: got %+v, %v", revoked, err)
	}
	again, err := s.RevokeKey(ctx, k.PublicID)
	if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
		t.Fatalf("second revoke: got %+v, %v; want revoked_at unchanged", again, err)
	}
	_, err = s.UpdateKey(ctx, k.PublicID, KeyPatch{Active: &on})
	wantGatewayCode(t, err, gateway.CodeConstraintViolation)

	_, err = s.RevokeKey(ctx, "nosuchkey")
	wantGatewayCode(t, err, gateway.CodeNotFound)
	_, err = s.UpdateKey(ctx, "nosuchkey", KeyPatch{Name: &name})
	wantGatewayCode(t, err, gateway.CodeNotFound)
	_, err = s.RevokeKey(ctx, "' OR 1=1 --")
	wantGatewayCode(t, err, gateway.CodeNotFound)
}

func TestKeyStoreRights(t *testing.T) {
	s, _ := keyStore(t)
	ctx := ctxT(t)
	k, _, err := s.CreateKey(ctx, NewKey{Rights: []string{"users.read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddGrant(ctx, k.PublicID, "gateway.query"); err != nil {
		t.Fatal(err)
	}
	_, err = s.AddGrant(ctx, k.PublicID, "gateway.query")
	wantGatewayCode(t, err, gateway.CodeUniqueViolation)
	_, err = s.AddGrant(ctx, k.PublicID, "bad right")
	wantGatewayCode(t, err, gateway.CodeInvalidValue)
	_, err = s.AddGrant(ctx, "nosuchkey", "users.read")
	wantGatewayCode(t, err, gateway.CodeNotFound)

	rights, err := s.ListGrants(ctx, k.PublicID)
	if err != nil || len(rights) != 2 || rights[0].Right != "gateway.query" || rights[1].Right != "users.read" {
		t.Fatalf("rights: got %+v, %v", rights, err)
	}
	if err := s.RemoveGrant(ctx, k.PublicID, "users.read"); err != nil {
		t.Fatal(err)
	}
	wantGatewayCode(t, s.RemoveGrant(ctx, k.PublicID, "users.read"), gateway.CodeNotFound)

	got, err := s.SetRights(ctx, k.PublicID, []string{"*.read", "gateway.query"})
	if err != nil || strings.Join(got.Rights, ",") != "*.read,gateway.query" {
		t.Fatalf("set rights: got %v, %v", got.Rights, err)
	}
	if got, err = s.SetRights(ctx, k.PublicID, nil); err != nil || len(got.Rights) != 0 {
		t.Fatalf("clear rights: got %v, %v", got.Rights, err)
	}
	_, err = s.ListGrants(ctx, "nosuchkey")
	wantGatewayCode(t, err, gateway.CodeNotFound)
}

func TestKeyStoreConfig(t *testing.T) {
	s, _ := keyStore(t)
	ctx := ctxT(t)
	c, err := s.GetConfig(ctx)
	// Issue 12: a fresh logging database has no switch set (NULL), which
	// the gateway reads as api_keys.required (default on); it used to be
	// an explicit off.
	if err != nil || c.Enforce != nil || c.FailMode != auth.FailClosed {
		t.Fatalf("defaults: got %+v, %v; want enforce not set, fail_closed", c, err)
	}
	if cfg, err := s.Enforcement(ctx); err != nil || cfg.Enforce != nil {
		t.Fatalf("fresh enforcement: got %+v, %v; want the switch not set", cfg, err)
	} else if enforce, _ := cfg.For("any"); !enforce {
		t.Fatal("fresh enforcement: a switch nobody set must count as on")
	}
	// Setting only the fail mode leaves the switch unset.
	closedMode := auth.FailClosed
	if c, err = s.SetConfig(ctx, nil, &closedMode); err != nil || c.Enforce != nil {
		t.Fatalf("fail mode only: got %+v, %v; want the switch still not set", c, err)
	}
	on := true
	open := auth.FailOpen
	if c, err = s.SetConfig(ctx, &on, &open); err != nil || c.Enforce == nil || !*c.Enforce || c.FailMode != auth.FailOpen {
		t.Fatalf("set: got %+v, %v", c, err)
	}
	if c, err = s.SetConfig(ctx, nil, nil); err != nil || c.Enforce == nil || !*c.Enforce || c.FailMode != auth.FailOpen {
		t.Fatalf("partial set keeps values: got %+v, %v", c, err)
	}
	bad := auth.FailMode("fail_sideways")
	_, err = s.SetConfig(ctx, nil, &bad)
	wantGatewayCode(t, err, gateway.CodeInvalidValue)

	off := false
	closed := auth.FailClosed
	if _, err := s.SetClientConfig(ctx, "shop", &off, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetClientConfig(ctx, "billing", nil, &closed); err != nil {
		t.Fatal(err)
	}
	_, err = s.SetClientConfig(ctx, "shop'; DELETE FROM api_key_config; --", &on, nil)
	wantGatewayCode(t, err, gateway.CodeInvalidValue)
	_, err = s.SetClientConfig(ctx, "shop", &on, &bad)
	wantGatewayCode(t, err, gateway.CodeInvalidValue)

	list, err := s.ListClientConfigs(ctx)
	if err != nil || len(list) != 2 || list[0].Client != "billing" || list[0].Enforce != nil || *list[0].FailMode != auth.FailClosed ||
		list[1].Client != "shop" || *list[1].Enforce != false || list[1].FailMode != nil {
		t.Fatalf("client configs: got %+v, %v", list, err)
	}

	cfg, err := s.Enforcement(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if enforce, mode := cfg.For("shop"); enforce || mode != auth.FailOpen {
		t.Errorf("shop: got enforce %v mode %s, want off, fail_open (inherited)", enforce, mode)
	}
	if enforce, mode := cfg.For("billing"); !enforce || mode != auth.FailClosed {
		t.Errorf("billing: got enforce %v mode %s, want on (inherited), fail_closed", enforce, mode)
	}
	if enforce, _ := cfg.For("other"); !enforce {
		t.Error("other: got enforcement off, want the global on")
	}

	if err := s.DeleteClientConfig(ctx, "shop"); err != nil {
		t.Fatal(err)
	}
	wantGatewayCode(t, s.DeleteClientConfig(ctx, "shop"), gateway.CodeNotFound)
}

func TestKeyStoreTouch(t *testing.T) {
	s, _ := keyStore(t)
	ctx := ctxT(t)
	k, _, err := s.CreateKey(ctx, NewKey{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.TouchKey(ctx, k.PublicID); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetKey(ctx, k.PublicID)
	if err != nil || got.LastUsedAt == nil {
		t.Fatalf("last_used_at: got %+v, %v", got, err)
	}
	if !got.UpdatedAt.Equal(k.UpdatedAt) {
		t.Errorf("touch changed updated_at: got %v, want %v", got.UpdatedAt, k.UpdatedAt)
	}
}

// TestAuthenticatorOverKeyStore runs the real store behind an
// Authenticator: a created key works, a revoked one stops after
// invalidation.
func TestAuthenticatorOverKeyStore(t *testing.T) {
	s, _ := keyStore(t)
	ctx := ctxT(t)
	on := true
	if _, err := s.SetConfig(ctx, &on, nil); err != nil {
		t.Fatal(err)
	}
	k, plaintext, err := s.CreateKey(ctx, NewKey{ClientName: "shop", Rights: []string{"orders.read"}})
	if err != nil {
		t.Fatal(err)
	}
	a := auth.New(s, auth.Options{})
	defer a.Close()
	p, err := a.Authenticate(ctx, plaintext, "shop")
	if err != nil || p.KeyID != k.PublicID {
		t.Fatalf("authenticate: got %+v, %v", p, err)
	}
	if err := a.AuthorizeTable(p, "", "orders", auth.ActionRead); err != nil {
		t.Fatal(err)
	}
	if err := a.AuthorizeTable(p, "", "orders", auth.ActionWrite); err == nil {
		t.Fatal("write allowed with orders.read only")
	}
	_, err = a.Authenticate(ctx, plaintext, "other")
	wantGatewayCode(t, err, gateway.CodeForbidden)
	if _, err := s.RevokeKey(ctx, k.PublicID); err != nil {
		t.Fatal(err)
	}
	a.Invalidate(k.PublicID)
	_, err = a.Authenticate(ctx, plaintext, "shop")
	wantGatewayCode(t, err, gateway.CodeUnauthorized)
}

// TestKeyStoreDown: a pool whose server is not there yields store errors
// that are not ErrKeyNotFound, map to 503, and drive the fail modes.
func TestKeyStoreDown(t *testing.T) {
	cfg, err := pgxpool.ParseConfig("postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := NewKeyStore(pool)
	ctx := ctxT(t)
	_, err = s.KeyByPublicID(ctx, "abcdefghijkl")
	if err == nil || errors.Is(err, auth.ErrKeyNotFound) {
		t.Fatalf("got %v, want a connection error", err)
	}
	wantGatewayCode(t, err, gateway.CodeBackendUnavailable)
	_, err = s.Enforcement(ctx)
	wantGatewayCode(t, err, gateway.CodeBackendUnavailable)

	g, _ := auth.GenerateKey()
	for _, tt := range []struct {
		mode     auth.FailMode
		wantCode gateway.Code
	}{{auth.FailClosed, gateway.CodeBackendUnavailable}, {auth.FailOpen, ""}} {
		a := auth.New(s, auth.Options{FailMode: tt.mode})
		p, err := a.Authenticate(ctx, g.Plaintext, "shop")
		a.Close()
		if tt.wantCode == "" {
			if err != nil || !p.Anonymous {
				t.Errorf("%s: got %+v, %v; want anonymous", tt.mode, p, err)
			}
			continue
		}
		wantGatewayCode(t, err, tt.wantCode)
		if ge := MapError(err); ge.RetryAfter <= 0 || strings.Contains(ge.Detail, "127.0.0.1") {
			t.Errorf("%s: got %+v, want Retry-After and no connection details", tt.mode, ge)
		}
	}
}
