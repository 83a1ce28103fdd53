package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/fx"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/orchestration"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/postgres/postgrestest"
	"github.com/athena-gateway/athena/registry"
)

// TestStatsRefreshThroughTheGateway runs the dev role (gateway, worker,
// in-process Temporal server, real logging database): POST
// /admin/clients/statistics/refresh starts the StatsRefresh workflow
// through the gateway's own wiring, the worker rebuilds the statistics
// from the logs, and wait=true answers with the counts.
func TestStatsRefreshThroughTheGateway(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	const adminKey = "stats-refresh-admin-key-0123456789"
	t.Setenv("ATHENA_ADMIN_KEY", adminKey)
	uri := postgrestest.SchemaURL(t)
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	cfg := config.Default()
	cfg.API.Host, cfg.API.Port = "127.0.0.1", 0
	cfg.Temporal.Address, cfg.Temporal.Namespace = ts.GetFrontendHostPort(), ts.GetDefaultNamespace()
	cfg.Telemetry.Enabled = false // no request logs of our own requests, no flushes
	cfg.ControlPlane.PollInterval = time.Minute
	cfg.Clients = map[string]config.Client{config.DefaultControlPlaneClient: {URI: uri}}

	var engine *gin.Engine
	var w *orchestration.Worker
	var reg *registry.Registry
	a := fx.New(Dev(testParams(cfg)), fx.Populate(&engine, &w, &reg))
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second) // deadlock guard only
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer scancel()
		if err := a.Stop(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	select {
	case <-w.Ready():
	case <-ctx.Done():
		t.Fatal("worker did not start")
	}

	pool := reg.ControlPlane()
	if pool == nil {
		t.Fatal("no logging database")
	}
	if _, err := pool.Exec(ctx, `INSERT INTO gateway_request_log (request_id, created_at, client, method, path, status_code, duration_ms, cached) VALUES
		('r1', '2026-01-01T00:00:00Z', 'shop', 'POST', '/gateway/fetch', 200, 1, true),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'POST', '/gateway/insert', 409, 1, false),
		('r3', '2026-01-01T00:02:00Z', 'shop', 'POST', '/gateway/fetch', 200, 1, false),
		('r4', '2026-01-01T00:03:00Z', 'blog', 'POST', '/gateway/fetch', 500, 1, false)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO gateway_operation_log (request_id, created_at, client_name, operation, table_name, status_code, duration_ms) VALUES
		('r1', '2026-01-01T00:00:00Z', 'shop', 'fetch', 'users', 200, 1),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'insert', 'users', 409, 1),
		('r3', '2026-01-01T00:02:00Z', 'shop', 'fetch', 'users', 200, 1),
		('r4', '2026-01-01T00:03:00Z', 'blog', 'fetch', 'posts', 500, 1)`); err != nil {
		t.Fatal(err)
	}
	// Statistics that disagree with the logs, as after lost flushes.
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if _, err := postgres.NewStatsStore(pool).Apply(ctx, "wrong/1", gateway.StatsDelta{
		Clients: []gateway.ClientStatsDelta{{Client: "shop", StatsCounts: gateway.StatsCounts{Total: 1000, Successful: 1000, LastRequestAt: at}}, {Client: "ghost", StatsCounts: gateway.StatsCounts{Total: 9, Failed: 9, LastRequestAt: at}}},
		Tables:  []gateway.TableStatsDelta{{Client: "ghost", Table: "t", Operation: "fetch", StatsCounts: gateway.StatsCounts{Total: 9, Failed: 9, LastRequestAt: at}}},
	}); err != nil {
		t.Fatal(err)
	}

	type answer struct {
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	post := func(path string, want int) answer {
		t.Helper()
		req := httptest.NewRequest("POST", path, nil).WithContext(ctx)
		req.Header.Set("X-Athena-Admin-Key", adminKey)
		rec := httptest.NewRecorder()
		engine.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("POST %s: got %d, want %d; body %s", path, rec.Code, want, rec.Body)
		}
		var ans answer
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&ans); err != nil {
			t.Fatalf("POST %s: %v in %s", path, err, rec.Body)
		}
		return ans
	}

	done := post("/admin/clients/statistics/refresh?wait=true", 200)
	if done.Data["clients"] != json.Number("2") || done.Data["tables"] != json.Number("3") || done.Data["workflow_id"] != "stats-refresh/all" || done.Data["run_id"] == "" {
		t.Errorf("wait=true answer: %+v", done)
	}
	want := []string{
		"blog 1/0/1/0",
		"blog posts fetch 1/0/1/0",
		"shop 3/2/1/1",
		"shop users fetch 2/2/0/1",
		"shop users insert 1/0/1/0",
	}
	if got := postgrestest.StatsLines(t, pool); !slices.Equal(got, want) {
		t.Errorf("statistics after the refresh:\n%q\nwant\n%q", got, want)
	}

	// Without wait the answer names a new run (the first one has closed),
	// which completes on its own.
	started := post("/admin/clients/statistics/refresh", 202)
	runID, _ := started.Data["run_id"].(string)
	if started.Data["workflow_id"] != "stats-refresh/all" || runID == "" || runID == done.Data["run_id"] || !strings.Contains(started.Message, "Temporal UI") {
		t.Fatalf("202 answer: %+v", started)
	}
	if err := ts.GetDefaultClient().GetWorkflow(ctx, "stats-refresh/all", runID).Get(ctx, nil); err != nil {
		t.Fatalf("run %s: %v", runID, err)
	}
}

// TestStatsRefreshWithoutTemporal: the gateway (serve role) whose Temporal
// server is down answers the refresh with 503 and Retry-After, naming
// Temporal without its address.
func TestStatsRefreshWithoutTemporal(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	const adminKey = "stats-refresh-admin-key-0123456789"
	t.Setenv("ATHENA_ADMIN_KEY", adminKey)
	uri := postgrestest.SchemaURL(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.API.Host, cfg.API.Port = "127.0.0.1", 0
	cfg.Temporal.Address = ln.Addr().String()
	ln.Close() // nothing listens there any more
	cfg.Telemetry.Enabled = false
	cfg.ControlPlane.PollInterval = time.Minute
	cfg.Clients = map[string]config.Client{config.DefaultControlPlaneClient: {URI: uri}}

	var engine *gin.Engine
	a := fx.New(Serve(testParams(cfg)), fx.Populate(&engine))
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second) // deadlock guard only
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer scancel()
		if err := a.Stop(sctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	req := httptest.NewRequest("POST", "/admin/clients/statistics/refresh?wait=true", nil).WithContext(ctx)
	req.Header.Set("X-Athena-Admin-Key", adminKey)
	rec := httptest.NewRecorder()
	engine.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(body, `"code":"backend_unavailable"`) || !strings.Contains(body, "Temporal") || strings.Contains(body, cfg.Temporal.Address) {
		t.Fatalf("got %d (Retry-After %q) %s; want 503 backend_unavailable with Retry-After, naming Temporal but not its address", rec.Code, rec.Header().Get("Retry-After"), body)
	}
}
