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
package workflows
