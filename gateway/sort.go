package gateway

import (
	"encoding/json"
	"strings"
)

// sortJSON decodes one sort field. Accepted shapes:
//
//	{"field":"created_at","direction":"desc"}       (also "column"; direction asc|desc|ascending|descending)
//	{"column":"created_at","ascending":false}
//	{"created_at":"desc","id":"asc"}                 (column → direction map, document order)
//	[ any of the above ]
//	"created_at.desc,id"                            (PostgREST order string)
//
// Optional "nulls": "first"|"last" or "nulls_first": bool set NullsFirst.
func sortJSON(raw json.RawMessage, code Code, field string) ([]Sort, error) {
	if isNull(raw) {
		return nil, nil
	}
	if elems, ok, err := rawArray(raw); ok {
		if err != nil {
			return nil, err
		}
		var out []Sort
		for i, el := range elems {
			// One level only: nested arrays mean nothing and would recurse.
			if _, isArr, _ := rawArray(el); isArr {
				return nil, Errorf(code, "%s element %d must be an object or a string, got an array", field, i+1)
			}
			s, err := sortJSON(el, code, field)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
	members, ok, err := orderedObject(raw)
	if err != nil {
		return nil, err
	}
	if !ok {
		v, err := decodeJSON(raw)
		if err != nil {
			return nil, err
		}
		if s, isStr := v.(string); isStr {
			return parseOrder(s, code)
		}
		return nil, Errorf(code, "%s must be an object, an array or a string, got %s", field, jsonKind(v))
	}
	if len(members) == 0 {
		return nil, nil
	}
	obj := map[string]any{}
	for _, m := range members {
		v, err := decodeJSON(m.Value)
		if err != nil {
			return nil, err
		}
		obj[m.Key] = v
	}
	_, hasField := obj["field"]
	_, hasColumn := obj["column"]
	if !hasField && !hasColumn {
		// {"col":"asc", …}
		var out []Sort
		for _, m := range members {
			dir, ok := obj[m.Key].(string)
			if !ok {
				return nil, Errorf(code, "%s: direction for %q must be a string, got %s", field, clip(m.Key), jsonKind(obj[m.Key]))
			}
			desc, err := parseDirection(dir, code, field)
			if err != nil {
				return nil, err
			}
			if !ValidIdentifier(m.Key) {
				return nil, Errorf(code, "%s: invalid column name %q", field, clip(m.Key))
			}
			out = append(out, Sort{Column: m.Key, Descending: desc})
		}
		return out, nil
	}
	col := obj["field"]
	if col == nil {
		col = obj["column"]
	}
	name, ok := col.(string)
	if !ok {
		return nil, Errorf(code, "%s: column must be a string, got %s", field, jsonKind(col))
	}
	name = strings.TrimSpace(name)
	if !ValidIdentifier(name) {
		return nil, Errorf(code, "%s: invalid column name %q", field, clip(name))
	}
	s := Sort{Column: name}
	if d, present := obj["direction"]; present && d != nil {
		dir, ok := d.(string)
		if !ok {
			return nil, Errorf(code, "%s: direction must be a string, got %s", field, jsonKind(d))
		}
		if s.Descending, err = parseDirection(dir, code, field); err != nil {
			return nil, err
		}
	} else if a, present := obj["ascending"]; present && a != nil {
		asc, ok := asBool(a)
		if !ok {
			return nil, Errorf(code, "%s: ascending must be a boolean, got %s", field, jsonKind(a))
		}
		s.Descending = !asc
	}
	if n, present := obj["nulls"]; present && n != nil {
		ns, _ := n.(string)
		switch strings.ToLower(ns) {
		case "first":
			s.NullsFirst = boolPtr(true)
		case "last":
			s.NullsFirst = boolPtr(false)
		default:
			return nil, Errorf(code, "%s: nulls must be \"first\" or \"last\", got %s", field, jsonShort(n))
		}
	} else if n, present := obj["nulls_first"]; present && n != nil {
		b, ok := asBool(n)
		if !ok {
			return nil, Errorf(code, "%s: nulls_first must be a boolean, got %s", field, jsonKind(n))
		}
		s.NullsFirst = boolPtr(b)
	}
	return []Sort{s}, nil
}

// parseDirection maps asc/desc spellings to Descending.
func parseDirection(dir string, code Code, field string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(dir)) {
	case "", "asc", "ascending":
		return false, nil
	case "desc", "descending":
		return true, nil
	}
	return false, Errorf(code, "%s: direction must be asc or desc, got %q", field, clip(dir))
}

// parseOrder parses the PostgREST order grammar: "col", "col.desc",
// "col.asc.nullsfirst", comma separated.
func parseOrder(s string, code Code) ([]Sort, error) {
	var out []Sort
	for _, term := range strings.Split(s, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		parts := strings.Split(term, ".")
		if !ValidIdentifier(parts[0]) {
			return nil, Errorf(code, "order: invalid column name %q", clip(parts[0]))
		}
		st := Sort{Column: parts[0]}
		for _, mod := range parts[1:] {
			switch strings.ToLower(mod) {
			case "asc":
				st.Descending = false
			case "desc":
				st.Descending = true
			case "nullsfirst":
				st.NullsFirst = boolPtr(true)
			case "nullslast":
				st.NullsFirst = boolPtr(false)
			default:
				return nil, Errorf(code, "order: unknown modifier %q in %q (expected asc, desc, nullsfirst or nullslast)", clip(mod), clip(term))
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func boolPtr(b bool) *bool { return &b }
