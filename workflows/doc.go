// Package workflows holds Athena's deterministic orchestration: the Temporal
// workflow functions, the task-queue names they run on and the helpers that
// build their workflow IDs.
//
// Everything here runs inside the Temporal workflow sandbox, so it must be
// deterministic: no I/O, no time.Now, no goroutines, no map iteration that
// affects commands, no global state. Side effects live in package activities
// and are called through a nil *activities.Activities, e.g.
//
//	var a *activities.Activities
//	workflow.ExecuteActivity(ctx, a.Ping, in)
//
// `make lint` runs workflowcheck over this package to enforce that.
//
// Queues (queues.go) is the one table of which task queue runs which
// workflows and activities; a new workflow or activity gets its entry there,
// or no worker runs it. Every workflow has a recorded history under
// testdata/ that TestReplayHistories replays against today's code: a change
// that no longer replays it (an activity added, removed, reordered or
// renamed, a timer, …) must go behind workflow.GetVersion, keeping the old
// history and recording a new one beside it:
//
//	go test ./workflows -run TestRecordHistories -record
package workflows
