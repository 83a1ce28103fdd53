// Package postgres executes Athena's gateway requests against PostgreSQL
// with pgx: it turns the domain's fetch, insert, update, delete, query and
// rpc requests into SQL, runs them in one round trip where possible, and
// maps every PostgreSQL failure to a gateway.Error.
//
// Three rules hold everywhere in this package:
//
//   - Values are always bind parameters, never SQL text. Scalars travel as
//     text so PostgreSQL parses them with the column's own input function.
//   - Identifiers reach SQL only through pgx.Identifier.Sanitize, and only
//     after they were checked against catalog metadata; type names in SQL
//     come from pg_catalog (format_type) or from a fixed cast table.
//   - PostgreSQL builds the JSON (json_agg, row_to_json), so rows are handed
//     to the transport as one json.RawMessage without decoding in Go.
//
// A DB caches table metadata (columns, primary key, foreign keys) per table
// with a TTL, loads it lazily with one catalog query per table, and shares
// concurrent loads through single-flight.
package postgres
