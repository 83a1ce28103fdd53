package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
)

// RPC calls a function with named arguments and returns its result rows as
// a JSON array, filtered, sorted and paged in the same statement. A scalar
// function yields one row whose column is named after the function.
//
// Every count mode counts exactly: planner estimates for function scans are
// fixed guesses, not estimates. The count and the rows come from one
// MATERIALIZED evaluation of the function, so a volatile function runs once.
func (db *DB) RPC(ctx context.Context, req gateway.RPCRequest) (gateway.RPCResult, error) {
	schema, err := db.rpcSchema(ctx, req)
	if err != nil {
		return gateway.RPCResult{}, err
	}
	req.Schema = schema
	arrays, err := db.rpcArrayArgs(ctx, req)
	if err != nil {
		return gateway.RPCResult{}, err
	}
	q, err := buildRPC(req, arrays)
	if err != nil {
		return gateway.RPCResult{}, err
	}
	var rows []byte
	var count *int64
	err = db.exec(ctx, stmt{q.sql, q.args, func(r pgx.Row) error { return r.Scan(&rows, &count) }})
	if err != nil {
		return gateway.RPCResult{}, fmt.Errorf("rpc rows: %w", err)
	}
	return gateway.RPCResult{Rows: rows, Count: count}, nil
}

// rpcSchemaSQL finds the first of the exposed schemas $2 holding a
// function named $1.
const rpcSchemaSQL = `
SELECT n.nspname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.proname = $1 AND n.nspname = ANY ($2::text[])
ORDER BY array_position($2::text[], n.nspname::text) LIMIT 1`

// rpcSchema returns the schema the call is made in: RPC calls only
// functions of exposed schemas (spec §1.1), always schema-qualified, so
// neither a built-in (pg_catalog is searched before anything on the
// search_path) nor a connection's search_path can decide what runs. A
// schema that is not exposed, or an unqualified name no exposed schema
// has, answers 404 unknown_function as if it did not exist. With one
// exposed schema (the default) no lookup is needed: PostgreSQL itself
// reports a missing function.
func (db *DB) rpcSchema(ctx context.Context, req gateway.RPCRequest) (string, error) {
	schemas := db.meta.schemas
	if req.Schema != "" {
		if !db.meta.exposed(req.Schema) {
			return "", unknownFunctionError(req.Schema, req.Function)
		}
		return req.Schema, nil
	}
	if len(schemas) == 1 {
		return schemas[0], nil
	}
	var schema string
	err := db.exec(ctx, stmt{rpcSchemaSQL, []any{req.Function, schemas}, func(r pgx.Row) error { return r.Scan(&schema) }})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", unknownFunctionError("", req.Function)
	}
	if err != nil {
		return "", fmt.Errorf("rpc function schema: %w", err)
	}
	return schema, nil
}

// unknownFunctionError is the 404 for a function RPC may not call, worded
// like PostgreSQL's own 42883 so SDKs read it the same way.
func unknownFunctionError(schema, function string) *gateway.Error {
	name := function
	if schema != "" {
		name = schema + "." + function
	}
	msg := "function " + name + " does not exist"
	e := &gateway.Error{Code: gateway.CodeUnknownFunction, Message: msg, Detail: msg}
	return e.WithDetail("sqlstate", "42883")
}

// rpcArgKindsSQL lists the declared kind of each named input argument of
// the functions called $1 in schema $2 (resolved by rpcSchema) among the
// names $3: 'array' for an array type, 'json' for json and jsonb, 'other'
// for anything else.
const rpcArgKindsSQL = `
SELECT coalesce(array_agg(name), '{}'), coalesce(array_agg(kind), '{}') FROM (
  SELECT DISTINCT a.name,
    CASE WHEN t.typcategory = 'A' THEN 'array'
         WHEN t.oid IN ('json'::regtype, 'jsonb'::regtype) THEN 'json'
         ELSE 'other' END AS kind
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  CROSS JOIN LATERAL unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]), p.proargnames, p.proargmodes) AS a(typ, name, mode)
  JOIN pg_type t ON t.oid = a.typ
  WHERE p.proname = $1
    AND n.nspname = $2
    AND coalesce(a.mode, 'i') IN ('i', 'b', 'v')
    AND a.name = ANY ($3)
) k`

// rpcArrayArgs returns the arguments given as JSON arrays whose parameter
// is declared with an array type: those are bound as array literals, every
// other array (json, jsonb, or a parameter overloads disagree on) as JSON
// text. A JSON array means either, so the function's declared types decide,
// not the value. The catalog is read only when some argument is an array,
// so ordinary calls keep their single round trip.
func (db *DB) rpcArrayArgs(ctx context.Context, req gateway.RPCRequest) (map[string]bool, error) {
	var names []string
	for k, v := range req.Args {
		if _, ok := v.([]any); ok {
			names = append(names, k)
		}
	}
	if len(names) == 0 {
		return nil, nil
	}
	var argNames, kinds []string
	err := db.exec(ctx, stmt{rpcArgKindsSQL, []any{req.Function, req.Schema, names}, func(r pgx.Row) error {
		return r.Scan(&argNames, &kinds)
	}})
	if err != nil {
		return nil, fmt.Errorf("rpc argument types: %w", err)
	}
	seen := map[string]int{}
	for _, n := range argNames {
		seen[n]++
	}
	arrays := map[string]bool{}
	for i, n := range argNames {
		if kinds[i] == "array" && seen[n] == 1 {
			arrays[n] = true
		}
	}
	return arrays, nil
}

// buildRPC builds the call; arrays names the arguments bound as array
// literals (see rpcArrayArgs).
func buildRPC(req gateway.RPCRequest, arrays map[string]bool) (sqlText, error) {
	const code = gateway.CodeInvalidRPCPayload
	if !gateway.ValidIdentifier(req.Function) {
		return sqlText{}, gateway.Errorf(code, "invalid function name %q", req.Function)
	}
	if req.Schema != "" && !gateway.ValidIdentifier(req.Schema) {
		return sqlText{}, gateway.Errorf(code, "invalid schema name %q", req.Schema)
	}
	for _, it := range req.Selection.Items {
		if it.Embed != nil {
			return sqlText{}, gateway.Errorf(code, "embedding %q is not supported on function results", it.Embed.Name())
		}
	}
	alias := pgx.Identifier{req.Function}.Sanitize()
	s := scope{alias: alias, code: code}
	cols, err := (&selectBuilder{}).list(s, req.Selection, 0)
	if err != nil {
		return sqlText{}, err
	}

	var b sqlBuf
	call := func() error {
		if req.Schema != "" {
			b.ident(req.Schema, req.Function)
		} else {
			b.ident(req.Function)
		}
		b.WriteByte('(')
		names := make([]string, 0, len(req.Args))
		for k := range req.Args {
			if !gateway.ValidIdentifier(k) {
				return gateway.Errorf(code, "invalid argument name %q", k)
			}
			names = append(names, k)
		}
		slices.Sort(names) // stable text → one prepared statement per shape
		for i, k := range names {
			if i > 0 {
				b.WriteString(", ")
			}
			var v any
			var err error
			if arr, ok := req.Args[k].([]any); ok && arrays[k] {
				v, err = arrayLiteral(arr)
			} else {
				v, err = textValue(req.Args[k])
			}
			if err != nil {
				return gateway.Errorf(code, "argument %q: %v", k, err)
			}
			b.ident(k)
			b.WriteString(" => ")
			b.bind(v)
		}
		b.WriteString(") AS ")
		b.WriteString(alias)
		return nil
	}
	cond := s
	cond.code = gateway.CodeInvalidFetchCondition

	if req.Head {
		// Count only: the rows are never rendered.
		b.WriteString("WITH _f AS MATERIALIZED (SELECT * FROM ")
		if err := call(); err != nil {
			return sqlText{}, err
		}
		if err := b.where(cond, req.Filters); err != nil {
			return sqlText{}, err
		}
		b.WriteString(") SELECT '[]'::json, (SELECT count(*) FROM _f)")
		return sqlText{strings.Clone(b.String()), b.args}, nil
	}
	if req.Count == gateway.CountNone {
		b.WriteString("SELECT coalesce(json_agg(" + rowJSON("_r", req.StripNulls) + "), '[]'), NULL::bigint FROM (SELECT ")
		b.WriteString(cols)
		b.WriteString(" FROM ")
		if err := call(); err != nil {
			return sqlText{}, err
		}
		if err := b.where(cond, req.Filters); err != nil {
			return sqlText{}, err
		}
	} else {
		b.WriteString("WITH _f AS MATERIALIZED (SELECT * FROM ")
		if err := call(); err != nil {
			return sqlText{}, err
		}
		if err := b.where(cond, req.Filters); err != nil {
			return sqlText{}, err
		}
		b.WriteString(") SELECT (SELECT coalesce(json_agg(" + rowJSON("_r", req.StripNulls) + "), '[]') FROM (SELECT ")
		b.WriteString(cols)
		b.WriteString(" FROM _f AS ")
		b.WriteString(alias)
	}
	if err := b.orderBy(s, req.Sort); err != nil {
		return sqlText{}, err
	}
	if err := b.limitOffset(req.Limit, req.Offset, code); err != nil {
		return sqlText{}, err
	}
	b.WriteString(") _r")
	if req.Count != gateway.CountNone {
		b.WriteString("), (SELECT count(*) FROM _f)")
	}
	return sqlText{strings.Clone(b.String()), b.args}, nil
}
