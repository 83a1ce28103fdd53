// Package telemetry is how Athena reports on itself: structured logs that
// carry the request's identity, and (in later issues) request/operation
// logs, statistics and Prometheus metrics. Nothing here waits on a
// database in the request path.
package telemetry
