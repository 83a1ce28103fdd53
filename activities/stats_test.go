package activities

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

func statsTestURL() string {
	if u := os.Getenv("ATHENA_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// controlPlaneRegistry returns a started registry whose logging database
// (migrated at start) is a private schema of the test database.
func controlPlaneRegistry(t *testing.T) *registry.Registry {
	t.Helper()
	ctx := context.Background()
	var sfx [6]byte
	_, _ = rand.Read(sfx[:])
	schema := "athena_test_" + hex.EncodeToString(sfx[:])
	conn, err := pgx.Connect(ctx, statsTestURL())
	if err != nil {
		t.Skipf("PostgreSQL not reachable: %v", err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(ctx)
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), statsTestURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
	})
	sep := "&"
	if !strings.Contains(statsTestURL(), "?") {
		sep = "?"
	}
	cfg := config.Default()
	cfg.ControlPlane.PollInterval = time.Minute
	cfg.Clients = map[string]config.Client{"athena_logging": {URI: statsTestURL() + sep + "search_path=" + schema}}
	reg := registry.NewWithOptions(cfg, nil, registry.Options{Getenv: func(string) string { return "" }})
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := reg.Start(sctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	if reg.ControlPlane() == nil {
		t.Fatal("no control plane pool")
	}
	return reg
}

func TestApplyStatsIsExactlyOnce(t *testing.T) {
	reg := controlPlaneRegistry(t)
	a := New("w", reg)
	var s testsuite.WorkflowTestSuite
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	in := ApplyStatsInput{FlushID: "proc/1", Delta: telemetry.StatsDelta{
		Clients: []telemetry.ClientStatsDelta{{Client: "shop", Total: 5, Successful: 4, Failed: 1, Cached: 2, LastRequestAt: time.Now().UTC()}},
		Tables:  []telemetry.TableStatsDelta{{Client: "shop", Table: "users", Operation: "fetch", Total: 5, Successful: 4, Failed: 1}},
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
