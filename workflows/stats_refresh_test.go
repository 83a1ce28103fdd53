package workflows_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/mock"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/orchestration/orchestrationtest"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/postgres/postgrestest"
	"github.com/athena-gateway/athena/registry/registrytest"
	"github.com/athena-gateway/athena/workflows"
)

func TestStatsRefreshReturnsTheActivityCounts(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	var info activity.Info
	env.OnActivity(a.RebuildStats, mock.Anything).Return(func(ctx context.Context) (activities.RebuildStatsResult, error) {
		info = activity.GetInfo(ctx)
		return activities.RebuildStatsResult{Clients: 3, Tables: 7}, nil
	})
	env.ExecuteWorkflow(workflows.StatsRefresh, workflows.StatsRefreshInput{})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.StatsRefreshResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if res != (workflows.StatsRefreshResult{Clients: 3, Tables: 7}) {
		t.Errorf("result %+v, want 3 clients and 7 tables", res)
	}
	// The activity heartbeats every RebuildStatsHeartbeat: a heartbeat
	// timeout shorter than that would fail every long rebuild.
	if info.HeartbeatTimeout <= activities.RebuildStatsHeartbeat || info.StartToCloseTimeout < info.HeartbeatTimeout {
		t.Errorf("activity options: heartbeat timeout %s, start-to-close %s", info.HeartbeatTimeout, info.StartToCloseTimeout)
	}
}

func TestStatsRefreshRetriesAFailedRebuild(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	var a *activities.Activities

	env := s.NewTestWorkflowEnvironment()
	calls := 0
	env.OnActivity(a.RebuildStats, mock.Anything).Return(func(context.Context) (activities.RebuildStatsResult, error) {
		calls++
		if calls == 1 {
			return activities.RebuildStatsResult{}, errors.New("logging database down")
		}
		return activities.RebuildStatsResult{Clients: 2, Tables: 3}, nil
	})
	env.ExecuteWorkflow(workflows.StatsRefresh, workflows.StatsRefreshInput{})
	var res workflows.StatsRefreshResult
	if err := env.GetWorkflowError(); err != nil || calls != 2 {
		t.Fatalf("err %v after %d calls; want success on the 2nd", err, calls)
	}
	if err := env.GetWorkflowResult(&res); err != nil || res != (workflows.StatsRefreshResult{Clients: 2, Tables: 3}) {
		t.Fatalf("result %+v (%v), want the second attempt's counts", res, err)
	}

	// A rebuild that keeps failing gives up after a bounded number of
	// attempts instead of rescanning the logs forever.
	env = s.NewTestWorkflowEnvironment()
	calls = 0
	env.OnActivity(a.RebuildStats, mock.Anything).Return(func(context.Context) (activities.RebuildStatsResult, error) {
		calls++
		return activities.RebuildStatsResult{}, errors.New("logging database down")
	})
	env.ExecuteWorkflow(workflows.StatsRefresh, workflows.StatsRefreshInput{})
	if err := env.GetWorkflowError(); err == nil || calls != 5 {
		t.Fatalf("err %v after %d calls; want failure after 5 attempts", err, calls)
	}

	// Without a logging database retrying cannot help.
	env = s.NewTestWorkflowEnvironment()
	calls = 0
	env.OnActivity(a.RebuildStats, mock.Anything).Return(func(context.Context) (activities.RebuildStatsResult, error) {
		calls++
		return activities.RebuildStatsResult{}, temporal.NewNonRetryableApplicationError("no control plane", activities.ErrTypeNoControlPlane, nil)
	})
	env.ExecuteWorkflow(workflows.StatsRefresh, workflows.StatsRefreshInput{})
	var appErr *temporal.ApplicationError
	if err := env.GetWorkflowError(); !errors.As(err, &appErr) || appErr.Type() != activities.ErrTypeNoControlPlane || calls != 1 {
		t.Fatalf("err %v after %d calls; want one attempt and a %s error", err, calls, activities.ErrTypeNoControlPlane)
	}
}

func TestStatsRefreshStartOptions(t *testing.T) {
	o := workflows.StatsRefreshStartOptions()
	if o.ID != "stats-refresh/all" || o.ID != workflows.StatsRefreshID(workflows.StatsRefreshScopeAll) || o.TaskQueue != workflows.TaskQueueStats {
		t.Errorf("id %q on %q, want stats-refresh/all on %q", o.ID, o.TaskQueue, workflows.TaskQueueStats)
	}
	if o.WorkflowIDConflictPolicy != enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING || o.WorkflowIDReusePolicy != enumspb.WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE || o.WorkflowExecutionErrorWhenAlreadyStarted {
		t.Errorf("policies: conflict %s, reuse %s, error when started %v", o.WorkflowIDConflictPolicy, o.WorkflowIDReusePolicy, o.WorkflowExecutionErrorWhenAlreadyStarted)
	}
}

// insertStatsLogs writes request and operation log rows for two clients
// (and one request without a client, which has no statistics), and
// statistics that disagree with them.
func insertStatsLogs(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO gateway_request_log (request_id, created_at, client, method, path, status_code, duration_ms, cached) VALUES
		('r1', '2026-01-01T00:00:00Z', 'shop', 'POST', '/gateway/fetch', 200, 1, true),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'POST', '/gateway/insert', 409, 1, false),
		('r3', '2026-01-01T00:02:00Z', 'shop', 'POST', '/gateway/fetch', 200, 1, false),
		('r4', '2026-01-01T00:03:00Z', 'blog', 'POST', '/gateway/fetch', 500, 1, false),
		('r5', '2026-01-01T00:04:00Z', NULL, 'GET', '/health', 200, 1, false)`); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO gateway_operation_log (request_id, created_at, client_name, operation, table_name, status_code, duration_ms) VALUES
		('r1', '2026-01-01T00:00:00Z', 'shop', 'fetch', 'users', 200, 1),
		('r2', '2026-01-01T00:01:00Z', 'shop', 'insert', 'users', 409, 1),
		('r3', '2026-01-01T00:02:00Z', 'shop', 'fetch', 'users', 200, 1),
		('r4', '2026-01-01T00:03:00Z', 'blog', 'fetch', 'posts', 500, 1)`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if _, err := postgres.NewStatsStore(pool).Apply(ctx, "wrong/1", gateway.StatsDelta{
		Clients: []gateway.ClientStatsDelta{{Client: "shop", StatsCounts: gateway.StatsCounts{Total: 1000, Successful: 1000, LastRequestAt: at}}, {Client: "ghost", StatsCounts: gateway.StatsCounts{Total: 99, Failed: 99, LastRequestAt: at}}},
		Tables:  []gateway.TableStatsDelta{{Client: "ghost", Table: "t", Operation: "fetch", StatsCounts: gateway.StatsCounts{Total: 99, Failed: 99, LastRequestAt: at}}},
	}); err != nil {
		t.Fatal(err)
	}
}

// rebuiltStats is statsSnapshot after a rebuild over insertStatsLogs' logs.
var rebuiltStats = []string{
	"blog 1/0/1/0",
	"blog posts fetch 1/0/1/0",
	"shop 3/2/1/1",
	"shop users fetch 2/2/0/1",
	"shop users insert 1/0/1/0",
}

// TestStatsRefreshEndToEnd runs StatsRefresh on the in-process Temporal
// server against the real logging database, started with the options the
// gateway uses: a start while a rebuild runs joins it, a start after it
// closed runs a new rebuild.
func TestStatsRefreshEndToEnd(t *testing.T) {
	reg := registrytest.ControlPlane(t) // registered first: closed after the worker stops
	h := orchestrationtest.NewHarness(t, orchestrationtest.Options{Activities: activities.New("harness", reg)})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := reg.ControlPlane()
	insertStatsLogs(t, pool)

	// Hold the statistics tables so the first rebuild cannot finish while
	// the second start arrives.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "LOCK TABLE client_statistics IN EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	start := func() client.WorkflowRun {
		t.Helper()
		run, err := h.Client.ExecuteWorkflow(ctx, workflows.StatsRefreshStartOptions(), workflows.StatsRefresh, workflows.StatsRefreshInput{})
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	first, second := start(), start()
	if first.GetID() != "stats-refresh/all" || second.GetID() != first.GetID() || second.GetRunID() != first.GetRunID() {
		t.Fatalf("second start: %s/%s, want to join %s/%s", second.GetID(), second.GetRunID(), first.GetID(), first.GetRunID())
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	for i, run := range []client.WorkflowRun{first, second} {
		var res workflows.StatsRefreshResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if res != (workflows.StatsRefreshResult{Clients: 2, Tables: 3}) {
			t.Errorf("run %d: %+v, want 2 clients and 3 tables", i, res)
		}
	}
	if got := postgrestest.StatsLines(t, pool); !slices.Equal(got, rebuiltStats) {
		t.Errorf("statistics after the rebuild:\n%q\nwant\n%q", got, rebuiltStats)
	}

	third := start()
	if third.GetRunID() == first.GetRunID() {
		t.Fatalf("a start after the rebuild closed joined it (run %s)", third.GetRunID())
	}
	if err := third.Get(ctx, nil); err != nil {
		t.Fatal(err)
	}
}
