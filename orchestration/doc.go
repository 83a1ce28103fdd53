// Package orchestration connects Athena to Temporal: it builds the SDK client
// from configuration, checks the server's health and runs the worker: one
// SDK worker per task queue that has work (workflows.Queues), each with only
// that queue's workflows and activities registered.
//
// It is not called "temporal" so that code importing it can also import the
// SDK's go.temporal.io/sdk/temporal without an alias. Like every package
// outside app/, it knows nothing of fx: constructors take their dependencies
// and lifecycles are Start/Stop methods.
package orchestration
