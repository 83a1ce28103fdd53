package postgres

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/athena-gateway/athena/gateway"
)

// controlPlane migrates the logging tables into a private schema and
// returns a ClientStore and RouteStore over it.
func controlPlane(t *testing.T) (*testEnv, *ClientStore, *RouteStore) {
	t.Helper()
	env := testDB(t)
	if _, _, err := Migrate(context.Background(), env.pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return env, NewClientStore(env.pool), NewRouteStore(env.pool)
}

func TestClientStoreCRUD(t *testing.T) {
	ctx := context.Background()
	_, s, _ := controlPlane(t)

	c, err := s.Create(ctx, NewClient{Name: "shop", URI: "postgres://u@h/shop", Active: true, Metadata: json.RawMessage(`{"team":"a"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != SourceDatabase || !c.Active || c.Frozen || string(c.Metadata) != `{"team": "a"}` {
		t.Errorf("created: got %+v", c)
	}
	_, err = s.Create(ctx, NewClient{Name: "shop", URI: "postgres://u@h/other", Active: true})
	wantCode(t, err, gateway.CodeUniqueViolation)

	env := "SHOP_URL"
	c, err = s.Patch(ctx, "shop", gateway.ClientPatch{URIEnvVar: &env})
	if err != nil || c.URI != "" || c.URIEnvVar != env {
		t.Fatalf("patch env var: got %+v, %v", c, err)
	}
	uri := "postgres://u@h/shop2"
	c, err = s.Patch(ctx, "shop", gateway.ClientPatch{URI: &uri})
	if err != nil || c.URI != uri || c.URIEnvVar != "" {
		t.Fatalf("patch uri: got %+v, %v", c, err)
	}
	c, err = s.SetFrozen(ctx, "shop", true)
	if err != nil || !c.Frozen {
		t.Fatalf("freeze: got %+v, %v", c, err)
	}
	_, err = s.Patch(ctx, "nope", gateway.ClientPatch{Frozen: &c.Frozen})
	wantCode(t, err, gateway.CodeNotFound)

	if err := s.SoftDelete(ctx, "shop", false); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(ctx, "shop")
	wantCode(t, err, gateway.CodeNotFound)
	wantCode(t, s.SoftDelete(ctx, "shop", false), gateway.CodeNotFound)
	// A soft-deleted name can be created again.
	if _, err := s.Create(ctx, NewClient{Name: "shop", URI: "postgres://u@h/shop3", Active: true}); err != nil {
		t.Fatalf("recreate after soft delete: %v", err)
	}
	list, err := s.List(ctx)
	if err != nil || len(list) != 1 || list[0].URI != "postgres://u@h/shop3" {
		t.Fatalf("list: got %+v, %v", list, err)
	}
}

func TestClientStoreSyncConfigPrecedence(t *testing.T) {
	ctx := context.Background()
	_, s, _ := controlPlane(t)
	if _, err := s.Create(ctx, NewClient{Name: "both", URI: "postgres://db@h/both", Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncConfigClients(ctx, map[string]string{"both": "postgres://file@h/both", "filed": "postgres://file@h/a"}); err != nil {
		t.Fatal(err)
	}
	// Syncing again with a new URI updates the config row.
	if err := s.SyncConfigClients(ctx, map[string]string{"filed": "postgres://file@h/b"}); err != nil {
		t.Fatal(err)
	}
	both, _ := s.Get(ctx, "both")
	if both.Source != SourceDatabase || both.URI != "postgres://db@h/both" {
		t.Errorf("database row overwritten by the file: %+v", both)
	}
	filed, _ := s.Get(ctx, "filed")
	if filed.Source != SourceConfig || filed.URI != "postgres://file@h/b" {
		t.Errorf("config row: got %+v", filed)
	}
	// The file owns a config client's URI and its existence.
	uri := "postgres://x@h/y"
	_, err := s.Patch(ctx, "filed", gateway.ClientPatch{URI: &uri})
	wantCode(t, err, gateway.CodeConstraintViolation)
	wantCode(t, s.SoftDelete(ctx, "filed", false), gateway.CodeConstraintViolation)
	if c, err := s.SetFrozen(ctx, "filed", true); err != nil || !c.Frozen {
		t.Errorf("freezing a config client: got %+v, %v", c, err)
	}
	if err := s.SoftDelete(ctx, "filed", true); err != nil {
		t.Errorf("forced delete of a config row: %v", err)
	}
}

func TestClientStoreLoadFailures(t *testing.T) {
	ctx := context.Background()
	_, s, _ := controlPlane(t)
	if _, err := s.Create(ctx, NewClient{Name: "flaky", URI: "postgres://u@h/f", Active: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.SyncConfigClients(ctx, map[string]string{"filed": "postgres://u@h/g"}); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		for _, name := range []string{"flaky", "filed"} {
			disabled, err := s.RecordLoadFailure(ctx, name, "connection refused", 3, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			if want := name == "flaky" && i == 3; disabled != want {
				t.Errorf("%s failure %d: disabled %v, want %v", name, i, disabled, want)
			}
		}
	}
	flaky, _ := s.Get(ctx, "flaky")
	if flaky.Active || flaky.LoadFailures != 3 || flaky.DisabledReason == "" || flaky.LastLoadError != "connection refused" {
		t.Errorf("database client after 3 failures: %+v", flaky)
	}
	filed, _ := s.Get(ctx, "filed")
	if !filed.Active || filed.LoadFailures != 3 {
		t.Errorf("config client must be counted, never disabled: %+v", filed)
	}
	// Re-activating clears the count and the reason.
	on := true
	flaky, err := s.Patch(ctx, "flaky", gateway.ClientPatch{Active: &on})
	if err != nil || !flaky.Active || flaky.LoadFailures != 0 || flaky.DisabledReason != "" {
		t.Errorf("re-activate: got %+v, %v", flaky, err)
	}
	// Failures outside the window restart the count.
	if _, err := s.RecordLoadFailure(ctx, "flaky", "x", 3, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE athena_clients SET last_load_failure_at = now() - interval '2 hours' WHERE client_name = 'flaky'`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordLoadFailure(ctx, "flaky", "x", 3, time.Hour); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Get(ctx, "flaky"); f.LoadFailures != 1 {
		t.Errorf("count after the window: got %d, want 1", f.LoadFailures)
	}
	if err := s.ResetFailures(ctx, "filed"); err != nil {
		t.Fatal(err)
	}
	if f, _ := s.Get(ctx, "filed"); f.LoadFailures != 0 || f.LastLoadError != "" {
		t.Errorf("reset: got %+v", f)
	}
	if disabled, err := s.RecordLoadFailure(ctx, "unknown", "x", 1, time.Hour); err != nil || disabled {
		t.Errorf("unknown client: got %v, %v", disabled, err)
	}
}

// TestClientStoreNotifies checks that writes announce themselves on the
// channel (migration 002's trigger) and that bookkeeping-only updates do
// not.
func TestClientStoreNotifies(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, s, routes := controlPlane(t)
	type note struct{ channel, payload string }
	notes := make(chan note, 16)
	connected := make(chan struct{}, 4)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- s.Listen(lctx, ListenFuncs{
			Connected: func() { connected <- struct{}{} },
			Notified:  func(ch, p string) { notes <- note{ch, p} },
		})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("listen: %v", err)
		}
	}()
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("listener never connected")
	}
	// The channel is database-wide: tests in other schemas may notify too,
	// so wait for our payload.
	expect := func(channel, payload string) {
		t.Helper()
		for {
			select {
			case n := <-notes:
				if n.channel == channel && n.payload == payload {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no notification %s(%s)", channel, payload)
			}
		}
	}
	name := "notify-" + time.Now().Format("150405.000000")
	if _, err := s.Create(ctx, NewClient{Name: name, URI: "postgres://u@h/n", Active: true}); err != nil {
		t.Fatal(err)
	}
	expect(ClientsChannel, name)
	if _, err := s.SetFrozen(ctx, name, true); err != nil {
		t.Fatal(err)
	}
	expect(ClientsChannel, name)
	if _, err := routes.Put(ctx, Route{Key: "acme", Client: name, Active: true}); err != nil {
		t.Fatal(err)
	}
	expect(RoutesChannel, "acme")
}

func TestRouteStore(t *testing.T) {
	ctx := context.Background()
	_, _, rs := controlPlane(t)
	for _, r := range []Route{{Key: "acme", Client: "shop", Active: true}, {Key: "off", Client: "shop", Active: false}} {
		if _, err := rs.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if c, ok, err := rs.Lookup(ctx, "acme"); err != nil || !ok || c != "shop" {
		t.Errorf("lookup acme: got %q %v %v", c, ok, err)
	}
	if _, ok, err := rs.Lookup(ctx, "off"); err != nil || ok {
		t.Errorf("inactive route served: %v %v", ok, err)
	}
	// Injection through the key stays data.
	if _, ok, err := rs.Lookup(ctx, "x' OR '1'='1"); err != nil || ok {
		t.Errorf("injection key: %v %v", ok, err)
	}
	active, err := rs.Active(ctx)
	if err != nil || len(active) != 1 || active["acme"] != "shop" {
		t.Errorf("active: got %v, %v", active, err)
	}
	r, err := rs.Put(ctx, Route{Key: "acme", Client: "other", Active: true, Description: "moved"})
	if err != nil || r.Client != "other" || r.Description != "moved" {
		t.Errorf("replace: got %+v, %v", r, err)
	}
	all, err := rs.List(ctx)
	if err != nil || len(all) != 2 {
		t.Errorf("list: got %+v, %v", all, err)
	}
	if err := rs.Delete(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	wantCode(t, rs.Delete(ctx, "acme"), gateway.CodeNotFound)
}
