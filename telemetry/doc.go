// Package telemetry is how Athena reports on itself: structured logs that
// carry the request's identity, the request/operation log writer, the
// per-client statistics aggregator (flushed through Temporal), the limiter
// that bounds background telemetry work, and the Prometheus metrics.
// Nothing here waits on a database in the request path: the request path
// only enqueues or adds to counters.
package telemetry
