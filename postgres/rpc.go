package postgres

import (
	"context"
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
	q, err := buildRPC(req)
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

func buildRPC(req gateway.RPCRequest) (sqlText, error) {
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
			v, err := textValue(req.Args[k])
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
