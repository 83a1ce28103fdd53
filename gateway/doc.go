// Package gateway is Athena's domain: the requests a client can send (fetch,
// insert, update, delete, raw query, rpc), the condition and selection grammars
// they carry, and the closed set of error codes every layer answers with.
//
// It imports nothing of ours. Transports (api/) decode into these types,
// adapters (postgres/) execute them, and both speak gateway.Error.
package gateway
