// Package activities holds the side effects Athena's workflows orchestrate.
// One struct, Activities, carries the pools and clients they need; each
// method is an activity. Workflows reference methods through a nil
// *Activities (the SDK only needs the method's name and signature), and the
// worker registers one real value.
//
// Activities map domain errors to temporal.NewNonRetryableApplicationError
// here, at the edge, so that workflows never retry a request that cannot
// succeed.
package activities

import (
	"time"

	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// Activities holds what activities need. Fields are added as activities are
// (the client registry for SQL, the cache, …); it is built once per worker
// process.
type Activities struct {
	// Identity names the worker process in answers (Ping) and logs.
	Identity string
	// Clients is the client registry: the pools of activities that run SQL.
	Clients *registry.Registry
	// Telemetry is the process's limiter of background telemetry work:
	// statistics activities take a slot for their transaction, so a burst
	// of flushes never holds more connections of the logging database
	// than the limiter allows. Nil: no limit.
	Telemetry *telemetry.Limiter
	// Deferred runs stored deferred requests (ExecuteDeferred); nil in a
	// worker that cannot.
	Deferred DeferredExecutor
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns the activities of a worker whose identity is identity, using
// the pools of clients (nil in tests of activities that run no SQL).
func New(identity string, clients *registry.Registry) *Activities {
	return &Activities{Identity: identity, Clients: clients}
}

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}
