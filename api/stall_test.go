package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/devstack"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/registry"
)

// stallPort is this test's private cluster (never the shared one: it is
// SIGSTOPped).
const stallPort = 55520

// privateCluster starts a PostgreSQL cluster of the test's own, stopped
// when the test ends.
func privateCluster(t *testing.T, port int) *devstack.LocalPostgres {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// The server runs as the postgres user, which must traverse it.
		if err := os.Chmod(filepath.Dir(dir), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: filepath.Join(dir, "pg"), Port: port, Install: os.Geteuid() == 0})
	if err != nil {
		t.Skipf("cannot start a private PostgreSQL cluster: %v", err)
	}
	t.Cleanup(func() { _ = pg.Stop(context.Background()) })
	return pg
}

// clusterPIDs lists the postmaster of pg and its children (the backends).
func clusterPIDs(t *testing.T, pg *devstack.LocalPostgres) []int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pg.Dir(), "data", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	master, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		t.Fatal(err)
	}
	pids := []int{master}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(master) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func signalAll(pids []int, sig syscall.Signal) {
	for _, p := range pids {
		_ = syscall.Kill(p, sig)
	}
}

// TestStalledDatabaseAnswers504Or503: a PostgreSQL that stops answering
// (SIGSTOP of the postmaster and its backends) must not hold requests for
// as long as it stays silent. With a 1s statement timeout and a 500ms
// margin, a fetch answers 504 statement_timeout (or 503 with Retry-After
// when no connection can be had) while the server is still stopped, and
// the pool serves again once it resumes.
func TestStalledDatabaseAnswers504Or503(t *testing.T) {
	pg := privateCluster(t, stallPort)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.URI("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items VALUES (1, 'a'), (2, 'b')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	gin.SetMode(gin.TestMode)
	cfg := config.Default()
	cfg.Postgres.MaxConns = 4
	cfg.Postgres.ConnectTimeout = 2 * time.Second
	cfg.Postgres.AcquireTimeout = 2 * time.Second
	cfg.Postgres.StatementTimeout = time.Second
	cfg.Postgres.DeadlineMargin = 500 * time.Millisecond
	cfg.Clients = map[string]config.Client{"stall": {URI: pg.URI("postgres")}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(cfg, log)
	t.Cleanup(reg.Close)
	srv := httptest.NewServer(New(registryDeps(reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, log))
	t.Cleanup(srv.Close)

	fetch := func() (*http.Response, error) {
		req, _ := http.NewRequest("POST", srv.URL+"/gateway/fetch", strings.NewReader(`{"table_name":"items"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Athena-Client", "stall")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	if resp, err := fetch(); err != nil || resp.StatusCode != 200 {
		t.Fatalf("warm-up fetch: %v %v", resp, err)
	}

	for _, stall := range []string{"idle connection", "after a failed call"} {
		pids := clusterPIDs(t, pg)
		signalAll(pids, syscall.SIGSTOP)
		resumed := false
		resume := func() {
			if !resumed {
				signalAll(pids, syscall.SIGCONT)
				resumed = true
			}
		}
		t.Cleanup(resume)

		type result struct {
			resp *http.Response
			err  error
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() { r, err := fetch(); done <- result{r, err} }()
		// The stall lasts up to 30s; a request still waiting then is held by
		// the silent server (not a performance bound: it only catches a hang).
		select {
		case r := <-done:
			resume()
			if r.err != nil {
				t.Fatalf("%s: fetch: %v", stall, r.err)
			}
			switch r.resp.StatusCode {
			case http.StatusGatewayTimeout:
			case http.StatusServiceUnavailable:
				if r.resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s: 503 without Retry-After", stall)
				}
			default:
				t.Errorf("%s: status %d while the database is stalled, want 504 or 503", stall, r.resp.StatusCode)
			}
			t.Logf("%s: stalled database answered %d after %.2fs", stall, r.resp.StatusCode, time.Since(start).Seconds())
		case <-time.After(30 * time.Second):
			resume()
			<-done
			t.Fatalf("%s: the request waited as long as the database stayed stopped", stall)
		}

		// Resumed, the pool serves again: broken connections were destroyed.
		ok := false
		for i := 0; i < 40 && !ok; i++ {
			resp, err := fetch()
			ok = err == nil && resp.StatusCode == 200
			if !ok {
				time.Sleep(250 * time.Millisecond)
			}
		}
		if !ok {
			t.Fatalf("%s: the pool did not recover after the database resumed", stall)
		}
	}
}
