// Package auth decides who may call Athena (spec §1.2): it parses, generates,
// hashes and verifies API keys, matches rights, and turns a presented key
// plus the enforcement configuration into a Principal or a gateway.Error
// (401 unauthorized, 403 forbidden, 503 backend_unavailable).
//
// It knows neither HTTP nor SQL: api/ reads the headers and writes the
// envelope, postgres/ implements Store over the logging database. Key records
// and the enforcement configuration are cached for a few seconds (Options.CacheTTL),
// so a revocation or a configuration change takes effect within that window
// in every process.
package auth
