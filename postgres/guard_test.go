package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/internal/testenv"
)

// guardedPool is a pool over the test database configured by
// ConfigurePool with a short statement timeout and margin.
func guardedPool(t *testing.T, opts Options) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testURL())
	if err != nil {
		t.Fatal(err)
	}
	ConfigurePool(cfg, opts)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pool.Ping(context.Background()); err != nil {
		testenv.Unavailable(t, "PostgreSQL", err)
	}
	return pool
}

// TestGuardSparesHealthyWork: the stall guard ends only silence past the
// statement timeout plus the margin. A statement that runs almost to the
// timeout completes, one past it gets the server's own timeout error (not
// a closed connection), and an idle LISTEN connection, silent by design,
// is not cut.
func TestGuardSparesHealthyWork(t *testing.T) {
	opts := Options{StatementTimeout: 600 * time.Millisecond, DeadlineMargin: 300 * time.Millisecond}
	pool := guardedPool(t, opts)
	db := New(pool, opts)
	ctx := context.Background()
	if _, err := db.Query(ctx, gateway.QueryRequest{SQL: "SELECT pg_sleep(0.4)"}); err != nil {
		t.Fatalf("a statement within the timeout: %v", err)
	}
	_, err := db.Query(ctx, gateway.QueryRequest{SQL: "SELECT pg_sleep(5)"})
	if ge := MapError(err); ge == nil || ge.Code != gateway.CodeStatementTimeout || isStalled(err) {
		t.Fatalf("a statement past the timeout: %v (stalled=%v), want the server's statement timeout", err, isStalled(err))
	}

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	failed := make(chan error, 1)
	connected := make(chan struct{}, 8)
	go func() {
		_ = NewClientStore(pool).Listen(lctx, ListenFuncs{
			Connected: func() { connected <- struct{}{} },
			Failed: func(err error) {
				select {
				case failed <- err:
				default:
				}
			},
		})
	}()
	<-connected
	// Several bounds of silence (0.9 s each, checked every watchTick).
	select {
	case err := <-failed:
		t.Fatalf("the idle listener was cut: %v", err)
	case <-time.After(3 * time.Second):
	}
}
