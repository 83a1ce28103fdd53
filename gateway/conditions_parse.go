package gateway

import (
	"encoding/json"
	"strconv"
	"strings"
)

// ParseConditions parses a `conditions` array (spec §3.1). raw may be empty
// or null (no conditions). Each element is a modern condition object
// ({"operator","column","value","column_cast","value_cast"}), a legacy one
// ({"eq_column","eq_value"}), or both at once, which counts as one condition.
// Errors name the element as "condition N", counting from 1.
func ParseConditions(raw json.RawMessage, lim Limits) ([]Condition, error) {
	if isNull(raw) {
		return nil, nil
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, err
	}
	return newCondParser(lim).list(v, 0)
}

// condParser holds what is shared across every condition of one request:
// the limits and the running node count, so conditions and where together
// cannot exceed MaxConditions.
type condParser struct {
	lim   Limits
	nodes int
}

func newCondParser(lim Limits) *condParser {
	return &condParser{lim: lim.withDefaults()}
}

// node counts one more condition node against MaxConditions.
func (p *condParser) node() error {
	p.nodes++
	if p.nodes > p.lim.MaxConditions {
		return Errorf(CodeInvalidFetchCondition, "too many conditions: at most %d condition nodes are allowed", p.lim.MaxConditions)
	}
	return nil
}

// enter checks that a group at depth (1 = outermost group) is allowed.
func (p *condParser) enter(depth int) error {
	if depth > p.lim.MaxExpressionDepth {
		return Errorf(CodeInvalidFetchCondition, "conditions are nested deeper than %d levels", p.lim.MaxExpressionDepth)
	}
	return nil
}

// lookupOperator maps an operator spelling (already lower-cased) to a
// comparison. The short PostgREST names cs/cd are accepted everywhere.
func lookupOperator(name string) (Operator, bool) {
	switch name {
	case "eq":
		return OpEq, true
	case "neq":
		return OpNeq, true
	case "gt":
		return OpGt, true
	case "gte":
		return OpGte, true
	case "lt":
		return OpLt, true
	case "lte":
		return OpLte, true
	case "like":
		return OpLike, true
	case "ilike":
		return OpIlike, true
	case "is":
		return OpIs, true
	case "in":
		return OpIn, true
	case "contains", "cs":
		return OpContains, true
	case "containedby", "contained_by", "cd":
		return OpContainedBy, true
	}
	return "", false
}

// lookupGroup maps and/or/not (lower-cased) to a group kind.
func lookupGroup(name string) (GroupKind, bool) {
	switch name {
	case "and":
		return GroupAnd, true
	case "or":
		return GroupOr, true
	case "not":
		return GroupNot, true
	}
	return GroupNone, false
}

// list parses a decoded JSON array of condition objects at group depth.
func (p *condParser) list(v any, depth int) ([]Condition, error) {
	if v == nil {
		return nil, nil
	}
	arr, ok := v.([]any)
	if !ok {
		return nil, Errorf(CodeInvalidFetchCondition, "conditions must be an array, got %s", jsonKind(v))
	}
	out := make([]Condition, 0, len(arr))
	for i, el := range arr {
		m, ok := el.(map[string]any)
		if !ok {
			return nil, Errorf(CodeInvalidFetchCondition, "condition %d must be an object, got %s", i+1, jsonKind(el))
		}
		c, err := p.object(m, depth)
		if err != nil {
			return nil, within(err, "condition "+strconv.Itoa(i+1))
		}
		out = append(out, c)
	}
	return out, nil
}

// object parses one condition object.
func (p *condParser) object(m map[string]any, depth int) (Condition, error) {
	opRaw, hasOp := m["operator"]
	if opRaw == nil {
		hasOp = false
	}
	legacyRaw, hasLegacy := m["eq_column"]
	if legacyRaw == nil {
		hasLegacy = false
	}
	if !hasOp && !hasLegacy {
		return Condition{}, Errorf(CodeInvalidFetchCondition, "missing \"operator\"")
	}

	var legacyCol string
	if hasLegacy {
		s, ok := legacyRaw.(string)
		if !ok {
			return Condition{}, Errorf(CodeInvalidFetchCondition, "\"eq_column\" must be a string, got %s", jsonKind(legacyRaw))
		}
		legacyCol = strings.TrimSpace(s)
	}

	colCast, err := castField(m, "column_cast")
	if err != nil {
		return Condition{}, err
	}
	valCast, err := castField(m, "value_cast")
	if err != nil {
		return Condition{}, err
	}

	if !hasOp {
		v, present := m["eq_value"]
		if !present {
			return Condition{}, Errorf(CodeInvalidConditionValue, "missing \"eq_value\" for eq_column %q", clip(legacyCol))
		}
		return p.leaf(legacyCol, OpEq, v, colCast, valCast)
	}

	opStr, ok := opRaw.(string)
	if !ok {
		return Condition{}, Errorf(CodeInvalidFetchCondition, "\"operator\" must be a string, got %s", jsonKind(opRaw))
	}
	name := strings.ToLower(strings.TrimSpace(opStr))

	column := ""
	if c, present := m["column"]; present && c != nil {
		s, ok := c.(string)
		if !ok {
			return Condition{}, Errorf(CodeInvalidFetchCondition, "\"column\" must be a string, got %s", jsonKind(c))
		}
		column = strings.TrimSpace(s)
	}

	if kind, ok := lookupGroup(name); ok {
		return p.groupObject(kind, column, m, depth)
	}
	op, ok := lookupOperator(name)
	if !ok {
		return Condition{}, Errorf(CodeInvalidFetchCondition, "unknown operator %q", clip(opStr))
	}

	// Modern and legacy shapes in one object are one condition; the modern
	// one wins, but they must not name different columns.
	switch {
	case column == "" && hasLegacy:
		column = legacyCol
	case column != "" && hasLegacy && legacyCol != "" && legacyCol != column:
		return Condition{}, Errorf(CodeInvalidFetchCondition, "\"column\" %q and \"eq_column\" %q disagree", clip(column), clip(legacyCol))
	}
	v, present := m["value"]
	if !present && hasLegacy && op == OpEq {
		v, present = m["eq_value"]
	}
	if !present {
		return Condition{}, Errorf(CodeInvalidConditionValue, "missing \"value\" for operator %q", opStr)
	}
	return p.leaf(column, op, v, colCast, valCast)
}

// groupObject parses {"operator":"or|and|not","value":…}. The value is a
// PostgREST expression string, an array of condition objects or a single
// condition object. For `not`, a column may be given with a value that
// starts with an operator ("eq.open"), meaning "column.eq.open".
func (p *condParser) groupObject(kind GroupKind, column string, m map[string]any, depth int) (Condition, error) {
	if err := p.enter(depth + 1); err != nil {
		return Condition{}, err
	}
	if err := p.node(); err != nil {
		return Condition{}, err
	}
	v := m["value"]
	var children []Condition
	var err error
	switch t := v.(type) {
	case string:
		expr := t
		if column != "" {
			if kind != GroupNot {
				return Condition{}, Errorf(CodeInvalidFetchCondition, "operator %q takes no column; put the columns in the expression", string(kind))
			}
			if !ValidIdentifier(column) {
				return Condition{}, Errorf(CodeInvalidFetchCondition, "invalid column name %q", clip(column))
			}
			if startsWithOperator(expr) {
				expr = column + "." + expr
			}
		}
		children, err = p.expression(expr, depth+1)
	case []any:
		children, err = p.list(t, depth+1)
	case map[string]any:
		var c Condition
		c, err = p.object(t, depth+1)
		children = []Condition{c}
	case nil:
		return Condition{}, Errorf(CodeInvalidFetchCondition, "operator %q needs a \"value\" expression such as \"status.eq.open\"", string(kind))
	default:
		return Condition{}, Errorf(CodeInvalidFetchCondition, "operator %q needs a string expression or an array of conditions, got %s", string(kind), jsonKind(v))
	}
	if err != nil {
		return Condition{}, err
	}
	if len(children) == 0 {
		return Condition{}, Errorf(CodeInvalidFetchCondition, "operator %q has no conditions", string(kind))
	}
	return Condition{Group: kind, Children: children}, nil
}

// startsWithOperator reports whether expr begins "op." or "not.op." with a
// known comparison, i.e. is a column-less term.
func startsWithOperator(expr string) bool {
	expr = strings.TrimSpace(expr)
	word, rest, ok := strings.Cut(expr, ".")
	if !ok {
		return false
	}
	if strings.EqualFold(word, "not") {
		word, _, ok = strings.Cut(rest, ".")
		if !ok {
			return false
		}
	}
	_, known := lookupOperator(strings.ToLower(word))
	return known
}

// castField reads an optional cast (column_cast/value_cast) and checks it
// against the allow-list. A few common spellings are folded onto it.
func castField(m map[string]any, key string) (Cast, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", Errorf(CodeInvalidFetchCondition, "%q must be a string, got %s", key, jsonKind(v))
	}
	return parseCast(s)
}

// parseCast normalises and validates one cast name.
func parseCast(s string) (Cast, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	switch name {
	case "":
		return "", nil
	case "integer", "int4":
		name = "int"
	case "int8":
		name = "bigint"
	case "bool":
		name = "boolean"
	}
	if !AllowedCast(Cast(name)) {
		return "", Errorf(CodeInvalidFetchCondition, "invalid cast %q: allowed casts are text, uuid, int, bigint, numeric, boolean, date, timestamptz, jsonb", clip(s))
	}
	return Cast(name), nil
}

// leaf validates and normalises one comparison. Value rules:
//   - is: null, true or false (or those words as strings);
//   - in: an array of scalars; contains/containedBy: an array or object;
//   - like/ilike: a string;
//   - eq/neq/gt/…: a scalar; arrays and objects only with a jsonb cast.
//
// eq null becomes `is null` and neq null becomes `not (is null)`, because
// `= NULL` is never true and that is never what a client means.
func (p *condParser) leaf(column string, op Operator, v any, colCast, valCast Cast) (Condition, error) {
	if !ValidIdentifier(column) {
		if column == "" {
			return Condition{}, Errorf(CodeInvalidFetchCondition, "missing \"column\" for operator %q", string(op))
		}
		return Condition{}, Errorf(CodeInvalidFetchCondition, "invalid column name %q", clip(column))
	}
	if err := p.node(); err != nil {
		return Condition{}, err
	}
	c := Condition{Column: column, Op: op, ColumnCast: colCast, ValueCast: valCast}
	jsonb := colCast == "jsonb" || valCast == "jsonb"
	switch op {
	case OpIs:
		iv, ok := isValue(v)
		if !ok {
			return Condition{}, Errorf(CodeInvalidConditionValue, "operator \"is\" on column %q accepts null, true or false, got %s", column, jsonShort(v))
		}
		c.Value = iv
	case OpIn:
		arr, ok := v.([]any)
		if !ok {
			return Condition{}, Errorf(CodeInvalidConditionValue, "operator \"in\" on column %q needs an array, got %s", column, jsonKind(v))
		}
		if len(arr) > p.lim.MaxInValues {
			return Condition{}, Errorf(CodeInvalidConditionValue, "operator \"in\" on column %q has %d values; at most %d are allowed", column, len(arr), p.lim.MaxInValues)
		}
		for i, el := range arr {
			if !isScalar(el) {
				return Condition{}, Errorf(CodeInvalidConditionValue, "operator \"in\" on column %q: element %d must be a string, number, boolean or null, got %s", column, i+1, jsonKind(el))
			}
		}
		c.Value = arr
	case OpContains, OpContainedBy:
		switch v.(type) {
		case []any, map[string]any:
		default:
			return Condition{}, Errorf(CodeInvalidConditionValue, "operator %q on column %q needs an array or object, got %s", string(op), column, jsonKind(v))
		}
		c.Value = v
	case OpLike, OpIlike:
		if _, ok := v.(string); !ok {
			return Condition{}, Errorf(CodeInvalidConditionValue, "operator %q on column %q needs a string pattern, got %s", string(op), column, jsonKind(v))
		}
		c.Value = v
	default:
		switch v.(type) {
		case nil:
			switch op {
			case OpEq:
				c.Op, c.Value = OpIs, nil
				return c, nil
			case OpNeq:
				c.Op, c.Value = OpIs, nil
				if err := p.node(); err != nil {
					return Condition{}, err
				}
				return Condition{Group: GroupNot, Children: []Condition{c}}, nil
			}
			return Condition{}, Errorf(CodeInvalidConditionValue, "operator %q on column %q needs a value, got null", string(op), column)
		case []any, map[string]any:
			if !jsonb {
				return Condition{}, Errorf(CodeInvalidConditionValue, "operator %q on column %q needs a scalar value, got %s (set a jsonb cast to compare JSON)", string(op), column, jsonKind(v))
			}
		}
		c.Value = v
	}
	return c, nil
}

// isValue maps the values `is` accepts to nil/true/false.
func isValue(v any) (any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case bool:
		return t, true
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "null":
			return nil, true
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return nil, false
}

// isScalar reports whether v is a JSON scalar (including null).
func isScalar(v any) bool {
	switch v.(type) {
	case nil, bool, string, json.Number, float64:
		return true
	}
	return false
}
