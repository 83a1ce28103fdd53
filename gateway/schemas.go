package gateway

import "strings"

// DefaultExposedSchemas are the schemas a client's fetch, insert, update,
// delete, embeds and RPC reach when its configuration names none (spec
// §1.1, "Exposed schemas"; PostgREST's db-schemas).
var DefaultExposedSchemas = []string{"public"}

// SystemSchema reports whether schema is one that is never exposed,
// whatever the configuration says: PostgreSQL's catalogs (pg_catalog,
// pg_toast and every other pg_ name, which PostgreSQL reserves for
// itself, temporary schemas included), information_schema, and Athena's
// own athena schema. Reading them would hand out password hashes and
// server internals; raw SQL (gateway.query right) is the one door to them.
func SystemSchema(schema string) bool {
	s := strings.ToLower(schema)
	return strings.HasPrefix(s, "pg_") || s == "information_schema" || s == "athena"
}
