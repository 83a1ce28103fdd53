package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/athena-gateway/athena/gateway"
)

func statsStore(t *testing.T) (*testEnv, *StatsStore) {
	t.Helper()
	env := testDB(t)
	if _, _, err := Migrate(context.Background(), env.pool); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return env, NewStatsStore(env.pool)
}

func TestStatsApplyExactlyOnce(t *testing.T) {
	ctx := context.Background()
	_, s := statsStore(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	d := gateway.StatsDelta{
		Clients: []gateway.ClientStatsDelta{
			{Client: "shop", StatsCounts: gateway.StatsCounts{Total: 3, Successful: 2, Failed: 1, Cached: 1, LastRequestAt: at}},
			{Client: "shop", StatsCounts: gateway.StatsCounts{Total: 1, Successful: 1, LastRequestAt: at.Add(-time.Hour)}}, // repeated key: summed
		},
		Tables: []gateway.TableStatsDelta{{Client: "shop", Table: "users", Operation: "fetch", StatsCounts: gateway.StatsCounts{Total: 4, Successful: 3, Failed: 1, Cached: 1, LastRequestAt: at}}},
	}
	for i, want := range []bool{true, false} { // the retry is a no-op
		applied, err := s.Apply(ctx, "p/1", d)
		if err != nil || applied != want {
			t.Fatalf("apply %d: applied %v, %v; want %v", i, applied, err, want)
		}
	}
	if applied, err := s.Apply(ctx, "p/2", gateway.StatsDelta{Clients: []gateway.ClientStatsDelta{{Client: "shop", StatsCounts: gateway.StatsCounts{Total: 1, Failed: 1}}}}); err != nil || !applied {
		t.Fatalf("second flush: %v %v", applied, err)
	}
	list, err := s.ListClients(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}
	c := list[0]
	if c.Total != 5 || c.Successful != 3 || c.Failed != 2 || c.Cached != 1 || c.LastRequestAt == nil || !c.LastRequestAt.Equal(at) {
		t.Errorf("client row: %+v", c)
	}
	one, tables, err := s.Client(ctx, "shop")
	if err != nil || one == nil || len(tables) != 1 || tables[0].Total != 4 || tables[0].Failed != 1 {
		t.Fatalf("client: %+v %+v %v", one, tables, err)
	}
	if none, tables, err := s.Client(ctx, "nobody"); err != nil || none != nil || len(tables) != 0 {
		t.Errorf("unknown client: %+v %+v %v", none, tables, err)
	}
}

func TestStatsDrilldownAndRebuild(t *testing.T) {
	ctx := context.Background()
	env, s := statsStore(t)
	env.exec(t, `INSERT INTO gateway_request_log (request_id, created_at, client, method, path, status_code, duration_ms, cached) VALUES
		('r1', '2026-01-01T00:00:00Z', 'shop', 'POST', '/gateway/fetch', 200, 1, true),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'POST', '/gateway/fetch', 500, 1, false),
		('r3', '2026-01-01T00:02:00Z', NULL, 'GET', '/ping', 200, 1, false)`)
	env.exec(t, `INSERT INTO gateway_operation_log (request_id, created_at, client_name, operation, table_name, status_code, duration_ms) VALUES
		('r1', '2026-01-01T00:00:00Z', 'shop', 'fetch', 'users', 200, 1),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'fetch', 'users', 500, 1),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'query', NULL, 500, 1)`)
	rows, err := s.Drilldown(ctx, Drilldown{Client: "shop", Table: "users", Operation: "fetch"})
	if err != nil || len(rows) != 2 || rows[0].RequestID != "r2" {
		t.Fatalf("drilldown: %+v %v", rows, err)
	}
	rows, err = s.Drilldown(ctx, Drilldown{Client: "shop", ErrorsOnly: true, Limit: 1, Offset: 1})
	if err != nil || len(rows) != 1 || rows[0].StatusCode != 500 {
		t.Fatalf("drilldown errors: %+v %v", rows, err)
	}
	if _, err := s.Apply(ctx, "x/1", gateway.StatsDelta{Clients: []gateway.ClientStatsDelta{{Client: "stale", StatsCounts: gateway.StatsCounts{Total: 9}}}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Rebuild(ctx)
	if err != nil || res.Clients != 1 || res.Tables != 2 {
		t.Fatalf("rebuild: %+v %v", res, err)
	}
	list, err := s.ListClients(ctx)
	if err != nil || len(list) != 1 || list[0].Client != "shop" || list[0].Total != 2 || list[0].Failed != 1 || list[0].Cached != 1 {
		t.Fatalf("after rebuild: %+v %v", list, err)
	}
	_, tables, err := s.Client(ctx, "shop")
	if err != nil || len(tables) != 2 || tables[1].Table != "users" || tables[1].Total != 2 || tables[1].Cached != 1 || tables[0].Table != "" {
		t.Fatalf("tables after rebuild: %+v %v", tables, err)
	}
}
