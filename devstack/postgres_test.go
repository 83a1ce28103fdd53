package devstack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// clusterDir returns a fresh cluster root. As root the server runs as the
// postgres user, which must be able to traverse the test's temp directory
// (t.TempDir makes its top directory 0700).
func clusterDir(t *testing.T) string {
	t.Helper()
	if _, err := findPostgresBin(""); err != nil && os.Geteuid() != 0 {
		t.Skipf("PostgreSQL server binaries (initdb, pg_ctl) not found and not root, so they cannot be installed: %v", err)
	}
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "pg")
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// startPostgres starts a cluster and stops it when the test ends, pass or fail.
func startPostgres(t *testing.T, dir string, port int) *LocalPostgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: dir, Port: port, Log: testLogger(t), Install: os.Geteuid() == 0})
	if err != nil {
		t.Fatalf("StartPostgres: %v", err)
	}
	t.Cleanup(func() {
		if err := pg.Stop(context.Background()); err != nil {
			t.Errorf("cleanup Stop: %v", err)
		}
	})
	return pg
}

func connect(t *testing.T, uri string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), uri)
	if err != nil {
		t.Fatalf("connect %s: %v", uri, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func assertDown(t *testing.T, port int, dir string) {
	t.Helper()
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
		conn.Close()
		t.Errorf("port %d still accepts connections after Stop", port)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "postmaster.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: got err %v, want not exist", err)
	}
}

func TestStartPostgresSeedsDemoAndStops(t *testing.T) {
	dir, port := clusterDir(t), freePort(t)
	pg := startPostgres(t, dir, port)
	ctx := context.Background()

	if got, want := pg.URI("demo"), fmt.Sprintf("postgres://postgres@127.0.0.1:%d/demo?sslmode=disable", port); got != want {
		t.Errorf("URI: got %s, want %s", got, want)
	}
	for range 2 {
		if err := pg.EnsureDatabase(ctx, "demo"); err != nil {
			t.Fatalf("EnsureDatabase: %v", err)
		}
	}
	wantCounts := map[string]int{"users": 5, "posts": 7, "comments": 6, "orders": 6}
	for run := 1; run <= 2; run++ {
		if err := SeedDemo(ctx, pg.URI("demo")); err != nil {
			t.Fatalf("SeedDemo run %d: %v", run, err)
		}
		conn := connect(t, pg.URI("demo"))
		for table, want := range wantCounts {
			var got int
			if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("run %d: %s rows: got %d, want %d", run, table, got, want)
			}
		}
	}

	conn := connect(t, pg.URI("demo"))
	rows, err := conn.Query(ctx, "SELECT title FROM posts_by_status($1)", "published")
	if err != nil {
		t.Fatal(err)
	}
	titles, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if len(titles) != 4 {
		t.Errorf("posts_by_status('published'): got %v, want 4 titles", titles)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO posts (title, status) VALUES ('x', 'bogus')"); err == nil {
		t.Error("insert with status 'bogus': got no error, want check violation")
	}
	var orderID string
	if err := conn.QueryRow(ctx, "INSERT INTO orders (amount) VALUES (1.5) RETURNING id::text").Scan(&orderID); err != nil || len(orderID) != 36 {
		t.Errorf("insert order: got id %q err %v, want a generated uuid", orderID, err)
	}
	conn.Close(ctx)

	if err := pg.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertDown(t, port, dir)
	if err := pg.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestStartPostgresReusesCluster(t *testing.T) {
	dir, port := clusterDir(t), freePort(t)
	ctx := context.Background()

	first := startPostgres(t, dir, port)
	if err := first.EnsureDatabase(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	versionFile := filepath.Join(dir, "data", "PG_VERSION")
	before, err := os.Stat(versionFile)
	if err != nil {
		t.Fatal(err)
	}

	second := startPostgres(t, dir, port)
	var exists bool
	if err := connect(t, second.URI("postgres")).QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'kept')").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists {
		t.Error("database created before the restart: got missing, want kept")
	}
	after, err := os.Stat(versionFile)
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Error("PG_VERSION rewritten: initdb ran again on an existing cluster")
	}
}

func TestStartPostgresLeavesServerItDidNotStart(t *testing.T) {
	dir, port := clusterDir(t), freePort(t)
	ctx := context.Background()
	owner := startPostgres(t, dir, port)

	// Asking for another port still finds the running server on its own port.
	reuser := startPostgres(t, dir, freePort(t))
	if got := reuser.Port(); got != port {
		t.Errorf("reused server port: got %d, want %d", got, port)
	}
	if err := reuser.Stop(ctx); err != nil {
		t.Fatalf("Stop on reused server: %v", err)
	}
	if err := connect(t, owner.URI("postgres")).Ping(ctx); err != nil {
		t.Fatalf("server after the reusing side stopped: got %v, want still running", err)
	}
	if err := owner.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertDown(t, port, dir)
}

// TestStartPostgresAdoptsLeftoverServer: a server left running by a process
// that died without stopping it (a second Ctrl-C, kill -9) is reused by the
// next start of the same folder and stopped by its Stop.
func TestStartPostgresAdoptsLeftoverServer(t *testing.T) {
	dir, port := clusterDir(t), freePort(t)
	ctx := context.Background()
	dead := startPostgres(t, dir, port)
	// What the kernel does when the owning process dies: its lock goes, the
	// server stays.
	dead.mu.Lock()
	dead.started = false
	dead.disown()
	dead.mu.Unlock()

	next := startPostgres(t, dir, freePort(t))
	if got := next.Port(); got != port {
		t.Errorf("adopted server port: got %d, want %d", got, port)
	}
	if err := connect(t, next.URI("postgres")).Ping(ctx); err != nil {
		t.Fatalf("ping adopted server: %v", err)
	}
	if err := next.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	assertDown(t, port, next.Dir())

	// Once stopped, the folder starts cleanly again.
	again := startPostgres(t, dir, port)
	if err := connect(t, again.URI("postgres")).Ping(ctx); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
}

func TestStartPostgresPortTakenBySomethingElse(t *testing.T) {
	dir := clusterDir(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	pg, err := StartPostgres(context.Background(), PostgresOptions{Dir: dir, Port: port, Log: testLogger(t), Install: os.Geteuid() == 0})
	if err == nil {
		t.Cleanup(func() { _ = pg.Stop(context.Background()) })
		t.Fatal("StartPostgres on a taken port: got no error")
	}
	if !strings.Contains(err.Error(), "already in use") {
		t.Errorf("error: got %q, want it to say the port is already in use", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "postmaster.pid")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("postmaster.pid after failed start: got err %v, want not exist", err)
	}
}

func TestStartPostgresRemovesStalePIDFile(t *testing.T) {
	dir, port := clusterDir(t), freePort(t)
	ctx := context.Background()
	first := startPostgres(t, dir, port)
	if err := first.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// A pid file naming a live process that is not a server on this cluster,
	// as after a reboot that handed the pid to something else.
	pidFile := filepath.Join(dir, "data", "postmaster.pid")
	stale := fmt.Sprintf("%d\n%s\n1700000000\n%d\n\n127.0.0.1\n0 0\nready   \n", os.Getpid(), filepath.Join(dir, "data"), port)
	if err := os.WriteFile(pidFile, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}

	second := startPostgres(t, dir, port)
	if err := connect(t, second.URI("postgres")).Ping(ctx); err != nil {
		t.Fatalf("ping after stale pid file: %v", err)
	}
}

func TestURI(t *testing.T) {
	pg := &LocalPostgres{port: 55432}
	tests := []struct {
		give string
		want string
	}{
		{give: "demo", want: "postgres://postgres@127.0.0.1:55432/demo?sslmode=disable"},
		{give: "my db", want: "postgres://postgres@127.0.0.1:55432/my%20db?sslmode=disable"},
	}
	for _, tt := range tests {
		if got := pg.URI(tt.give); got != tt.want {
			t.Errorf("URI(%q): got %s, want %s", tt.give, got, tt.want)
		}
	}
}

// TestStartPostgresUnreachableDirAsRoot: a project under a 0700 directory
// (a clone under /root) gets its cluster in a directory the postgres user
// owns, keyed by the project path, and the user's directory keeps its mode.
func TestStartPostgresUnreachableDirAsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root hands the cluster to the postgres user")
	}
	home := t.TempDir() // owned by root
	if err := os.Chmod(home, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, "clone", ".athena", "pg")
	moved := ClusterDirFor(dir)
	t.Cleanup(func() { _ = os.RemoveAll(moved) })
	ctx := context.Background()
	port := freePort(t)

	pg := startPostgres(t, dir, port)
	if got := pg.Dir(); got != moved || !strings.HasPrefix(got, RootClusterBase+"/") {
		t.Errorf("Dir: got %s, want %s under %s", got, moved, RootClusterBase)
	}
	if err := connect(t, pg.URI("postgres")).Ping(ctx); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := pg.EnsureDatabase(ctx, "kept"); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(moved)
	if err != nil {
		t.Fatal(err)
	}
	if st := info.Sys().(*syscall.Stat_t); int(st.Uid) != int(pg.cred.Uid) || info.Mode().Perm() != 0o700 {
		t.Errorf("%s: got uid %d mode %v, want the postgres user's (uid %d) and 0700", moved, st.Uid, info.Mode().Perm(), pg.cred.Uid)
	}
	if err := pg.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	assertDown(t, port, moved)

	// The next start of the same project finds the same cluster.
	again := startPostgres(t, dir, port)
	var exists bool
	if err := connect(t, again.URI("postgres")).QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'kept')").Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if !exists || again.Dir() != moved {
		t.Errorf("second start: got dir %s, database kept %v; want %s and true", again.Dir(), exists, moved)
	}
	if info, err := os.Stat(home); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("%s after start: got %v %v, want mode 0700 unchanged", home, info.Mode().Perm(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s/data: got err %v, want no cluster in the unreachable directory", dir, err)
	}
}

func TestClusterDirFor(t *testing.T) {
	a, b := ClusterDirFor("/root/one/.athena/pg"), ClusterDirFor("/root/two/.athena/pg")
	if a == b || filepath.Dir(a) != RootClusterBase || a != ClusterDirFor("/root/one/.athena/pg") {
		t.Errorf("ClusterDirFor: got %s and %s, want distinct stable directories under %s", a, b, RootClusterBase)
	}
}
