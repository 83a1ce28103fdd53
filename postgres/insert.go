package postgres

import (
	"context"
	"slices"
	"strings"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
)

// maxParams is the protocol's limit on bind parameters per statement.
const maxParams = 65535

// Insert writes one or many rows. The chosen statement shape:
//
//   - Several rows that all carry the same keys (or DefaultToNull is set):
//     INSERT ... SELECT ... FROM jsonb_to_recordset($1::jsonb) AS x(col type, …).
//     The whole batch is one parameter, so there is no 65535-parameter limit,
//     and the statement text depends only on the column set, so pgx prepares
//     it once per connection however many rows arrive. Column types come
//     from pg_catalog (format_type), never from the request.
//   - One row, or rows whose key sets differ (missing keys must take the
//     column DEFAULT, which only VALUES can express): INSERT ... VALUES with
//     one parameter per present value and DEFAULT for missing ones. Batches
//     above 65535 parameters are split into several statements sent in one
//     pgx.Batch, which PostgreSQL runs as one implicit transaction.
//
// Affected counts returned rows, so rows skipped by DO NOTHING are not
// counted.
func (db *DB) Insert(ctx context.Context, req gateway.InsertRequest) (gateway.MutationResult, error) {
	var stmts []sqlText
	err := db.withTable(ctx, req.Table, func(m *tableMeta) error {
		var err error
		stmts, err = buildInsert(m, req)
		return err
	})
	if err != nil {
		return gateway.MutationResult{}, err
	}
	return db.runMutation(ctx, "insert", stmts)
}

// buildInsert returns the statements (usually one) for req.
func buildInsert(m *tableMeta, req gateway.InsertRequest) ([]sqlText, error) {
	const code = gateway.CodeInvalidInsertPayload
	if len(req.Rows) == 0 {
		return nil, gateway.Errorf(code, "insert_body has no rows")
	}
	s := scope{alias: "t0", meta: m, code: code}

	// Column set: the union of all keys, sorted so equal shapes give equal
	// statement text (and share a prepared statement).
	seen := map[string]bool{}
	var cols []string
	homogeneous := true
	for i, row := range req.Rows {
		for k := range row {
			if !seen[k] {
				if _, err := s.column(k); err != nil {
					return nil, err
				}
				seen[k] = true
				cols = append(cols, k)
				if i > 0 {
					homogeneous = false // a key the earlier rows lacked
				}
			}
		}
		if len(row) != len(cols) {
			homogeneous = false
		}
	}
	slices.Sort(cols)

	returning, err := returningList(s, req.Returning)
	if err != nil {
		return nil, err
	}
	var conflict sqlBuf
	if err := conflictClause(&conflict, s, req, cols); err != nil {
		return nil, err
	}

	head := "INSERT INTO " + m.ident() + " AS t0 "
	allDefault := len(cols) == 0
	if allDefault {
		// Rows of only defaults: name one column and give it DEFAULT.
		if len(m.Columns) == 0 {
			return nil, gateway.Errorf(code, "%q has no columns", m.Name)
		}
		cols = []string{m.Columns[0].Name}
	}
	colList := quotedList(cols)

	if len(req.Rows) > 1 && (homogeneous || req.DefaultToNull) && !allDefault {
		// One jsonb parameter for the whole batch; conflict params follow it.
		payload, err := jsonText(req.Rows)
		if err != nil {
			return nil, err
		}
		var b sqlBuf
		b.WriteString(head)
		b.WriteString(colList)
		b.WriteString(" SELECT ")
		b.WriteString(identList(cols))
		b.WriteString(" FROM jsonb_to_recordset(")
		b.bind(payload)
		b.WriteString("::jsonb) AS _x(")
		for i, c := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.ident(c)
			b.WriteByte(' ')
			b.WriteString(m.byName[c].Type)
		}
		b.WriteByte(')')
		b.appendShifted(conflict)
		return []sqlText{{mutationSQL(b.String(), returning, req.Head, req.StripNulls), b.args}}, nil
	}

	// VALUES, split where the parameter limit would be crossed.
	budget := maxParams - len(conflict.args)
	var out []sqlText
	var b sqlBuf
	start := func() {
		b = sqlBuf{}
		b.WriteString(head)
		b.WriteString(colList)
		b.WriteString(" VALUES ")
	}
	finish := func() {
		b.appendShifted(conflict)
		out = append(out, sqlText{mutationSQL(b.String(), returning, req.Head, req.StripNulls), b.args})
	}
	start()
	inChunk := 0
	for _, row := range req.Rows {
		if inChunk > 0 && len(b.args)+len(row) > budget {
			finish()
			start()
			inChunk = 0
		}
		if inChunk > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for i, c := range cols {
			if i > 0 {
				b.WriteByte(',')
			}
			v, ok := row[c]
			switch {
			case ok:
				pv, err := writeValue(v, m.byName[c])
				if err != nil {
					return nil, gateway.Errorf(code, "value for %q: %v", c, err)
				}
				b.bind(pv)
			case req.DefaultToNull && !allDefault:
				b.WriteString("NULL")
			default:
				b.WriteString("DEFAULT")
			}
		}
		b.WriteByte(')')
		inChunk++
	}
	finish()
	return out, nil
}

// conflictClause writes ON CONFLICT ... with its own placeholders numbered
// from $1; appendShifted renumbers them after the insert's own.
func conflictClause(b *sqlBuf, s scope, req gateway.InsertRequest, cols []string) error {
	const code = gateway.CodeInvalidInsertPayload
	target := req.OnConflict
	for _, c := range target {
		if _, err := s.column(c); err != nil {
			return err
		}
	}
	switch req.Action {
	case gateway.ConflictNone:
		if len(req.UpdateBody) > 0 {
			return gateway.Errorf(code, "update_body needs on_conflict")
		}
		return nil
	case gateway.ConflictDoNothing:
		b.WriteString(" ON CONFLICT ")
		if len(target) > 0 {
			b.WriteString(quotedList(target))
			b.WriteByte(' ')
		}
		b.WriteString("DO NOTHING")
		return nil
	case gateway.ConflictDoUpdate:
	default:
		return gateway.Errorf(code, "unknown conflict action %d", req.Action)
	}
	if len(target) == 0 {
		target = s.meta.PrimaryKey
	}
	if len(target) == 0 {
		return gateway.Errorf(code, "on_conflict columns are required: %q has no primary key", s.meta.Name)
	}
	b.WriteString(" ON CONFLICT ")
	b.WriteString(quotedList(target))
	if len(req.UpdateBody) > 0 {
		b.WriteString(" DO UPDATE SET ")
		return setList(b, s, req.UpdateBody, code)
	}
	// Merge: take every inserted non-target column from the proposed row.
	// With none (the row is only its key), there is nothing to merge: DO
	// NOTHING, as the SDK's own compiler does (spec §3.3).
	set := make([]string, 0, len(cols))
	for _, c := range cols {
		if !contains(target, c) {
			set = append(set, c)
		}
	}
	if len(set) == 0 {
		b.WriteString(" DO NOTHING")
		return nil
	}
	b.WriteString(" DO UPDATE SET ")
	for i, c := range set {
		if i > 0 {
			b.WriteString(", ")
		}
		b.ident(c)
		b.WriteString(" = EXCLUDED.")
		b.ident(c)
	}
	return nil
}

// setList writes "col" = $n, … for body in sorted key order.
func setList(b *sqlBuf, s scope, body map[string]any, code gateway.Code) error {
	keys := make([]string, 0, len(body))
	for k := range body {
		if _, err := s.column(k); err != nil {
			return err
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		pv, err := writeValue(body[k], s.meta.byName[k])
		if err != nil {
			return gateway.Errorf(code, "value for %q: %v", k, err)
		}
		b.ident(k)
		b.WriteString(" = ")
		b.bind(pv)
	}
	return nil
}

// appendShifted appends o's text with its placeholders $1..$n renumbered to
// follow b's arguments. o is built by this package with placeholders only
// where bind wrote them, so a plain scan for '$' digits is exact.
func (b *sqlBuf) appendShifted(o sqlBuf) {
	if len(o.args) == 0 {
		b.WriteString(o.String())
		return
	}
	shift := len(b.args)
	text := o.String()
	for i := 0; i < len(text); i++ {
		if text[i] != '$' || i+1 >= len(text) || text[i+1] < '0' || text[i+1] > '9' || inQuotedIdent(text, i) {
			b.WriteByte(text[i])
			continue
		}
		j := i + 1
		n := 0
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			n = n*10 + int(text[j]-'0')
			j++
		}
		b.WriteByte('$')
		b.WriteString(itoa(n + shift))
		i = j - 1
	}
	b.args = append(b.args, o.args...)
}

// inQuotedIdent reports whether position i of text is inside a "quoted"
// identifier (identifiers may legally contain '$' followed by digits).
func inQuotedIdent(text string, i int) bool {
	return strings.Count(text[:i], `"`)%2 == 1
}

// quotedList renders ("a", "b").
func quotedList(cols []string) string { return "(" + identList(cols) + ")" }

// identList renders "a", "b".
func identList(cols []string) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgx.Identifier{c}.Sanitize())
	}
	return b.String()
}

// writeValue renders a value written into a column: json/jsonb columns take
// the value as JSON (a string becomes a JSON string, as with
// jsonb_to_recordset), array columns take arrays as array literals, and
// everything else goes as text.
func writeValue(v any, col *columnMeta) (any, error) {
	if v == nil {
		return nil, nil
	}
	if col != nil && (col.Type == "jsonb" || col.Type == "json") {
		return jsonText(v)
	}
	return columnValue(v, col)
}
