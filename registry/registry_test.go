package registry

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/postgres/postgrestest"
)

func testURL() string { return postgrestest.URL() }

// withParam appends a query parameter to a URI.
func withParam(uri, kv string) string {
	if strings.Contains(uri, "?") {
		return uri + "&" + kv
	}
	return uri + "?" + kv
}

// cpSchema creates a private schema for the control-plane tables and
// returns a URI whose connections use it; the schema is dropped at the end.
func cpSchema(t *testing.T) string {
	t.Helper()
	return postgrestest.SchemaURL(t)
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fixture struct {
	cfg  config.Config
	opts Options
	logs *syncBuffer
}

// newFixture is a configuration with the control plane (client
// athena_logging) in cpURI's schema and a file client "filed" on the test
// database.
func newFixture(cpURI string) *fixture {
	cfg := config.Default()
	cfg.Postgres.MaxConns = 4
	cfg.Postgres.ConnectTimeout = 2 * time.Second
	cfg.Postgres.AcquireTimeout = 2 * time.Second
	cfg.ControlPlane.PollInterval = time.Minute // changes must arrive by NOTIFY
	cfg.Clients = map[string]config.Client{
		"athena_logging": {URI: cpURI},
		"filed":          {URI: testURL()},
	}
	return &fixture{cfg: cfg, logs: &syncBuffer{}, opts: Options{Getenv: func(string) string { return "" }}}
}

// start builds and starts a registry (one "gateway process").
func (f *fixture) start(t *testing.T) *Registry {
	t.Helper()
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := NewWithOptions(f.cfg, log, f.opts)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(r.Close)
	return r
}

// eventually polls cond until it holds or 10 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func code(err error) gateway.Code {
	if err == nil {
		return ""
	}
	return postgres.MapError(err).Code
}

func ping(t *testing.T, db *postgres.DB) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return db.Pool().Ping(ctx)
}

func TestConfigSyncAndDatabaseWins(t *testing.T) {
	ctx := context.Background()
	cp := cpSchema(t)
	f := newFixture(cp)
	f.cfg.Clients["both"] = config.Client{URI: "postgres://file:filepass@127.0.0.1:1/nowhere?sslmode=disable"}
	f.cfg.Clients["secretive"] = config.Client{URI: "postgres://u:hunter2@127.0.0.1:1/x?sslmode=disable"}
	// A database row named like a file client, created before the sync.
	pool := f.start(t).ControlPlane()
	store := postgres.NewClientStore(pool)
	if _, err := pool.Exec(ctx, `UPDATE athena_clients SET deleted_at = now() WHERE client_name = 'both'`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Create(ctx, postgres.NewClient{Name: "both", URI: testURL(), Active: true}); err != nil {
		t.Fatal(err)
	}
	r := f.start(t)

	rows, err := store.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]postgres.ClientRow{}
	for _, row := range rows {
		got[row.Name] = row
	}
	if got["filed"].Source != postgres.SourceConfig || got["both"].Source != postgres.SourceDatabase {
		t.Errorf("sources: got %+v", got)
	}
	if _, ok := got["athena_logging"]; ok {
		t.Error("the control plane's own client was mirrored into the table")
	}
	if strings.Contains(got["secretive"].URI, "hunter2") || !strings.Contains(got["secretive"].URI, "xxxxx") {
		t.Errorf("config password copied into the table: %q", got["secretive"].URI)
	}
	db, err := r.Lookup("both")
	if err != nil {
		t.Fatal(err)
	}
	if err := ping(t, db); err != nil {
		t.Errorf("database row did not win over the file (file URI is dead): %v", err)
	}
	views, err := r.ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range views {
		if strings.Contains(v.URI, "hunter2") || strings.Contains(v.URI, "filepass") {
			t.Errorf("admin view leaks a password: %+v", v)
		}
		if v.Name == "both" && (v.Source != "database" || !v.InConfig) {
			t.Errorf("both: got %+v", v)
		}
	}
	if names := r.Names(); strings.Join(names, ",") != "both,filed,secretive" {
		t.Errorf("names: got %v (the reserved client must not be listed)", names)
	}
}

// TestChangesReachOtherProcesses: two registries over one logging database
// stand for two gateway processes; a change made through one is served by
// the other within the NOTIFY round trip (the poll is a minute here).
func TestChangesReachOtherProcesses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(cpSchema(t))
	r1 := f.start(t)
	r2 := f.start(t)

	if _, err := r1.CreateClient(ctx, ClientInput{Name: "late", URI: testURL()}); err != nil {
		t.Fatal(err)
	}
	if _, err := r1.Lookup("late"); err != nil {
		t.Fatalf("the writing process does not see its own write: %v", err)
	}
	eventually(t, "r2 to serve the new client", func() bool { _, err := r2.Lookup("late"); return err == nil })
	old, _ := r2.Lookup("late")
	if err := ping(t, old); err != nil {
		t.Fatal(err)
	}

	if _, err := r1.FreezeClient(ctx, "late", true); err != nil {
		t.Fatal(err)
	}
	eventually(t, "frozen on r2", func() bool { _, err := r2.Lookup("late"); return code(err) == gateway.CodeClientFrozen })
	var ge *gateway.Error
	if _, err := r2.Lookup("late"); !errors.As(err, &ge) || ge.RetryAfter <= 0 || ge.Code.Status() != 503 {
		t.Errorf("frozen: got %v, want 503 with Retry-After", err)
	}
	off := false
	if _, err := r1.PatchClient(ctx, "late", gateway.ClientPatch{Active: &off, Frozen: &off}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "inactive on r2", func() bool { _, err := r2.Lookup("late"); return code(err) == gateway.CodeClientInactive })

	// A URI change retires the old pool (closed once idle) and serves the new one.
	on := true
	uri := withParam(testURL(), "application_name=athena_moved")
	if _, err := r1.PatchClient(ctx, "late", gateway.ClientPatch{Active: &on, URI: &uri}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new URI on r2", func() bool {
		db, err := r2.Lookup("late")
		return err == nil && db != old
	})
	eventually(t, "old pool closed", func() bool { return ping(t, old) != nil })

	// An operator's plain SQL is announced by the trigger too.
	if _, err := r1.ControlPlane().Exec(ctx, `UPDATE athena_clients SET is_frozen = true WHERE client_name = 'late' AND deleted_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	eventually(t, "psql freeze on r2", func() bool { _, err := r2.Lookup("late"); return code(err) == gateway.CodeClientFrozen })

	if err := r1.DeleteClient(ctx, "late"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "deleted on r2", func() bool { _, err := r2.Lookup("late"); return code(err) == gateway.CodeInvalidClient })
	if err := r1.DeleteClient(ctx, "filed"); code(err) != gateway.CodeConstraintViolation {
		t.Errorf("deleting a config client: got %v, want 409 constraint_violation", err)
	}
	if _, err := r1.CreateClient(ctx, ClientInput{Name: "late", URI: testURL()}); err != nil {
		t.Errorf("re-creating a soft-deleted name: %v", err)
	}
}

func TestLookupStatuses(t *testing.T) {
	ctx := context.Background()
	f := newFixture(cpSchema(t))
	r := f.start(t)
	if _, err := r.CreateClient(ctx, ClientInput{Name: "cold", URI: testURL(), Frozen: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateClient(ctx, ClientInput{Name: "off", URI: testURL(), Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		give string
		want gateway.Code
	}{
		{"", gateway.CodeMissingClientHeader},
		{"   ", gateway.CodeMissingClientHeader},
		{"nobody", gateway.CodeInvalidClient},
		{"Filed", gateway.CodeInvalidClient}, // case-sensitive
		{"x'; DROP TABLE athena_clients; --", gateway.CodeInvalidClient},
		{"athena_logging", gateway.CodeForbidden},
		{"cold", gateway.CodeClientFrozen},
		{"off", gateway.CodeClientInactive},
		{" filed ", ""},
	} {
		_, err := r.Lookup(tt.give)
		if got := code(err); got != tt.want {
			t.Errorf("Lookup(%q): got %q (%v), want %q", tt.give, got, err, tt.want)
		}
	}
	if !r.Reserved("athena_logging") || r.Reserved("filed") {
		t.Error("Reserved")
	}
	for _, bad := range []ClientInput{
		{Name: "bad name", URI: testURL()},
		{Name: "x'--", URI: testURL()},
		{Name: "ok", URI: "mysql://u@h/db"},
		{Name: "ok", URI: testURL(), URIEnvVar: "X"},
		{Name: "ok"},
		{Name: "ok", URIEnvVar: "1; rm"},
		{Name: "athena_logging", URI: testURL()},
		{Name: "ok", URI: testURL(), Metadata: []byte(`[1]`)},
	} {
		if _, err := r.CreateClient(ctx, bad); err == nil || code(err).Status() >= 500 {
			t.Errorf("CreateClient(%+v): got %v, want a 4xx", bad, err)
		}
	}
	if _, err := r.CreateClient(ctx, ClientInput{Name: "cold", URI: testURL()}); code(err) != gateway.CodeUniqueViolation {
		t.Errorf("duplicate: got %v", err)
	}
	if _, err := r.CreateClient(ctx, ClientInput{Name: "filed", URI: testURL()}); code(err) != gateway.CodeUniqueViolation {
		t.Errorf("duplicate of a file client: got %v", err)
	}
	var n int
	if err := r.ControlPlane().QueryRow(ctx, `SELECT count(*) FROM athena_clients`).Scan(&n); err != nil || n == 0 {
		t.Errorf("athena_clients after injection attempts: %d rows, %v", n, err)
	}
}

func TestEnvVarClient(t *testing.T) {
	ctx := context.Background()
	f := newFixture(cpSchema(t))
	f.opts.Getenv = func(k string) string {
		if k == "SHOP_DB" {
			return testURL()
		}
		return ""
	}
	r := f.start(t)
	for _, name := range []string{"shop", "unset"} {
		env := map[string]string{"shop": "SHOP_DB", "unset": "NOT_SET_ANYWHERE"}[name]
		if _, err := r.CreateClient(ctx, ClientInput{Name: name, URIEnvVar: env}); err != nil {
			t.Fatal(err)
		}
	}
	db, err := r.Lookup("shop")
	if err != nil || ping(t, db) != nil {
		t.Errorf("env var client: %v", err)
	}
	if _, err := r.Lookup("unset"); code(err) != gateway.CodeBackendUnavailable || !strings.Contains(err.Error(), "NOT_SET_ANYWHERE") {
		t.Errorf("unset env var: got %v", err)
	}
}

func TestAutoDisableAfterFailures(t *testing.T) {
	ctx := context.Background()
	f := newFixture(cpSchema(t))
	f.cfg.ControlPlane.AutoDisableFailures = 2
	f.opts.FailureEvery = time.Nanosecond
	f.cfg.Clients["deadfile"] = config.Client{URI: "postgres://u:pw@127.0.0.1:1/x?sslmode=disable"}
	r := f.start(t)
	if _, err := r.CreateClient(ctx, ClientInput{Name: "dead", URI: "postgres://u:pw@127.0.0.1:1/x?sslmode=disable"}); err != nil {
		t.Fatal(err)
	}
	failOnce := func(name string) {
		t.Helper()
		db, err := r.Lookup(name)
		if err != nil {
			return
		}
		if err := ping(t, db); code(err) != gateway.CodeBackendUnavailable {
			t.Fatalf("ping %s: got %v", name, err)
		}
	}
	eventually(t, "dead auto-disabled", func() bool {
		failOnce("dead")
		failOnce("deadfile")
		_, err := r.Lookup("dead")
		return code(err) == gateway.CodeClientInactive
	})
	_, err := r.Lookup("dead")
	if !strings.Contains(err.Error(), "auto-disabled") {
		t.Errorf("inactive reason: got %v", err)
	}
	if _, err := r.Lookup("deadfile"); err != nil {
		t.Errorf("a config client must never be auto-disabled: %v", err)
	}
	views, _ := r.ListClients(ctx)
	for _, v := range views {
		if v.Name == "deadfile" && v.LoadFailures == 0 {
			t.Errorf("config client failures not counted: %+v", v)
		}
		if strings.Contains(v.LastLoadError, "pw@") {
			t.Errorf("password in last_load_error: %q", v.LastLoadError)
		}
	}
}

// silentListener accepts connections and never answers (or, with garbage,
// answers with bytes that are not the PostgreSQL protocol).
func silentListener(t *testing.T, garbage bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			if garbage {
				_, _ = c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\nnot postgres at all\x00\x01\x02"))
			}
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestDeadClientDoesNotBlockOthers(t *testing.T) {
	f := newFixture(cpSchema(t))
	f.cfg.Clients["hang"] = config.Client{URI: "postgres://u@" + silentListener(t, false) + "/x?sslmode=disable"}
	r := f.start(t)
	hang, err := r.Lookup("hang")
	if err != nil {
		t.Fatal(err)
	}
	hung := make(chan error, 1)
	go func() { hung <- ping(t, hang) }()
	good, err := r.Lookup("filed")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second) // shorter than hang's connect timeout
	defer cancel()
	if err := good.Pool().Ping(ctx); err != nil {
		t.Errorf("a hanging client blocked another: %v", err)
	}
	if err := <-hung; code(err) != gateway.CodeBackendUnavailable {
		t.Errorf("hanging client: got %v, want backend_unavailable", err)
	}
}

func TestParseDirectURI(t *testing.T) {
	for _, tt := range []struct {
		give, want string
		keyless    bool
		wantErr    bool
	}{
		{give: "postgres://u:p@h:5432/db", want: "postgres://u:p@h:5432/db", keyless: true},
		{give: "postgresql://u@h/db?sslmode=disable", want: "postgres://u@h/db?sslmode=disable"},
		{give: "postgres://h/db?user=u&password=p", want: "postgres://h/db?user=u&password=p", keyless: true},
		{give: "jdbc:postgresql://h:5433/db?user=u&password=p%40ss&ssl=true&loginTimeout=5", want: "postgres://u:p%40ss@h:5433/db?sslmode=require", keyless: true},
		{give: "JDBC:PostgreSQL://h/db?user=u&currentSchema=app", want: "postgres://u@h/db?search_path=app"},
		{give: "mysql://u:p@h/db", wantErr: true},
		{give: "jdbc:mysql://h/db", wantErr: true},
		{give: "h:5432/db", wantErr: true},
		{give: "postgres://", wantErr: true},
		{give: "postgres://u:p@h/db\x00", wantErr: true},
	} {
		d, err := ParseDirectURI(tt.give)
		if tt.wantErr {
			if code(err) != gateway.CodeInvalidClient || strings.Contains(err.Error(), tt.give) {
				t.Errorf("%q: got %v, want invalid_client without the URI", tt.give, err)
			}
			continue
		}
		if err != nil || d.URI != tt.want || d.Keyless != tt.keyless {
			t.Errorf("%q: got %+v, %v; want %q keyless %v", tt.give, d, err, tt.want, tt.keyless)
		}
		if strings.Contains(d.Redacted, ":p@") || strings.Contains(d.Redacted, "password=p") {
			t.Errorf("%q: redacted form keeps the password: %q", tt.give, d.Redacted)
		}
	}
}

func TestDirectURI(t *testing.T) {
	f := newFixture(cpSchema(t))
	f.cfg.ControlPlane.DirectURIMaxPools = 2
	f.cfg.Gateway.DirectURI.Enabled = true
	r := f.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second) // the guard: nothing may hang
	defer cancel()

	db, d, err := r.Direct(ctx, testURL())
	if err != nil || d.Keyless {
		t.Fatalf("postgres URI: %v (keyless %v)", err, d.Keyless)
	}
	var one int
	if err := db.Pool().QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query through a direct pool: %v", err)
	}
	again, _, _ := r.Direct(ctx, testURL())
	if again != db {
		t.Error("the same URI did not reuse its pool")
	}

	u, _ := pgx.ParseConfig(testURL())
	jdbc := "jdbc:postgresql://" + net.JoinHostPort(u.Host, "5432") + "/" + u.Database + "?user=" + u.User + "&password=ignored-by-trust&sslmode=disable"
	jdb, jd, err := r.Direct(ctx, jdbc)
	if err != nil || !jd.Keyless || !strings.HasPrefix(jd.URI, "postgres://") {
		t.Fatalf("jdbc URI: %+v, %v", jd, err)
	}
	if err := jdb.Pool().Ping(ctx); err != nil {
		t.Fatal(err)
	}

	// Two pools are allowed: a third evicts the least recently used (the
	// first; the jdbc one was used after it) and closes it.
	_, _, _ = r.Direct(ctx, jdbc)
	if _, _, err := r.Direct(ctx, withParam(testURL(), "application_name=third")); err != nil {
		t.Fatal(err)
	}
	eventually(t, "evicted pool closed", func() bool { return db.Pool().Ping(ctx) != nil })
	if err := jdb.Pool().Ping(ctx); err != nil {
		t.Errorf("recently used pool was evicted: %v", err)
	}
	if n := len(r.direct.stats()); n != 2 {
		t.Errorf("cached pools: got %d, want 2", n)
	}

	for _, target := range []struct{ name, addr string }{
		{"garbage", silentListener(t, true)},
		{"silent", silentListener(t, false)},
		{"closed port", "127.0.0.1:1"},
	} {
		uri := "postgres://user:supersecret@" + target.addr + "/db?sslmode=disable"
		_, _, err := r.Direct(ctx, uri)
		if ctx.Err() != nil {
			t.Fatalf("%s: the direct URI hung past the guard", target.name)
		}
		if got := code(err); got != gateway.CodeBackendUnavailable && got.Status() != 400 {
			t.Errorf("%s: got %v, want 503 or 400", target.name, err)
		}
		if err != nil && strings.Contains(err.Error(), "supersecret") {
			t.Errorf("%s: password in the error: %v", target.name, err)
		}
	}
	if strings.Contains(f.logs.String(), "supersecret") {
		t.Error("password in the log")
	}
	if _, _, err := r.Direct(ctx, "mysql://u:supersecret@h/db"); code(err) != gateway.CodeInvalidClient || strings.Contains(err.Error(), "supersecret") {
		t.Errorf("bad scheme: got %v", err)
	}
	for _, s := range r.Stats() {
		if strings.Contains(s.Client, "supersecret") || strings.Contains(s.Client, "ignored-by-trust") {
			t.Errorf("password in pool stats: %q", s.Client)
		}
	}
}

func TestDirectIdlePoolsClosed(t *testing.T) {
	f := newFixture(cpSchema(t))
	f.cfg.ControlPlane.DirectURIIdleTimeout = 50 * time.Millisecond
	f.cfg.Gateway.DirectURI.Enabled = true
	r := f.start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, _, err := r.Direct(ctx, testURL())
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "idle pool closed by the janitor", func() bool { return db.Pool().Ping(ctx) != nil })
	if n := len(r.direct.stats()); n != 0 {
		t.Errorf("cached pools after idling: %d", n)
	}
}

func TestWildcardHost(t *testing.T) {
	ctx := context.Background()
	f := newFixture(cpSchema(t))
	f.opts.Getenv = func(k string) string {
		if k == "ATHENA_WILDCARD_HOST_PATTERN" {
			return "*.DB.example.com"
		}
		return ""
	}
	r1 := f.start(t)
	r2 := f.start(t)
	for _, rt := range []postgres.Route{{Key: "acme", Client: "filed", Active: true}, {Key: "off", Client: "filed"}, {Key: "ghost", Client: "nobody", Active: true}} {
		if _, err := r1.PutRoute(ctx, rt); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r1.PutRoute(ctx, postgres.Route{Key: "logs", Client: "athena_logging", Active: true}); code(err) != gateway.CodeForbidden {
		t.Errorf("route to the reserved client: got %v", err)
	}
	if _, err := r1.PutRoute(ctx, postgres.Route{Key: "Bad.Key", Client: "filed", Active: true}); code(err) != gateway.CodeInvalidClient {
		t.Errorf("bad route key: got %v", err)
	}
	// Each write notifies separately: wait for the last one to reach r2.
	eventually(t, "routes on r2", func() bool { _, c, _ := r2.LookupHost("ghost.db.example.com"); return c == "nobody" })
	for _, tt := range []struct {
		give, client string
		want         gateway.Code
	}{
		{"ACME.db.example.com:4052", "filed", ""},
		{"acme.db.example.com.", "filed", ""},
		{"other.example.com", "", ""},
		{"db.example.com", "", ""},
		{"localhost:4052", "", ""},
		{"a.b.db.example.com", "", gateway.CodeInvalidClient},
		{"x'or'1.db.example.com", "", gateway.CodeInvalidClient},
		{"nope.db.example.com", "", gateway.CodeInvalidClient},
		{"off.db.example.com", "", gateway.CodeInvalidClient},
		{"ghost.db.example.com", "nobody", gateway.CodeInvalidClient},
	} {
		_, client, err := r2.LookupHost(tt.give)
		if client != tt.client || code(err) != tt.want {
			t.Errorf("LookupHost(%q): got %q, %v; want %q, %q", tt.give, client, err, tt.client, tt.want)
		}
	}
	if err := r1.DeleteRoute(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "route removed on r2", func() bool { _, _, err := r2.LookupHost("acme.db.example.com"); return err != nil })
}

func TestFileOnlyRegistry(t *testing.T) {
	cfg := config.Default()
	cfg.Clients = map[string]config.Client{"filed": {URI: testURL()}}
	logs := &syncBuffer{}
	r := New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	defer r.Close()
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "control plane disabled") {
		t.Errorf("no warning about the disabled control plane: %s", logs.String())
	}
	if r.ControlPlane() != nil || r.Reserved("athena_logging") {
		t.Error("control plane present without its client")
	}
	db, err := r.Lookup("filed")
	if err != nil || ping(t, db) != nil {
		t.Fatalf("file client: %v", err)
	}
	if _, err := r.CreateClient(context.Background(), ClientInput{Name: "x", URI: testURL()}); code(err) != gateway.CodeBackendUnavailable {
		t.Errorf("admin write without a control plane: got %v", err)
	}
	views, err := r.ListClients(context.Background())
	if err != nil || len(views) != 1 || views[0].Source != "config" {
		t.Errorf("file-only view: %+v, %v", views, err)
	}
}

func TestControlPlaneDownAtStart(t *testing.T) {
	f := newFixture("postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable&connect_timeout=1")
	r := f.start(t) // must not fail
	if _, err := r.Lookup("filed"); err != nil {
		t.Errorf("file client while the control plane is down: %v", err)
	}
	if !strings.Contains(f.logs.String(), "control plane unreachable") {
		t.Error("no warning about the unreachable control plane")
	}
}

func TestInvalidControlPlaneConfig(t *testing.T) {
	f := newFixture(testURL())
	f.cfg.ControlPlane.WildcardHostPattern = "db.example.com"
	r := NewWithOptions(f.cfg, nil, f.opts)
	defer r.Close()
	if err := r.Start(context.Background()); err == nil || !strings.Contains(err.Error(), "wildcard_host_pattern") {
		t.Errorf("got %v, want a wildcard_host_pattern error", err)
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkLookup is the per-request cost of choosing a client's pool.
func BenchmarkLookup(b *testing.B) {
	cfg := config.Default()
	cfg.Clients = map[string]config.Client{"filed": {URI: testURL()}}
	r := New(cfg, nil)
	defer r.Close()
	if _, err := r.Lookup("filed"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Lookup("filed"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
