package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/workflows"
)

func TestAdminStatistics(t *testing.T) {
	h := newControlPlaneHarness(t)
	ctx := context.Background()
	pool := h.reg.ControlPlane()
	st := postgres.NewStatsStore(pool)
	at := time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)
	if _, err := st.Apply(ctx, "p/1", gateway.StatsDelta{
		Clients: []gateway.ClientStatsDelta{{Client: "test", StatsCounts: gateway.StatsCounts{Total: 10, Successful: 8, Failed: 2, Cached: 4, LastRequestAt: at}}},
		Tables: []gateway.TableStatsDelta{
			{Client: "test", Table: "users", Operation: "fetch", StatsCounts: gateway.StatsCounts{Total: 7, Successful: 6, Failed: 1, Cached: 4, LastRequestAt: at}},
			{Client: "test", Table: "users", Operation: "insert", StatsCounts: gateway.StatsCounts{Total: 3, Successful: 2, Failed: 1, LastRequestAt: at}},
		},
	}); err != nil {
		t.Fatal(err)
	}

	rows := h.do("GET", "/admin/clients/statistics", "", "").want(t, 200).rows(t)
	if len(rows) != 1 || rows[0]["client_name"] != "test" || num(rows[0]["total_requests"]) != "10" || num(rows[0]["cached_requests"]) != "4" {
		t.Fatalf("GET /admin/clients/statistics: %v", rows)
	}
	r := h.do("GET", "/admin/clients/test/statistics", "", "").want(t, 200)
	data, _ := r.JSON["data"].(map[string]any)
	client, _ := data["client"].(map[string]any)
	tables, _ := data["tables"].([]any)
	if num(client["failed_requests"]) != "2" || len(tables) != 2 {
		t.Fatalf("GET /admin/clients/test/statistics: %s", r.Body)
	}
	if fetch, _ := tables[0].(map[string]any); fetch["operation"] != "fetch" || num(fetch["total_requests"]) != "7" {
		t.Errorf("first table row: %v", fetch)
	}
	r = h.do("GET", "/admin/clients/nobody/statistics", "", "").want(t, 200)
	if data, _ := r.JSON["data"].(map[string]any); data["client"].(map[string]any)["total_requests"] != nil && num(data["client"].(map[string]any)["total_requests"]) != "0" {
		t.Errorf("unknown client: %s", r.Body)
	}

	// Drill-down over the operation log, newest first.
	if _, err := pool.Exec(ctx, `INSERT INTO gateway_request_log (request_id, created_at, client, method, path, status_code, duration_ms, cached) VALUES
		('r1', '2026-01-01T00:00:00Z', 'test', 'POST', '/gateway/fetch', 200, 1, true),
		('r2', '2026-01-01T00:01:00Z', 'test', 'POST', '/gateway/insert', 409, 1, false)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO gateway_operation_log (request_id, created_at, client_name, operation, table_name, status_code, duration_ms) VALUES
		('r1', '2026-01-01T00:00:00Z', 'test', 'fetch', 'users', 200, 1),
		('r2', '2026-01-01T00:01:00Z', 'test', 'insert', 'users', 409, 1)`); err != nil {
		t.Fatal(err)
	}
	rows = h.do("GET", "/admin/clients/test/statistics/drilldown?table_name=users", "", "").want(t, 200).rows(t)
	if len(rows) != 2 || rows[0]["request_id"] != "r2" {
		t.Fatalf("drilldown: %v", rows)
	}
	rows = h.do("GET", "/admin/clients/test/statistics/drilldown?status=errors&operation=insert&limit=5", "", "").want(t, 200).rows(t)
	if len(rows) != 1 || num(rows[0]["status_code"]) != "409" {
		t.Fatalf("drilldown errors: %v", rows)
	}
	for _, bad := range []string{"?status=bad", "?limit=0", "?limit=x", "?offset=-1"} {
		h.do("GET", "/admin/clients/test/statistics/drilldown"+bad, "", "").want(t, 400)
	}

	// Refresh rebuilds from the logs: the applied counters are replaced.
	h.engine = h.statsRefreshEngine(inProcessRefresh(st), nil)
	r = h.do("POST", "/admin/clients/statistics/refresh?wait=true", "", "").want(t, 200)
	if data, _ := r.JSON["data"].(map[string]any); num(data["clients"]) != "1" || num(data["tables"]) != "2" {
		t.Errorf("refresh: %s", r.Body)
	}
	rows = h.do("GET", "/admin/clients/statistics", "", "").want(t, 200).rows(t)
	if len(rows) != 1 || num(rows[0]["total_requests"]) != "2" || num(rows[0]["failed_requests"]) != "1" || num(rows[0]["cached_requests"]) != "1" {
		t.Fatalf("after refresh: %v", rows)
	}

	// The statistics routes live beside /admin/clients/:name.
	h.do("PATCH", "/admin/clients/statistics", "", `{"is_active":false}`).want(t, 404)
	h.adminKey = ""
	h.do("GET", "/admin/clients/statistics", "", "").want(t, 401)
}

func TestAdminStatisticsWithoutControlPlane(t *testing.T) {
	h := newHarness(t)
	if h.reg.ControlPlane() != nil {
		t.Fatal("the plain harness has a control plane")
	}
	h.adminKey = testAdminKey
	a := auth.New(nil, auth.Options{AdminKey: testAdminKey})
	t.Cleanup(a.Close)
	h.engine = New(registryDeps(h.reg, a), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, slog.New(slog.DiscardHandler))
	h.do("GET", "/admin/clients/statistics", "", "").want(t, 503)
	// The rebuild needs the logging database too: nothing is started.
	h.engine = h.statsRefreshEngine(func(context.Context) (StatsRefreshRun, error) {
		t.Error("refresh started without a logging database")
		return nil, errors.New("unexpected")
	}, nil)
	h.do("POST", "/admin/clients/statistics/refresh", "", "").wantCode(t, 503, gateway.CodeBackendUnavailable)
}

// fakeRefreshRun is a StatsRefreshRun whose result comes from get, encoded
// as JSON like the SDK's data converter does.
type fakeRefreshRun struct {
	id, runID string
	get       func(ctx context.Context) (workflows.StatsRefreshResult, error)
}

func (r fakeRefreshRun) GetID() string    { return r.id }
func (r fakeRefreshRun) GetRunID() string { return r.runID }

func (r fakeRefreshRun) Get(ctx context.Context, valuePtr any) error {
	res, err := r.get(ctx)
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, valuePtr)
}

// inProcessRefresh is a StatsRefresher whose "workflow" rebuilds st when
// waited for, as the RebuildStats activity would.
func inProcessRefresh(st *postgres.StatsStore) StatsRefresherFunc {
	return func(context.Context) (StatsRefreshRun, error) {
		return fakeRefreshRun{id: "stats-refresh/all", runID: "run-1", get: func(ctx context.Context) (workflows.StatsRefreshResult, error) {
			r, err := st.Rebuild(ctx)
			return workflows.StatsRefreshResult{Clients: r.Clients, Tables: r.Tables}, err
		}}, nil
	}
}

// statsRefreshEngine is h's engine with refresh as Options.StatsRefresh,
// logging to log (nil: discarded).
func (h *harness) statsRefreshEngine(refresh StatsRefresherFunc, log *slog.Logger) *gin.Engine {
	h.t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := auth.New(nil, auth.Options{AdminKey: testAdminKey})
	h.t.Cleanup(a.Close)
	h.adminKey = testAdminKey
	return New(withRefresh(registryDeps(h.reg, a), refresh), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, log)
}

func TestAdminRefreshStatistics(t *testing.T) {
	h := newControlPlaneHarness(t)
	const path = "/admin/clients/statistics/refresh"
	starts := 0
	var get func(ctx context.Context) (workflows.StatsRefreshResult, error)
	refresh := func(context.Context) (StatsRefreshRun, error) {
		starts++
		return fakeRefreshRun{id: "stats-refresh/all", runID: "run-7", get: get}, nil
	}
	var logs bytes.Buffer
	h.engine = h.statsRefreshEngine(refresh, slog.New(slog.NewTextHandler(&logs, nil)))

	t.Run("started", func(t *testing.T) {
		get = func(context.Context) (workflows.StatsRefreshResult, error) {
			t.Error("waited for the workflow without wait=true")
			return workflows.StatsRefreshResult{}, nil
		}
		r := h.do("POST", path, "", "").want(t, 202)
		data, _ := r.JSON["data"].(map[string]any)
		msg, _ := r.JSON["message"].(string)
		if data["workflow_id"] != "stats-refresh/all" || data["run_id"] != "run-7" || r.JSON["status"] != "success" {
			t.Errorf("data: %s", r.Body)
		}
		if !strings.Contains(msg, "stats-refresh/all") || !strings.Contains(msg, "Temporal UI") {
			t.Errorf("message %q does not say where to watch the workflow", msg)
		}
	})

	t.Run("wait", func(t *testing.T) {
		get = func(context.Context) (workflows.StatsRefreshResult, error) {
			return workflows.StatsRefreshResult{Clients: 2, Tables: 3}, nil
		}
		r := h.do("POST", path+"?wait=true", "", "").want(t, 200)
		data, _ := r.JSON["data"].(map[string]any)
		if num(data["clients"]) != "2" || num(data["tables"]) != "3" || data["workflow_id"] != "stats-refresh/all" || data["run_id"] != "run-7" {
			t.Errorf("data: %s", r.Body)
		}
	})

	t.Run("workflow failed", func(t *testing.T) {
		get = func(context.Context) (workflows.StatsRefreshResult, error) {
			return workflows.StatsRefreshResult{}, errors.New("activity error: stats: rebuild: secret internals")
		}
		r := h.do("POST", path+"?wait=1", "", "").wantCode(t, 503, gateway.CodeBackendUnavailable)
		if r.Header.Get("Retry-After") == "" || strings.Contains(string(r.Body), "secret internals") {
			t.Errorf("Retry-After %q, body %s", r.Header.Get("Retry-After"), r.Body)
		}
		details, _ := r.JSON["data"].(map[string]any)["details"].(map[string]any)
		if details["workflow_id"] != "stats-refresh/all" || details["run_id"] != "run-7" {
			t.Errorf("details do not name the workflow: %s", r.Body)
		}
		if !strings.Contains(logs.String(), "secret internals") {
			t.Errorf("the cause is not logged: %s", logs.String())
		}
	})

	t.Run("request ends while waiting", func(t *testing.T) {
		waiting := make(chan struct{})
		get = func(ctx context.Context) (workflows.StatsRefreshResult, error) {
			close(waiting)
			<-ctx.Done()
			return workflows.StatsRefreshResult{}, ctx.Err()
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req := httptest.NewRequest("POST", path+"?wait=true", nil).WithContext(ctx)
		req.Header.Set("X-Athena-Admin-Key", testAdminKey)
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.engine.ServeHTTP(rec, req)
		}()
		select {
		case <-waiting:
		case <-time.After(30 * time.Second): // deadlock guard only
			t.Fatal("the handler never waited")
		}
		cancel()
		<-done
		if rec.Code != 202 || !strings.Contains(rec.Body.String(), "still running") || !strings.Contains(rec.Body.String(), `"run_id":"run-7"`) {
			t.Errorf("got %d %s, want 202 naming the running workflow", rec.Code, rec.Body)
		}
	})

	t.Run("bad wait", func(t *testing.T) {
		before := starts
		h.do("POST", path+"?wait=soon", "", "").wantCode(t, 400, gateway.CodeInvalidValue)
		if starts != before {
			t.Error("a bad request started the workflow")
		}
	})

	t.Run("admin only", func(t *testing.T) {
		before := starts
		h.adminKey = ""
		defer func() { h.adminKey = testAdminKey }()
		h.do("POST", path, "", "").want(t, 401)
		if starts != before {
			t.Error("an unauthenticated request started the workflow")
		}
	})

	t.Run("temporal unreachable", func(t *testing.T) {
		h.engine = h.statsRefreshEngine(func(context.Context) (StatsRefreshRun, error) {
			return nil, errors.New("dial tcp 10.9.8.7:7233: connect: connection refused")
		}, nil)
		r := h.do("POST", path+"?wait=true", "", "").wantCode(t, 503, gateway.CodeBackendUnavailable)
		if ra := r.Header.Get("Retry-After"); ra == "" || ra == "0" {
			t.Errorf("Retry-After %q", ra)
		}
		if strings.Contains(string(r.Body), "10.9.8.7") || !strings.Contains(string(r.Body), "Temporal") {
			t.Errorf("body leaks the cause or does not name Temporal: %s", r.Body)
		}
	})

	t.Run("not configured", func(t *testing.T) {
		h.engine = h.statsRefreshEngine(nil, nil)
		r := h.do("POST", path, "", "").wantCode(t, 503, gateway.CodeBackendUnavailable)
		if !strings.Contains(string(r.Body), "Temporal") {
			t.Errorf("body does not say what is missing: %s", r.Body)
		}
	})
}
