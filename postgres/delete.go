package postgres

import (
	"context"

	"github.com/athena-gateway/athena/gateway"
)

// Delete removes rows by resource id and/or conditions (both ANDed),
// narrowed by the request's bound (see mutationWhere), and returns them. ResourceID matches the table's single-column primary key,
// else a column named resource_id, else one named id.
func (db *DB) Delete(ctx context.Context, req gateway.DeleteRequest) (gateway.MutationResult, error) {
	var q sqlText
	err := db.withTable(ctx, req.Table, func(m *tableMeta) error {
		var err error
		q, err = buildDelete(m, req)
		return err
	})
	if err != nil {
		return gateway.MutationResult{}, err
	}
	return db.runMutation(ctx, "delete", []sqlText{q})
}

func buildDelete(m *tableMeta, req gateway.DeleteRequest) (sqlText, error) {
	const code = gateway.CodeInvalidDeletePayload
	if req.ResourceID == nil && len(req.Conditions) == 0 {
		return sqlText{}, gateway.Errorf(code, "delete needs resource_id or conditions")
	}
	s := scope{alias: "t0", meta: m, code: code}
	returning, err := returningList(s, req.Returning)
	if err != nil {
		return sqlText{}, err
	}
	conds := req.Conditions
	if req.ResourceID != nil {
		col := resourceColumn(m)
		if col == "" {
			return sqlText{}, gateway.Errorf(code,
				"%q has no single-column primary key and no resource_id or id column; use conditions", m.Name)
		}
		if _, isList := req.ResourceID.([]any); isList {
			return sqlText{}, gateway.Errorf(code, "resource_id must be a single value")
		}
		conds = append([]gateway.Condition{{Column: col, Op: gateway.OpEq, Value: req.ResourceID}}, conds...)
	}
	var b sqlBuf
	b.WriteString("DELETE FROM ")
	b.WriteString(m.ident())
	b.WriteString(" AS t0")
	if err := b.mutationWhere(s, conds, req.Bound, lockForUpdate); err != nil {
		return sqlText{}, err
	}
	return sqlText{mutationSQL(b.String(), returning, false, req.StripNulls), b.args}, nil
}

// resourceColumn picks the column resource_id matches ("" when none fits).
func resourceColumn(m *tableMeta) string {
	if len(m.PrimaryKey) == 1 {
		return m.PrimaryKey[0]
	}
	for _, name := range []string{"resource_id", "id"} {
		if _, ok := m.column(name); ok {
			return name
		}
	}
	return ""
}
