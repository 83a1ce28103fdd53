package postgres

import (
	"errors"
	"strconv"
	"strings"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
)

// castTypes maps the gateway's cast allow-list to SQL type names. A cast
// reaches SQL text only through this fixed table.
var castTypes = map[gateway.Cast]string{
	"text":        "text",
	"uuid":        "uuid",
	"int":         "integer",
	"bigint":      "bigint",
	"numeric":     "numeric",
	"boolean":     "boolean",
	"date":        "date",
	"timestamptz": "timestamptz",
	"jsonb":       "jsonb",
}

// maxConditionDepth bounds group nesting so a hostile tree cannot exhaust
// the stack or produce a statement PostgreSQL refuses to plan.
const maxConditionDepth = 32

// sqlBuf accumulates statement text and its bind arguments together, so a
// placeholder number always matches its argument.
type sqlBuf struct {
	strings.Builder
	args []any
}

// bind appends v as the next argument and writes its placeholder.
func (b *sqlBuf) bind(v any) {
	b.args = append(b.args, v)
	b.WriteByte('$')
	b.WriteString(strconv.Itoa(len(b.args)))
}

// ident writes a quoted identifier.
func (b *sqlBuf) ident(parts ...string) {
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('.')
		}
		writeIdent(&b.Builder, p)
	}
}

// writeIdent writes name quoted exactly as pgx.Identifier.Sanitize does,
// without allocating in the common case: a name with no double quote and
// no NUL (every name that passed gateway.ValidIdentifier) only needs the
// surrounding quotes.
func writeIdent(b *strings.Builder, name string) {
	if strings.ContainsAny(name, "\"\x00") {
		b.WriteString(pgx.Identifier{name}.Sanitize())
		return
	}
	b.WriteByte('"')
	b.WriteString(name)
	b.WriteByte('"')
}

// scope is the relation conditions and selections refer to: its SQL alias
// and, when known, its metadata for validating column names.
type scope struct {
	alias string     // an alias we generate (t0, t1, …), never user text
	meta  *tableMeta // nil for function results: PostgreSQL validates then
	code  gateway.Code
}

// column checks name and returns its metadata (nil when the scope has none).
func (s scope) column(name string) (*columnMeta, error) {
	if !gateway.ValidIdentifier(name) {
		return nil, gateway.Errorf(s.code, "invalid column name %q", name)
	}
	if s.meta == nil {
		return nil, nil
	}
	c, ok := s.meta.column(name)
	if !ok {
		return nil, unknownColumnError(s.meta.Name, name)
	}
	return c, nil
}

// writeColumn writes alias."name".
func (b *sqlBuf) writeColumn(s scope, name string) {
	b.WriteString(s.alias)
	b.WriteByte('.')
	b.ident(name)
}

// where writes " WHERE <conditions ANDed>" (nothing for no conditions).
func (b *sqlBuf) where(s scope, conds []gateway.Condition) error {
	if len(conds) == 0 {
		return nil
	}
	b.WriteString(" WHERE ")
	return b.conditionList(s, conds, " AND ", 0)
}

func (b *sqlBuf) conditionList(s scope, conds []gateway.Condition, sep string, depth int) error {
	for i, c := range conds {
		if i > 0 {
			b.WriteString(sep)
		}
		if err := b.condition(s, c, depth); err != nil {
			return err
		}
	}
	return nil
}

// condition writes one node of the tree. Groups are always parenthesised,
// so operator precedence never depends on the shape of the tree.
func (b *sqlBuf) condition(s scope, c gateway.Condition, depth int) error {
	if depth > maxConditionDepth {
		return gateway.Errorf(gateway.CodeInvalidFetchCondition, "conditions nested deeper than %d levels", maxConditionDepth)
	}
	switch c.Group {
	case gateway.GroupNone:
		return b.comparison(s, c)
	case gateway.GroupAnd, gateway.GroupOr:
		if len(c.Children) == 0 {
			// The neutral element: an empty AND matches all, an empty OR none.
			if c.Group == gateway.GroupAnd {
				b.WriteString("TRUE")
			} else {
				b.WriteString("FALSE")
			}
			return nil
		}
		sep := " AND "
		if c.Group == gateway.GroupOr {
			sep = " OR "
		}
		b.WriteByte('(')
		if err := b.conditionList(s, c.Children, sep, depth+1); err != nil {
			return err
		}
		b.WriteByte(')')
		return nil
	case gateway.GroupNot:
		if len(c.Children) == 0 {
			return gateway.Errorf(gateway.CodeInvalidFetchCondition, "not needs at least one condition")
		}
		b.WriteString("NOT (")
		if err := b.conditionList(s, c.Children, " AND ", depth+1); err != nil {
			return err
		}
		b.WriteByte(')')
		return nil
	}
	return gateway.Errorf(gateway.CodeInvalidFetchCondition, "unknown condition group %q", c.Group)
}

// valueKind says how a non-scalar value must be bound for a column.
type valueKind int

const (
	kindUnknown valueKind = iota // no metadata (function results)
	kindScalar
	kindArray
	kindJSON
)

func columnKind(col *columnMeta, cast gateway.Cast) valueKind {
	switch {
	case cast == "jsonb":
		return kindJSON
	case cast != "":
		return kindScalar
	case col == nil:
		return kindUnknown
	case col.IsArray:
		return kindArray
	case col.Type == "jsonb" || col.Type == "json":
		return kindJSON
	}
	return kindScalar
}

// comparisonOps maps the binary operators to SQL.
var comparisonOps = map[gateway.Operator]string{
	gateway.OpEq: " = ", gateway.OpNeq: " <> ",
	gateway.OpGt: " > ", gateway.OpGte: " >= ",
	gateway.OpLt: " < ", gateway.OpLte: " <= ",
	gateway.OpLike: " LIKE ", gateway.OpIlike: " ILIKE ",
	gateway.OpContains: " @> ", gateway.OpContainedBy: " <@ ",
}

// comparison writes a leaf: column (optionally cast), operator, and either a
// placeholder or, for IS, a keyword. The value itself is never SQL text.
func (b *sqlBuf) comparison(s scope, c gateway.Condition) error {
	col, err := s.column(c.Column)
	if err != nil {
		return err
	}
	colCast, err := castType(c.ColumnCast)
	if err != nil {
		return err
	}
	valCast, err := castType(c.ValueCast)
	if err != nil {
		return err
	}
	kind := columnKind(col, c.ColumnCast)
	writeCol := func() {
		b.writeColumn(s, c.Column)
		if colCast != "" {
			b.WriteString("::")
			b.WriteString(colCast)
		}
	}
	writeParam := func(v any, array bool) {
		b.bind(v)
		if valCast != "" {
			b.WriteString("::")
			b.WriteString(valCast)
			if array {
				b.WriteString("[]")
			}
		}
	}

	switch c.Op {
	case gateway.OpIs:
		kw, err := isKeyword(c.Value)
		if err != nil {
			return err
		}
		writeCol()
		b.WriteString(kw)
		return nil

	case gateway.OpIn:
		list, ok := c.Value.([]any)
		if !ok {
			if c.Value == nil {
				return gateway.Errorf(gateway.CodeInvalidConditionValue, "in on %q needs an array value", c.Column)
			}
			list = []any{c.Value}
		}
		if len(list) == 0 {
			b.WriteString("FALSE") // x IN () matches nothing
			return nil
		}
		lit, err := arrayLiteral(list)
		if err != nil {
			return valueError(c, err)
		}
		// PostgreSQL infers the parameter as an array of the column's type
		// from "col = ANY($n)", so no type name is needed in the text.
		writeCol()
		b.WriteString(" = ANY(")
		writeParam(lit, true)
		b.WriteByte(')')
		return nil

	case gateway.OpContains, gateway.OpContainedBy:
		v, array, err := containmentValue(c, kind, valCast)
		if err != nil {
			return valueError(c, err)
		}
		writeCol()
		b.WriteString(comparisonOps[c.Op])
		writeParam(v, array)
		return nil

	case gateway.OpEq, gateway.OpNeq, gateway.OpGt, gateway.OpGte, gateway.OpLt, gateway.OpLte, gateway.OpLike, gateway.OpIlike:
		if c.Value == nil {
			// "= NULL" is never true; eq/neq null mean IS [NOT] NULL.
			switch c.Op {
			case gateway.OpEq:
				writeCol()
				b.WriteString(" IS NULL")
				return nil
			case gateway.OpNeq:
				writeCol()
				b.WriteString(" IS NOT NULL")
				return nil
			}
			return gateway.Errorf(gateway.CodeInvalidConditionValue, "%s on %q needs a value", c.Op, c.Column)
		}
		var v any
		if arr, ok := c.Value.([]any); ok && kind == kindArray {
			v, err = arrayLiteral(arr)
		} else {
			v, err = textValue(c.Value)
		}
		if err != nil {
			return valueError(c, err)
		}
		writeCol()
		b.WriteString(comparisonOps[c.Op])
		writeParam(v, false)
		return nil
	}
	return gateway.Errorf(gateway.CodeInvalidFetchCondition, "unknown operator %q", c.Op)
}

// valueError reports a value that cannot be rendered for binding.
func valueError(c gateway.Condition, err error) error {
	var ge *gateway.Error
	if errors.As(err, &ge) {
		return ge
	}
	return gateway.Errorf(gateway.CodeInvalidConditionValue, "value for %q: %v", c.Column, err)
}

// containmentValue binds @>/<@ operands: arrays for array columns, JSON
// text for jsonb, and a string (range or array literal) as given.
func containmentValue(c gateway.Condition, kind valueKind, valCast string) (any, bool, error) {
	switch x := c.Value.(type) {
	case []any:
		if kind == kindJSON || valCast == "jsonb" || (kind == kindUnknown && hasObject(x)) {
			s, err := jsonText(x)
			return s, false, err
		}
		s, err := arrayLiteral(x)
		return s, true, err
	case map[string]any:
		if kind == kindArray || kind == kindScalar && valCast != "jsonb" {
			return nil, false, gateway.Errorf(gateway.CodeInvalidConditionValue, "%s on %q: an object only applies to jsonb columns", c.Op, c.Column)
		}
		s, err := jsonText(x)
		return s, false, err
	case nil:
		return nil, false, gateway.Errorf(gateway.CodeInvalidConditionValue, "%s on %q needs an array or object value", c.Op, c.Column)
	}
	v, err := textValue(c.Value)
	return v, false, err
}

func hasObject(vals []any) bool {
	for _, v := range vals {
		if _, ok := v.(map[string]any); ok {
			return true
		}
	}
	return false
}

// isKeyword maps an "is" value to its SQL form; only null/true/false exist.
func isKeyword(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return " IS NULL", nil
	case bool:
		if x {
			return " IS TRUE", nil
		}
		return " IS FALSE", nil
	case string:
		switch strings.ToLower(x) {
		case "null":
			return " IS NULL", nil
		case "true":
			return " IS TRUE", nil
		case "false":
			return " IS FALSE", nil
		}
	}
	return "", gateway.Errorf(gateway.CodeInvalidConditionValue, "is takes null, true or false")
}

// castType returns the SQL type for an allow-listed cast ("" for none).
func castType(c gateway.Cast) (string, error) {
	if c == "" {
		return "", nil
	}
	t, ok := castTypes[c]
	if !ok || !gateway.AllowedCast(c) {
		return "", gateway.Errorf(gateway.CodeInvalidFetchCondition, "cast %q is not allowed", c)
	}
	return t, nil
}

func itoa(n int) string { return strconv.Itoa(n) }
