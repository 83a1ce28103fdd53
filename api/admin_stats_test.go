package api

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

func TestAdminStatistics(t *testing.T) {
	h := newControlPlaneHarness(t)
	ctx := context.Background()
	pool := h.reg.ControlPlane()
	st := postgres.NewStatsStore(pool)
	at := time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)
	if _, err := st.Apply(ctx, "p/1", postgres.StatsDelta{
		Clients: []postgres.ClientStatsDelta{{Client: "test", Total: 10, Successful: 8, Failed: 2, Cached: 4, LastRequestAt: at}},
		Tables: []postgres.TableStatsDelta{
			{Client: "test", Table: "users", Operation: "fetch", Total: 7, Successful: 6, Failed: 1, Cached: 4, LastRequestAt: at},
			{Client: "test", Table: "users", Operation: "insert", Total: 3, Successful: 2, Failed: 1, LastRequestAt: at},
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
	r = h.do("POST", "/admin/clients/statistics/refresh", "", "").want(t, 200)
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
	h.engine = New(h.reg, Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Auth: AuthDeps{Auth: a}}, slog.New(slog.DiscardHandler))
	h.do("GET", "/admin/clients/statistics", "", "").want(t, 503)
}
