package activities

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry/registrytest"
)

func TestApplyStatsIsExactlyOnce(t *testing.T) {
	reg := registrytest.ControlPlane(t)
	a := New("w", reg)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	in := ApplyStatsInput{FlushID: "proc/1", Delta: gateway.StatsDelta{
		Clients: []gateway.ClientStatsDelta{{Client: "shop", StatsCounts: gateway.StatsCounts{Total: 5, Successful: 4, Failed: 1, Cached: 2, LastRequestAt: time.Now().UTC()}}},
		Tables:  []gateway.TableStatsDelta{{Client: "shop", Table: "users", Operation: "fetch", StatsCounts: gateway.StatsCounts{Total: 5, Successful: 4, Failed: 1}}},
	}}
	for i, want := range []bool{true, false} { // the second call is the retry of an attempt that committed
		v, err := env.ExecuteActivity(a.ApplyStats, in)
		if err != nil {
			t.Fatal(err)
		}
		var got ApplyStatsResult
		if err := v.Get(&got); err != nil {
			t.Fatal(err)
		}
		if got.Applied != want {
			t.Errorf("attempt %d: applied %v, want %v", i, got.Applied, want)
		}
	}
	st := postgres.NewStatsStore(reg.ControlPlane())
	c, tables, err := st.Client(context.Background(), "shop")
	if err != nil || c == nil || c.Total != 5 || c.Failed != 1 || c.Cached != 2 || len(tables) != 1 || tables[0].Total != 5 {
		t.Fatalf("after two attempts: %+v %+v %v", c, tables, err)
	}
}

func TestApplyStatsWithoutControlPlaneIsNonRetryable(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	a := New("w", nil)
	env.RegisterActivity(a)
	_, err := env.ExecuteActivity(a.ApplyStats, ApplyStatsInput{FlushID: "p/1"})
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || !appErr.NonRetryable() || appErr.Type() != ErrTypeNoControlPlane {
		t.Fatalf("got %v, want a non-retryable %s error", err, ErrTypeNoControlPlane)
	}
	_, err = env.ExecuteActivity(a.ApplyStats, ApplyStatsInput{})
	if !errors.As(err, &appErr) || !appErr.NonRetryable() {
		t.Fatalf("empty flush id: got %v, want non-retryable", err)
	}
}
