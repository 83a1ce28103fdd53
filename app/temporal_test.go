package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.temporal.io/server/temporaltest"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/orchestration"
)

func testParams(cfg config.Config) Params {
	return Params{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func TestWorkerRoleValidates(t *testing.T) {
	if err := fx.ValidateApp(Worker(testParams(config.Default()))); err != nil {
		t.Fatalf("worker role does not validate: %v", err)
	}
}

func TestDevRoleValidates(t *testing.T) {
	if err := fx.ValidateApp(Dev(testParams(config.Default()))); err != nil {
		t.Fatalf("dev role does not validate: %v", err)
	}
}

// TestWorkerRoleStartsWithoutTemporal: a worker whose server is down starts
// (and stops) at once instead of failing or hanging; it keeps retrying.
func TestWorkerRoleStartsWithoutTemporal(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Temporal.Address = ln.Addr().String()
	ln.Close()
	a := fx.New(Worker(testParams(cfg)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// stopRecorder records the OnStop hooks fx runs, in order.
type stopRecorder struct {
	mu    sync.Mutex
	names []string
}

func (r *stopRecorder) LogEvent(e fxevent.Event) {
	if ev, ok := e.(*fxevent.OnStopExecuting); ok {
		r.mu.Lock()
		r.names = append(r.names, ev.FunctionName)
		r.mu.Unlock()
	}
}

func (r *stopRecorder) index(t *testing.T, substr string) int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, n := range r.names {
		if strings.Contains(n, substr) {
			return i
		}
	}
	t.Fatalf("no stop hook matching %q in %q", substr, r.names)
	return -1
}

func TestDevRoleShutdownOrder(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	cfg := config.Default()
	cfg.API.Host, cfg.API.Port = "127.0.0.1", 0
	cfg.Temporal.Address, cfg.Temporal.Namespace = ts.GetFrontendHostPort(), ts.GetDefaultNamespace()

	rec := &stopRecorder{}
	var w *orchestration.Worker
	a := fx.New(Dev(testParams(cfg)), fx.WithLogger(func() fxevent.Logger { return rec }), fx.Populate(&w))
	if err := a.Err(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.Ready():
	case <-ctx.Done():
		t.Fatal("worker did not start")
	}
	if err := a.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	httpAt := rec.index(t, "newHTTPServer")
	workerAt := rec.index(t, "newTemporalWorker")
	clientAt := rec.index(t, "sdk/client.Client.Close")
	registryAt := rec.index(t, "newRegistry")
	if !(httpAt < workerAt && workerAt < clientAt && workerAt < registryAt) {
		t.Errorf("stop order %q: want the HTTP server, then the worker, then the client and the pools", rec.names)
	}
}
