package gateway

import (
	"encoding/json"
	"strconv"
	"strings"
)

// ParseSelection parses a PostgREST-style column list:
//
//	list  := item (',' item)*            (spaces allowed around commas)
//	item  := '*' | [alias ':'] name ['!' hint] ['(' list ')']
//	       | [alias ':'] schema '.' table ['!' hint] '(' list ')'
//
// "" and "*" select every column (Star). '*' next to other items keeps
// Star set and adds them, e.g. "*,author(name)" is every column plus an
// embed. An embed with an empty list, "comments()", selects every column of
// the relation. Casts ("a::text") and JSON paths ("a->b") are refused.
// Errors are CodeInvalidFetchPayload.
func ParseSelection(s string) (Selection, error) {
	return parseSelection(s, CodeInvalidFetchPayload)
}

// parseSelection is ParseSelection with the caller's error code.
func parseSelection(s string, code Code) (Selection, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "*" {
		return Selection{Star: true}, nil
	}
	p := &selParser{s: s, code: code}
	sel, err := p.list(0, false)
	if err != nil {
		return Selection{}, err
	}
	return sel, nil
}

// selParser is a recursive-descent parser over one select string.
type selParser struct {
	s    string
	pos  int
	code Code
}

func (p *selParser) eof() bool  { return p.pos >= len(p.s) }
func (p *selParser) peek() byte { return p.s[p.pos] }

func (p *selParser) skipSpace() {
	for !p.eof() && (p.peek() == ' ' || p.peek() == '\t' || p.peek() == '\n' || p.peek() == '\r') {
		p.pos++
	}
}

func (p *selParser) errorAt(pos int, format string, args ...any) error {
	err := Errorf(p.code, format, args...)
	msg := err.Message + " at position " + strconv.Itoa(pos+1) + " of select " + quoteClip(p.s)
	err.Message, err.Detail = msg, msg
	return err
}

// list parses items; with closing it stops before the ')' ending an embed.
func (p *selParser) list(depth int, closing bool) (Selection, error) {
	var sel Selection
	seen := map[string]bool{}
	for {
		p.skipSpace()
		if !p.eof() && p.peek() == '*' {
			p.pos++
			sel.Star = true
		} else {
			start := p.pos
			item, err := p.item(depth)
			if err != nil {
				return Selection{}, err
			}
			name := item.OutputName()
			if seen[name] {
				return Selection{}, p.errorAt(start, "duplicate output name %q", name)
			}
			seen[name] = true
			sel.Items = append(sel.Items, item)
		}
		p.skipSpace()
		if p.eof() {
			if closing {
				return Selection{}, p.errorAt(p.pos, "missing ')'")
			}
			return sel, nil
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
			if closing {
				return sel, nil
			}
			return Selection{}, p.errorAt(p.pos, "unbalanced ')'")
		default:
			return Selection{}, p.errorAt(p.pos, "unexpected %q", string(p.peek()))
		}
	}
}

// name reads up to a delimiter; everything else is kept so an invalid name
// is reported whole.
func (p *selParser) name() string {
	start := p.pos
	for !p.eof() {
		switch p.peek() {
		case ',', '(', ')', ':', '!', '*', ' ', '\t', '\n', '\r':
			return p.s[start:p.pos]
		}
		p.pos++
	}
	return p.s[start:p.pos]
}

// selHead is the part of an item before its embedded list.
type selHead struct {
	alias, schema, name, hint string
}

// head parses [alias ':'] [schema '.'] name ['!' hint]. A schema is only
// legal on an embed (item checks that): columns are never qualified.
func (p *selParser) head() (selHead, error) {
	var h selHead
	start := p.pos
	name := p.name()
	if name == "" {
		if p.eof() {
			return selHead{}, p.errorAt(p.pos, "expected a column name")
		}
		return selHead{}, p.errorAt(p.pos, "expected a column name but found %q", string(p.peek()))
	}
	if !p.eof() && p.peek() == ':' {
		if p.pos+1 < len(p.s) && p.s[p.pos+1] == ':' {
			return selHead{}, p.errorAt(p.pos, "casts (::) are not supported in select")
		}
		if !ValidIdentifier(name) {
			return selHead{}, p.errorAt(start, "invalid alias %q", clip(name))
		}
		h.alias = name
		p.pos++
		start = p.pos
		name = p.name()
		if name == "" {
			return selHead{}, p.errorAt(p.pos, "expected a column name after alias %q", h.alias)
		}
	}
	if schema, table, ok := strings.Cut(name, "."); ok && ValidIdentifier(schema) && ValidIdentifier(table) {
		h.schema, name = schema, table
	} else if !ValidIdentifier(name) {
		return selHead{}, p.errorAt(start, "invalid column name %q", clip(name))
	}
	h.name = name
	if !p.eof() && p.peek() == '!' {
		p.pos++
		hstart := p.pos
		h.hint = p.name()
		if !ValidIdentifier(h.hint) {
			return selHead{}, p.errorAt(hstart, "invalid embed hint %q", clip(h.hint))
		}
	}
	if !p.eof() && p.peek() == ':' {
		if p.pos+1 < len(p.s) && p.s[p.pos+1] == ':' {
			return selHead{}, p.errorAt(p.pos, "casts (::) are not supported in select")
		}
		return selHead{}, p.errorAt(p.pos, "unexpected ':' after %q", name)
	}
	return h, nil
}

// embed is the embed this head names, over selection sub.
func (h selHead) embed(sub Selection) *Embed {
	return &Embed{Target: h.name, Schema: h.schema, Hint: h.hint, Alias: h.alias, Selection: sub}
}

// item parses one column or embed.
func (p *selParser) item(depth int) (SelectItem, error) {
	start := p.pos
	h, err := p.head()
	if err != nil {
		return SelectItem{}, err
	}
	if p.eof() || p.peek() != '(' {
		if h.hint != "" {
			return SelectItem{}, p.errorAt(p.pos, "hint %q needs an embedded list, as in %s!%s(…)", h.hint, h.name, h.hint)
		}
		if h.schema != "" {
			return SelectItem{}, p.errorAt(start, "invalid column name %q: only an embedded table is schema-qualified, as in %s.%s(…)", h.schema+"."+h.name, h.schema, h.name)
		}
		return SelectItem{Column: h.name, Alias: h.alias}, nil
	}
	open := p.pos
	if depth+1 > maxSelectionDepth {
		return SelectItem{}, p.errorAt(open, "embeds nested deeper than %d levels", maxSelectionDepth)
	}
	p.pos++ // '('
	p.skipSpace()
	var sub Selection
	if !p.eof() && p.peek() == ')' {
		sub = Selection{Star: true}
	} else {
		sub, err = p.list(depth+1, true)
		if err != nil {
			return SelectItem{}, err
		}
	}
	p.pos++ // ')'
	return SelectItem{Embed: h.embed(sub)}, nil
}

// selectionJSON decodes a `columns`/`select` field given as JSON:
//
//   - a string: the grammar of ParseSelection;
//   - an array of strings: each element parsed as a list, results joined
//     (["id","author(name)"] and ["id,name"] both work);
//   - an object (the "nested object form"), keys in document order. Each key
//     is "[alias:][schema.]name[!hint]"; its value says what to take:
//     true → the column; false or null → skipped;
//     a string or array → an embed of that relation with that selection;
//     an object with a "select" key → the SDK's relation node: an embed
//     whose selection is that value (any of these forms), with optional
//     "via", "as" and "schema" (see relationNode), e.g.
//     {"author":{"select":{"name":true},"via":"author_id"}};
//     any other object → an embed whose selection is the object itself,
//     e.g. {"author":{"name":true}}.
//     {"*": true} selects every column.
//
// An absent or null value is Star.
func selectionJSON(raw json.RawMessage, code Code, depth int) (Selection, error) {
	if isNull(raw) {
		return Selection{Star: true}, nil
	}
	if depth > maxSelectionDepth {
		return Selection{}, Errorf(code, "select nested deeper than %d levels", maxSelectionDepth)
	}
	if members, ok, err := orderedObject(raw); ok {
		if err != nil {
			return Selection{}, err
		}
		return selectionObject(members, code, depth)
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return Selection{}, err
	}
	switch t := v.(type) {
	case string:
		return parseSelection(t, code)
	case []any:
		var sel Selection
		seen := map[string]bool{}
		for i, el := range t {
			s, ok := el.(string)
			if !ok {
				return Selection{}, Errorf(code, "select element %d must be a string, got %s", i+1, jsonKind(el))
			}
			part, err := parseSelection(s, code)
			if err != nil {
				return Selection{}, err
			}
			if part.Star && len(part.Items) == 0 && strings.TrimSpace(s) == "" {
				return Selection{}, Errorf(code, "select element %d is empty", i+1)
			}
			sel.Star = sel.Star || part.Star
			for _, it := range part.Items {
				if seen[it.OutputName()] {
					return Selection{}, Errorf(code, "duplicate output name %q in select", it.OutputName())
				}
				seen[it.OutputName()] = true
				sel.Items = append(sel.Items, it)
			}
		}
		if !sel.Star && len(sel.Items) == 0 {
			sel.Star = true
		}
		return sel, nil
	}
	return Selection{}, Errorf(code, "select must be a string, an array of strings or an object, got %s", jsonKind(v))
}

// selectionObject maps the nested object form (see selectionJSON).
func selectionObject(members []member, code Code, depth int) (Selection, error) {
	var sel Selection
	seen := map[string]bool{}
	for _, m := range members {
		if strings.TrimSpace(m.Key) == "*" {
			v, err := decodeJSON(m.Value)
			if err != nil {
				return Selection{}, err
			}
			if b, ok := v.(bool); ok && b {
				sel.Star = true
			} else if v != nil && v != false {
				return Selection{}, Errorf(code, "select key \"*\" takes true, got %s", jsonShort(v))
			}
			continue
		}
		hp := &selParser{s: m.Key, code: code}
		h, err := hp.head()
		if err != nil {
			return Selection{}, err
		}
		if !hp.eof() {
			return Selection{}, Errorf(code, "invalid select key %q", clip(m.Key))
		}
		var item SelectItem
		if inner, isObj, err := orderedObject(m.Value); isObj {
			if err != nil {
				return Selection{}, err
			}
			if hasMember(inner, "select") {
				if item, err = relationNode(h, m.Key, inner, code, depth); err != nil {
					return Selection{}, err
				}
			} else {
				sub, err := selectionJSON(m.Value, code, depth+1)
				if err != nil {
					return Selection{}, err
				}
				item = SelectItem{Embed: h.embed(sub)}
			}
		} else {
			v, err := decodeJSON(m.Value)
			if err != nil {
				return Selection{}, err
			}
			switch t := v.(type) {
			case nil:
				continue
			case bool:
				if !t {
					continue
				}
				if h.hint != "" {
					return Selection{}, Errorf(code, "select key %q has a hint but no embedded selection", clip(m.Key))
				}
				if h.schema != "" {
					return Selection{}, Errorf(code, "select key %q is schema-qualified but has no embedded selection", clip(m.Key))
				}
				item = SelectItem{Column: h.name, Alias: h.alias}
			case string, []any:
				sub, err := selectionJSON(m.Value, code, depth+1)
				if err != nil {
					return Selection{}, err
				}
				item = SelectItem{Embed: h.embed(sub)}
			default:
				return Selection{}, Errorf(code, "select key %q takes true, a selection or an object, got %s", clip(m.Key), jsonKind(v))
			}
		}
		out := item.OutputName()
		if seen[out] {
			return Selection{}, Errorf(code, "duplicate output name %q in select", out)
		}
		seen[out] = true
		sel.Items = append(sel.Items, item)
	}
	if !sel.Star && len(sel.Items) == 0 {
		return Selection{}, Errorf(code, "select object selects nothing")
	}
	return sel, nil
}

func hasMember(members []member, key string) bool {
	for _, m := range members {
		if m.Key == key {
			return true
		}
	}
	return false
}

// relationNode maps one relation node of the SDK's object select
// (src/query-ast.ts AthenaRelationSelectNode): {"select": …, "as", "via",
// "schema"}. As the SDK compiles it to a string token
// ("[as:][schema.]via(select)"), so do we:
//   - via is what the relation goes through (a foreign-key column of this
//     table, or the related table's name, "schema.table" allowed); the key
//     then stays the output name;
//   - as renames the output key;
//   - schema qualifies the related table.
//
// where, orderBy, limit and offset inside a relation would narrow the
// embedded rows; they are refused, never ignored.
func relationNode(h selHead, key string, members []member, code Code, depth int) (SelectItem, error) {
	var subRaw json.RawMessage
	var as, via, schema string
	for _, m := range members {
		switch m.Key {
		case "select":
			subRaw = m.Value
			if isNull(subRaw) {
				subRaw = json.RawMessage(`"*"`)
			}
		case "as", "via", "schema":
			v, err := decodeJSON(m.Value)
			if err != nil {
				return SelectItem{}, err
			}
			str, ok := v.(string)
			if !ok && v != nil {
				return SelectItem{}, Errorf(code, "select %q: %s must be a string, got %s", clip(key), m.Key, jsonKind(v))
			}
			str = strings.TrimSpace(str)
			switch m.Key {
			case "as":
				as = str
			case "via":
				via = str
			default:
				schema = str
			}
		case "where", "orderBy", "limit", "offset":
			return SelectItem{}, Errorf(code, "select %q: %s inside an embedded relation is not supported", clip(key), m.Key)
		default:
			return SelectItem{}, Errorf(code, "select %q: unknown relation key %q (expected select, as, via or schema)", clip(key), clip(m.Key))
		}
	}
	sub, err := selectionJSON(subRaw, code, depth+1)
	if err != nil {
		return SelectItem{}, err
	}
	e := h.embed(sub)
	if via != "" {
		vp := &selParser{s: via, code: code}
		vh, err := vp.head()
		if err != nil || !vp.eof() || vh.alias != "" {
			return SelectItem{}, Errorf(code, "select %q: invalid via %q (a column or table name)", clip(key), clip(via))
		}
		if e.Alias == "" {
			e.Alias = h.name // the property key stays the output name
		}
		e.Target = vh.name
		if vh.hint != "" {
			e.Hint = vh.hint
		}
		if vh.schema != "" {
			if e.Schema != "" && e.Schema != vh.schema {
				return SelectItem{}, Errorf(code, "select %q: via %q names another schema than %q", clip(key), clip(via), e.Schema)
			}
			e.Schema = vh.schema
		}
	}
	if schema != "" {
		if !ValidIdentifier(schema) {
			return SelectItem{}, Errorf(code, "select %q: invalid schema name %q", clip(key), clip(schema))
		}
		if e.Schema != "" && e.Schema != schema {
			return SelectItem{}, Errorf(code, "select %q is qualified with schema %q; schema %q contradicts it", clip(key), e.Schema, clip(schema))
		}
		e.Schema = schema
	}
	if as != "" {
		if !ValidIdentifier(as) {
			return SelectItem{}, Errorf(code, "select %q: invalid alias %q", clip(key), clip(as))
		}
		e.Alias = as
	}
	return SelectItem{Embed: e}, nil
}

// plainSelection refuses embeds where only columns make sense (RETURNING,
// RPC projections).
func plainSelection(sel Selection, code Code, field string) (Selection, error) {
	for _, it := range sel.Items {
		if it.Embed != nil {
			return Selection{}, Errorf(code, "%s takes plain columns only; embedded relation %q is not allowed here", field, it.Embed.Name())
		}
	}
	return sel, nil
}
