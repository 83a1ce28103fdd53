// Package gateway is Athena's domain: the requests a client can send (fetch,
// insert, update, delete, raw query, rpc), the condition and selection grammars
// they carry, the closed set of error codes every layer answers with, and
// the values several layers pass along: statistics deltas (counted in
// telemetry, carried by workflows, applied by postgres) and client patches
// (api → registry → postgres).
//
// It imports nothing of ours. Transports (api/) decode into these types,
// adapters (postgres/) execute them, and both speak gateway.Error.
package gateway
