// Package orchestrationtest starts an in-process Temporal server
// (go.temporal.io/server/temporaltest) with Athena's worker polling every
// task queue that has work (workflows.Queues), for end-to-end tests of workflows and of code that starts them.
package orchestrationtest

import (
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/orchestration"
)

// readyTimeout bounds how long NewHarness waits for the worker to poll.
const readyTimeout = 30 * time.Second

// Harness is a running Temporal server plus a started worker. Everything
// stops when the test ends.
type Harness struct {
	Server *temporaltest.TestServer
	// Client talks to Server in Namespace.
	Client    client.Client
	Namespace string
	// Activities is the value the worker registered; tests may set its
	// fields (Now, …) before starting workflows.
	Activities *activities.Activities
	Worker     *orchestration.Worker
}

// Options adjusts NewHarness.
type Options struct {
	// Activities replaces the default activities (identity "harness").
	Activities *activities.Activities
}

// NewHarness starts the server and the worker and returns once the worker
// polls every task queue of workflows.Queues.
func NewHarness(t *testing.T, opts ...Options) *Harness {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	acts := o.Activities
	if acts == nil {
		acts = activities.New("harness", nil)
	}
	srv := temporaltest.NewServer(temporaltest.WithT(t)) // stops when the test ends
	c := srv.GetDefaultClient()
	w := orchestration.NewWorker(c, acts, orchestration.WorkerOptions{
		Identity:     acts.Identity,
		MinBackoff:   50 * time.Millisecond,
		MaxBackoff:   time.Second,
		OnFatalError: func(err error) { t.Errorf("temporal worker fatal error: %v", err) },
	})
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop) // runs before the server's cleanup (LIFO)
	select {
	case <-w.Ready():
	case <-time.After(readyTimeout):
		t.Fatalf("temporal worker did not poll within %s", readyTimeout)
	}
	return &Harness{Server: srv, Client: c, Namespace: srv.GetDefaultNamespace(), Activities: acts, Worker: w}
}
