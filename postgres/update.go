package postgres

import (
	"context"

	"github.com/athena-gateway/athena/gateway"
)

// Update sets columns on the rows matching the conditions (narrowed by the
// request's bound, see mutationWhere) and returns them.
// An update without conditions runs only with AllowUnfiltered; the HTTP
// layer checks that too, but a missing WHERE is too costly to trust one
// check.
func (db *DB) Update(ctx context.Context, req gateway.UpdateRequest) (gateway.MutationResult, error) {
	var q sqlText
	err := db.withTable(ctx, req.Table, func(m *tableMeta) error {
		var err error
		q, err = buildUpdate(m, req)
		return err
	})
	if err != nil {
		return gateway.MutationResult{}, err
	}
	return db.runMutation(ctx, "update", []sqlText{q})
}

func buildUpdate(m *tableMeta, req gateway.UpdateRequest) (sqlText, error) {
	const code = gateway.CodeInvalidUpdatePayload
	if len(req.Set) == 0 {
		return sqlText{}, gateway.Errorf(code, "update_body is empty")
	}
	if len(req.Conditions) == 0 && !req.AllowUnfiltered {
		return sqlText{}, gateway.Errorf(code, "update needs conditions (or allow_unfiltered)")
	}
	s := scope{alias: "t0", meta: m, code: code}
	returning, err := returningList(s, req.Returning)
	if err != nil {
		return sqlText{}, err
	}
	var b sqlBuf
	b.WriteString("UPDATE ")
	b.WriteString(m.ident())
	b.WriteString(" AS t0 SET ")
	if err := setList(&b, s, req.Set, code); err != nil {
		return sqlText{}, err
	}
	if err := b.mutationWhere(s, req.Conditions, req.Bound, lockForNoKeyUpdate); err != nil {
		return sqlText{}, err
	}
	return sqlText{mutationSQL(b.String(), returning, false, req.StripNulls), b.args}, nil
}
