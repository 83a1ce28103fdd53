package activities

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/postgres/postgrestest"
	"github.com/athena-gateway/athena/registry/registrytest"
	"github.com/athena-gateway/athena/telemetry"
)

func TestRebuildStatsReplacesTheStatisticsFromTheLogs(t *testing.T) {
	reg := registrytest.ControlPlane(t)
	pool := reg.ControlPlane()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO gateway_request_log (request_id, created_at, client, method, path, status_code, duration_ms, cached) VALUES
		('r1', '2026-01-01T00:00:00Z', 'shop', 'POST', '/gateway/fetch', 200, 1, true),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'POST', '/gateway/insert', 409, 1, false),
		('r3', '2026-01-01T00:02:00Z', 'blog', 'POST', '/gateway/fetch', 200, 1, false),
		('r4', '2026-01-01T00:03:00Z', NULL, 'GET', '/health', 200, 1, false)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO gateway_operation_log (request_id, created_at, client_name, operation, table_name, status_code, duration_ms) VALUES
		('r1', '2026-01-01T00:00:00Z', 'shop', 'fetch', 'users', 200, 1),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'insert', 'users', 409, 1),
		('r3', '2026-01-01T00:02:00Z', 'blog', 'fetch', 'posts', 200, 1)`); err != nil {
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

	// One telemetry slot, taken: the rebuild must wait for it.
	lim := telemetry.NewLimiter(1)
	release, err := lim.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := New("w", reg)
	a.Telemetry = lim
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	type outcome struct {
		res RebuildStatsResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		v, err := env.ExecuteActivity(a.RebuildStats)
		var o outcome
		if o.err = err; err == nil {
			o.err = v.Get(&o.res)
		}
		done <- o
	}()
	deadline := time.Now().Add(30 * time.Second) // deadlock guard only
	for lim.Waits() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the rebuild never waited for a telemetry slot")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case o := <-done:
		t.Fatalf("the rebuild ran without a telemetry slot: %+v", o)
	default:
	}
	release()
	var o outcome
	select {
	case o = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the rebuild did not finish after the slot was freed")
	}
	if o.err != nil {
		t.Fatal(o.err)
	}
	if o.res != (RebuildStatsResult{Clients: 2, Tables: 3}) {
		t.Errorf("result %+v, want 2 clients and 3 tables", o.res)
	}
	want := []string{
		"blog 1/1/0/0",
		"blog posts fetch 1/1/0/0",
		"shop 2/1/1/1",
		"shop users fetch 1/1/0/1",
		"shop users insert 1/0/1/0",
	}
	if got := postgrestest.StatsLines(t, pool); !slices.Equal(got, want) {
		t.Errorf("statistics after the rebuild:\n%q\nwant\n%q", got, want)
	}
	if lim.InFlight() != 0 {
		t.Errorf("the rebuild kept its telemetry slot (%d in flight)", lim.InFlight())
	}
}

func TestRebuildStatsWithoutControlPlaneIsNonRetryable(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := New("w", nil)
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.RebuildStats)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != ErrTypeNoControlPlane {
		t.Fatalf("got %v, want a non-retryable %s error", err, ErrTypeNoControlPlane)
	}
}
