package devstack_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/devstack"
	"github.com/athena-gateway/athena/orchestration"
	"github.com/athena-gateway/athena/workflows"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startTemporal(t *testing.T, opts devstack.TemporalOptions) *devstack.LocalTemporal {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	lt, err := devstack.StartTemporal(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("embedded temporal ready in %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := lt.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return lt
}

// runPing starts a worker against lt and runs the Ping workflow through it.
func runPing(t *testing.T, lt *devstack.LocalTemporal, id string) workflows.PingResult {
	t.Helper()
	c, err := orchestration.NewClient(config.Temporal{Address: lt.Address(), Namespace: lt.Namespace()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := orchestration.NewWorker(c, activities.New("devstack-test", nil), orchestration.WorkerOptions{Identity: "devstack-test"})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.PingID(id), TaskQueue: workflows.TaskQueueDefault},
		workflows.Ping, workflows.PingInput{Message: id})
	if err != nil {
		t.Fatal(err)
	}
	var got workflows.PingResult
	if err := run.Get(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got.Message != id || got.Worker != "devstack-test" || got.TaskQueue != workflows.TaskQueueDefault {
		t.Errorf("got %+v, want message %q from devstack-test on %s", got, id, workflows.TaskQueueDefault)
	}
	return got
}

func TestEmbeddedTemporalRunsPingAndServesUI(t *testing.T) {
	uiPort := freePort(t)
	lt := startTemporal(t, devstack.TemporalOptions{Port: freePort(t), UIPort: uiPort, Namespace: "athena-test"})
	if lt.DatabaseFile() != "" {
		t.Errorf("got database file %q, want in-memory", lt.DatabaseFile())
	}
	runPing(t, lt, "one")

	resp, err := http.Get(lt.UIURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(strings.ToLower(string(body)), "<html") {
		t.Errorf("GET %s/: got %s, want 200 with the UI's HTML", lt.UIURL(), resp.Status)
	}
}

func TestEmbeddedTemporalPersists(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	opts := devstack.TemporalOptions{Dir: dir, Persist: true, Port: port}
	ctx := context.Background()

	first, err := devstack.StartTemporal(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Stop() }) // no-op after the Stop below
	if want := filepath.Join(dir, "temporal.db"); first.DatabaseFile() != want {
		t.Errorf("got database file %q, want %q", first.DatabaseFile(), want)
	}
	runPing(t, first, "before-restart")
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}

	second := startTemporal(t, opts) // the namespace is registered again: must be idempotent
	c, err := client.Dial(client.Options{HostPort: second.Address(), Namespace: second.Namespace()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.DescribeWorkflowExecution(ctx, workflows.PingID("before-restart"), "")
	if err != nil {
		t.Fatalf("workflow from before the restart: %v", err)
	}
	if got := d.GetWorkflowExecutionInfo().GetStatus().String(); got != "Completed" {
		t.Errorf("got status %s, want Completed", got)
	}
}

func TestEmbeddedTemporalPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = devstack.StartTemporal(context.Background(), devstack.TemporalOptions{Port: freePort(t), UIPort: ln.Addr().(*net.TCPAddr).Port})
	if err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("got %v, want a port-taken error", err)
	}
}
