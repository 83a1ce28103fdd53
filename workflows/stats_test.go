package workflows_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/orchestration/orchestrationtest"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry/registrytest"
	"github.com/athena-gateway/athena/workflows"
)

func sampleDelta() gateway.StatsDelta {
	at := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	return gateway.StatsDelta{
		Clients: []gateway.ClientStatsDelta{
			{Client: "shop", StatsCounts: gateway.StatsCounts{Total: 7, Successful: 5, Failed: 2, Cached: 3, LastRequestAt: at}},
			{Client: "blog", StatsCounts: gateway.StatsCounts{Total: 1, Successful: 1, LastRequestAt: at}},
		},
		Tables: []gateway.TableStatsDelta{{Client: "shop", Table: "users", Operation: "fetch", StatsCounts: gateway.StatsCounts{Total: 7, Successful: 5, Failed: 2, Cached: 3, LastRequestAt: at}}},
	}
}

func TestStatsFlushCallsTheActivityWithTheDelta(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	in := workflows.StatsFlushInput{FlushID: "proc/3", Delta: sampleDelta()}
	var got activities.ApplyStatsInput
	env.OnActivity(a.ApplyStats, mock.Anything, mock.Anything).Return(func(_ context.Context, x activities.ApplyStatsInput) (activities.ApplyStatsResult, error) {
		got = x
		return activities.ApplyStatsResult{Applied: true, Clients: len(x.Delta.Clients), Tables: len(x.Delta.Tables)}, nil
	})
	env.ExecuteWorkflow(workflows.StatsFlush, in)
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var res workflows.StatsFlushResult
	if err := env.GetWorkflowResult(&res); err != nil {
		t.Fatal(err)
	}
	if got.FlushID != "proc/3" || len(got.Delta.Clients) != 2 || got.Delta.Clients[0].Total != 7 || !got.Delta.Clients[0].LastRequestAt.Equal(in.Delta.Clients[0].LastRequestAt) {
		t.Errorf("activity got %+v", got)
	}
	if res != (workflows.StatsFlushResult{FlushID: "proc/3", Applied: true, Clients: 2, Tables: 1}) {
		t.Errorf("result %+v", res)
	}
}

func TestStatsFlushRetriesTransientErrorsOnly(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	var a *activities.Activities
	calls := 0
	env.OnActivity(a.ApplyStats, mock.Anything, mock.Anything).Return(func(context.Context, activities.ApplyStatsInput) (activities.ApplyStatsResult, error) {
		calls++
		if calls < 3 {
			return activities.ApplyStatsResult{}, errors.New("logging database down")
		}
		return activities.ApplyStatsResult{Applied: true}, nil
	})
	env.ExecuteWorkflow(workflows.StatsFlush, workflows.StatsFlushInput{FlushID: "p/1", Delta: sampleDelta()})
	if err := env.GetWorkflowError(); err != nil || calls != 3 {
		t.Fatalf("err %v after %d calls; want success on the 3rd", err, calls)
	}

	env = s.NewTestWorkflowEnvironment()
	calls = 0
	env.OnActivity(a.ApplyStats, mock.Anything, mock.Anything).Return(func(context.Context, activities.ApplyStatsInput) (activities.ApplyStatsResult, error) {
		calls++
		return activities.ApplyStatsResult{}, temporal.NewNonRetryableApplicationError("no control plane", activities.ErrTypeNoControlPlane, nil)
	})
	env.ExecuteWorkflow(workflows.StatsFlush, workflows.StatsFlushInput{FlushID: "p/2"})
	if err := env.GetWorkflowError(); err == nil || calls != 1 {
		t.Fatalf("err %v after %d calls; want one attempt and an error", err, calls)
	}
}

// TestStatsFlushEndToEnd runs StatsFlush on the in-process Temporal server
// against the real logging database, twice with one flush id (as after a
// restarted workflow): the sums count it once.
func TestStatsFlushEndToEnd(t *testing.T) {
	reg := registrytest.ControlPlane(t) // registered first: closed after the worker stops
	h := orchestrationtest.NewHarness(t, orchestrationtest.Options{Activities: activities.New("harness", reg)})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	in := workflows.StatsFlushInput{FlushID: "proc-a/1", Delta: sampleDelta()}
	for i, want := range []bool{true, false} {
		run, err := h.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:        workflows.StatsFlushID(in.FlushID),
			TaskQueue: workflows.TaskQueueStats,
		}, workflows.StatsFlush, in)
		if err != nil {
			t.Fatal(err)
		}
		var res workflows.StatsFlushResult
		if err := run.Get(ctx, &res); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		if res.Applied != want {
			t.Errorf("run %d: applied %v, want %v", i, res.Applied, want)
		}
	}
	list, err := postgres.NewStatsStore(reg.ControlPlane()).ListClients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string][4]int64{}
	for _, c := range list {
		sums[c.Client] = [4]int64{c.Total, c.Successful, c.Failed, c.Cached}
	}
	if sums["shop"] != [4]int64{7, 5, 2, 3} || sums["blog"] != [4]int64{1, 1, 0, 0} || len(sums) != 2 {
		t.Errorf("client_statistics: %v", sums)
	}
}
