package orchestration

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"

	"github.com/athena-gateway/athena/activities"
	"github.com/athena-gateway/athena/workflows"
)

// Identity is the name a worker process reports to the server and in Ping
// answers: "<pid>@<hostname>", like the SDK's default.
func Identity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	return fmt.Sprintf("%d@%s", os.Getpid(), host)
}

// WorkerOptions configures NewWorker. Zero values pick the defaults.
type WorkerOptions struct {
	// Identity is reported to the server (default Identity()).
	Identity string
	// Queues to poll, each with its own workflows and activities (default
	// workflows.Queues(): every task queue that has work).
	Queues []workflows.Queue
	// OnFatalError is called (once per SDK worker) when the SDK gives up on a
	// worker, e.g. because its namespace was deleted. The process should end:
	// app wires it to a shutdown with a non-zero exit code.
	OnFatalError func(error)
	// MinBackoff and MaxBackoff bound the wait between attempts to reach the
	// server at start (default 500ms and 30s, doubling).
	MinBackoff, MaxBackoff time.Duration
	// StopTimeout is how long Stop lets running activities finish before
	// cancelling them (default 10s).
	StopTimeout time.Duration
	// Log receives start, retry and stop lines. Nil discards.
	Log *slog.Logger
	// Pacing limits the activities of a task queue, by name (the deferred
	// queue: app sets it from the deferred section). Zero fields keep the
	// SDK's defaults.
	Pacing map[string]Pacing
}

// Pacing is how fast a task queue's activities run.
type Pacing struct {
	// MaxConcurrentActivities is this worker's slots for the queue's
	// activities.
	MaxConcurrentActivities int
	// ActivitiesPerSecond is the task queue's rate across all its workers,
	// enforced by the Temporal server (worker option
	// TaskQueueActivitiesPerSecond).
	ActivitiesPerSecond float64
}

// Worker runs one SDK worker per task queue with work, each registering
// only that queue's workflows and activities (workflows.Queues); a queue
// without work is not polled. Start does not block: when the server is unreachable the worker
// keeps trying, with backoff, and logs each failure, so `athena worker` can
// start before Temporal does.
type Worker struct {
	client client.Client
	acts   *activities.Activities
	opts   WorkerOptions

	ready chan struct{} // closed once every task queue is polled

	mu      sync.Mutex
	cancel  context.CancelFunc
	done    chan struct{} // closed when the start loop has returned
	workers []worker.Worker
}

// NewWorker returns a worker that is not started yet.
func NewWorker(c client.Client, acts *activities.Activities, opts WorkerOptions) *Worker {
	if opts.Identity == "" {
		opts.Identity = Identity()
	}
	if len(opts.Queues) == 0 {
		opts.Queues = workflows.Queues()
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Worker{client: c, acts: acts, opts: opts, ready: make(chan struct{})}
}

// Ready is closed once the worker polls every one of its task queues.
func (w *Worker) Ready() <-chan struct{} { return w.ready }

// Start begins connecting in the background and returns at once. It is an
// error to start a worker twice.
func (w *Worker) Start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != nil {
		return errors.New("temporal worker already started")
	}
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	w.done = make(chan struct{})
	go w.run(ctx)
	return nil
}

// run tries to start the SDK workers until it succeeds or Stop is called.
func (w *Worker) run(ctx context.Context) {
	defer close(w.done)
	backoff := w.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		err := w.startAll(ctx)
		if err == nil {
			w.opts.Log.Info("temporal worker polling", "task_queues", w.queueNames(), "identity", w.opts.Identity)
			close(w.ready)
			return
		}
		if ctx.Err() != nil {
			return
		}
		w.opts.Log.Warn("temporal worker cannot start yet; retrying", "err", err, "attempt", attempt, "retry_in", backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, w.opts.MaxBackoff)
	}
}

// queueNames lists the task queues the worker polls, for logs.
func (w *Worker) queueNames() []string {
	names := make([]string, len(w.opts.Queues))
	for i, q := range w.opts.Queues {
		names[i] = q.Name
	}
	return names
}

// startAll starts one SDK worker per task queue, or none: a failure stops
// those already started so the next attempt begins clean (an SDK worker
// cannot be started twice).
func (w *Worker) startAll(ctx context.Context) error {
	if err := CheckHealth(ctx, w.client); err != nil {
		return err
	}
	started := make([]worker.Worker, 0, len(w.opts.Queues))
	for _, q := range w.opts.Queues {
		p := w.opts.Pacing[q.Name]
		sw := worker.New(w.client, q.Name, worker.Options{
			Identity:                           w.opts.Identity,
			WorkerStopTimeout:                  w.opts.StopTimeout,
			OnFatalError:                       w.fatal(q.Name),
			MaxConcurrentActivityExecutionSize: p.MaxConcurrentActivities,
			TaskQueueActivitiesPerSecond:       p.ActivitiesPerSecond,
		})
		q.Register(sw, w.acts)
		if err := sw.Start(); err != nil {
			stopAll(started)
			return fmt.Errorf("start worker on task queue %s: %w", q.Name, err)
		}
		started = append(started, sw)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ctx.Err() != nil { // Stop was called meanwhile
		stopAll(started)
		return ctx.Err()
	}
	w.workers = started
	return nil
}

func (w *Worker) fatal(queue string) func(error) {
	return func(err error) {
		w.opts.Log.Error("temporal worker failed", "task_queue", queue, "err", err)
		if w.opts.OnFatalError != nil {
			w.opts.OnFatalError(err)
		}
	}
}

// Stop ends the start loop and stops every SDK worker, waiting for running
// activity and workflow tasks to finish. It is safe to call more than once
// and on a worker that never started.
func (w *Worker) Stop() {
	w.mu.Lock()
	cancel, done := w.cancel, w.done
	w.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	w.mu.Lock()
	workers := w.workers
	w.workers = nil
	w.mu.Unlock()
	if len(workers) > 0 {
		w.opts.Log.Info("stopping temporal worker")
		stopAll(workers)
	}
}

// stopAll stops workers in parallel: each Stop waits for its own tasks.
func stopAll(workers []worker.Worker) {
	var wg sync.WaitGroup
	for _, sw := range workers {
		wg.Go(sw.Stop)
	}
	wg.Wait()
}
