package gateway

import (
	"encoding/json"
	"strings"
)

// where parses the structured `where` of newer SDKs into conditions that
// are ANDed with `conditions`:
//
//	{"status": "open"}                      status = 'open' (shorthand eq; null → is null)
//	{"id": [1, 2]}                          id in (1, 2)
//	{"age": {"gte": 18, "lt": 65}}          every operator key is one condition
//	{"age": {"not": {"eq": 3}}}             negation of the inner operators
//	{"tags": {"contains": ["a"], "column_cast": "jsonb"}}  casts apply to the column's operators
//	{"or": [{…}, {…}]}, {"and": [{…}]}      each element is a where object (its entries ANDed)
//	{"or": "a.eq.1,b.eq.2"}                 an or/and value may also be an expression
//	{"not": {…}}                            negation of the AND of the object
//
// "or", "and" and "not" are therefore reserved and cannot name columns here.
// Keys keep document order so the generated statement is stable. An array
// of where objects is accepted and ANDed.
func (p *condParser) where(raw json.RawMessage, depth int) ([]Condition, error) {
	if isNull(raw) {
		return nil, nil
	}
	if elems, ok, err := rawArray(raw); ok {
		if err != nil {
			return nil, err
		}
		var out []Condition
		for i, el := range elems {
			// Elements must be objects: nested arrays would recurse
			// without ever passing a depth check.
			if _, isArr, _ := rawArray(el); isArr {
				return nil, Errorf(CodeInvalidFetchCondition, "where element %d must be an object, got an array", i+1)
			}
			cs, err := p.where(el, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, cs...)
		}
		return out, nil
	}
	members, ok, err := orderedObject(raw)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, Errorf(CodeInvalidFetchCondition, "where must be an object")
	}
	var out []Condition
	for _, m := range members {
		if isNull(m.Value) && (m.Key == "or" || m.Key == "and" || m.Key == "not") {
			continue
		}
		var c Condition
		switch strings.ToLower(m.Key) {
		case "or":
			c, err = p.whereGroup(GroupOr, m.Value, depth)
		case "and":
			c, err = p.whereGroup(GroupAnd, m.Value, depth)
		case "not":
			c, err = p.whereGroup(GroupNot, m.Value, depth)
		default:
			var cs []Condition
			cs, err = p.whereColumn(m.Key, m.Value, depth)
			out = append(out, cs...)
			if err != nil {
				return nil, within(err, "where")
			}
			continue
		}
		if err != nil {
			return nil, within(err, "where")
		}
		out = append(out, c)
	}
	return out, nil
}

// whereGroup parses the value of an or/and/not key: an array of where
// objects (each one child), a single where object, or an expression string.
func (p *condParser) whereGroup(kind GroupKind, raw json.RawMessage, depth int) (Condition, error) {
	if err := p.enter(depth + 1); err != nil {
		return Condition{}, err
	}
	if err := p.node(); err != nil {
		return Condition{}, err
	}
	var children []Condition
	if elems, ok, err := rawArray(raw); ok {
		if err != nil {
			return Condition{}, err
		}
		for i, el := range elems {
			if _, isArr, _ := rawArray(el); isArr {
				return Condition{}, Errorf(CodeInvalidFetchCondition, "%q element %d must be an object, got an array", string(kind), i+1)
			}
			cs, err := p.where(el, depth+1)
			if err != nil {
				return Condition{}, err
			}
			switch {
			case len(cs) == 0:
			case len(cs) == 1 || kind != GroupOr:
				children = append(children, cs...)
			default:
				// Within or, each element's entries stay together.
				if err := p.enter(depth + 2); err != nil {
					return Condition{}, err
				}
				if err := p.node(); err != nil {
					return Condition{}, err
				}
				children = append(children, Condition{Group: GroupAnd, Children: cs})
			}
		}
	} else {
		v, err := decodeJSON(raw)
		if err != nil {
			return Condition{}, err
		}
		switch t := v.(type) {
		case string:
			children, err = p.expression(t, depth+1)
		case map[string]any:
			children, err = p.where(raw, depth+1)
		default:
			return Condition{}, Errorf(CodeInvalidFetchCondition, "%q needs an array of objects, an object or an expression string, got %s", string(kind), jsonKind(v))
		}
		if err != nil {
			return Condition{}, err
		}
	}
	if len(children) == 0 {
		return Condition{}, Errorf(CodeInvalidFetchCondition, "%q has no conditions", string(kind))
	}
	return Condition{Group: kind, Children: children}, nil
}

// whereColumn parses one column's entry: a scalar (eq), an array (in) or
// an object of operator → value.
func (p *condParser) whereColumn(column string, raw json.RawMessage, depth int) ([]Condition, error) {
	if !ValidIdentifier(column) {
		return nil, Errorf(CodeInvalidFetchCondition, "invalid column name %q", clip(column))
	}
	members, isObj, err := orderedObject(raw)
	if err != nil {
		return nil, err
	}
	if !isObj {
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, err
		}
		op := OpEq
		if _, ok := v.([]any); ok {
			op = OpIn
		}
		c, err := p.leaf(column, op, v, "", "")
		if err != nil {
			return nil, err
		}
		return []Condition{c}, nil
	}
	return p.columnOps(column, members, "", "", depth)
}

// columnOps turns {"op": value, …} for one column into conditions.
func (p *condParser) columnOps(column string, members []member, colCast, valCast Cast, depth int) ([]Condition, error) {
	// Casts first: they apply to every operator of the object, wherever written.
	for _, m := range members {
		key := strings.ToLower(m.Key)
		if key != "column_cast" && key != "value_cast" && key != "cast" {
			continue
		}
		v, err := decodeJSON(m.Value)
		if err != nil {
			return nil, err
		}
		c, err := castField(map[string]any{key: v}, key)
		if err != nil {
			return nil, err
		}
		if key == "value_cast" {
			valCast = c
		} else {
			colCast = c
		}
	}
	var out []Condition
	for _, m := range members {
		key := strings.ToLower(m.Key)
		switch key {
		case "column_cast", "value_cast", "cast":
			continue
		case "not":
			inner, ok, err := orderedObject(m.Value)
			if err != nil {
				return nil, err
			}
			if !ok {
				// {"not": value} is shorthand for neq.
				v, err := decodeJSON(m.Value)
				if err != nil {
					return nil, err
				}
				c, err := p.leaf(column, OpNeq, v, colCast, valCast)
				if err != nil {
					return nil, err
				}
				out = append(out, c)
				continue
			}
			if err := p.enter(depth + 1); err != nil {
				return nil, err
			}
			if err := p.node(); err != nil {
				return nil, err
			}
			children, err := p.columnOps(column, inner, colCast, valCast, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, Condition{Group: GroupNot, Children: children})
			continue
		}
		op, ok := lookupOperator(key)
		if !ok {
			return nil, Errorf(CodeInvalidFetchCondition, "unknown operator %q for column %q", clip(m.Key), column)
		}
		v, err := decodeJSON(m.Value)
		if err != nil {
			return nil, err
		}
		c, err := p.leaf(column, op, v, colCast, valCast)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, Errorf(CodeInvalidFetchCondition, "no operator given for column %q", column)
	}
	return out, nil
}
