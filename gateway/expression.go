package gateway

import (
	"strconv"
	"strings"
)

// ParseExpression parses a PostgREST-style filter expression, the `value`
// of an `or`/`not` condition:
//
//	list  := term (',' term)*            (optionally wrapped in one pair of parentheses)
//	term  := ('and'|'or'|'not') '(' list ')'
//	       | 'not.' ('and'|'or') '(' list ')'
//	       | column '.' ['not.'] op '.' value
//	       | 'not.' column '.' ['not.'] op '.' value   (same as column.not.op.value)
//	op    := eq neq gt gte lt lte like ilike is in cs cd (also contains, containedBy)
//	value := '"' chars with \" and \\ escapes '"'
//	       | '{' … '}' or '[' … ']'      (taken whole, commas included: arrays, JSON)
//	       | chars up to ',' or ')'
//	in    := '(' [item (',' item)*] ')'  (items quoted or bare; bare items are trimmed)
//
// It returns the top-level terms; the caller decides how they combine (an
// `or` condition ORs them, `not` negates their AND). Values are strings,
// except `is` (nil, true or false) and `in` ([]any of strings). In like and
// ilike values `*` stands for `%`, as in PostgREST. Positions in errors are
// 1-based byte offsets into s.
func ParseExpression(s string, lim Limits) ([]Condition, error) {
	return newCondParser(lim).expression(s, 0)
}

// exprParser is a recursive-descent parser over one expression string.
type exprParser struct {
	cp  *condParser
	s   string
	pos int
}

// expression parses s; depth is the number of groups already enclosing it.
func (p *condParser) expression(s string, depth int) ([]Condition, error) {
	e := &exprParser{cp: p, s: s}
	e.skipSpace()
	if e.eof() {
		return nil, Errorf(CodeInvalidFetchCondition, "empty filter expression")
	}
	var (
		list []Condition
		err  error
	)
	if e.peek() == '(' {
		e.pos++
		list, err = e.list(depth, true)
		if err == nil {
			e.pos++ // the ')' list stopped at
		}
	} else {
		list, err = e.list(depth, false)
	}
	if err != nil {
		return nil, err
	}
	e.skipSpace()
	if !e.eof() {
		return nil, e.errorf("unexpected %q", string(e.s[e.pos]))
	}
	return list, nil
}

func (e *exprParser) eof() bool  { return e.pos >= len(e.s) }
func (e *exprParser) peek() byte { return e.s[e.pos] }

func (e *exprParser) skipSpace() {
	for !e.eof() && (e.s[e.pos] == ' ' || e.s[e.pos] == '\t' || e.s[e.pos] == '\n' || e.s[e.pos] == '\r') {
		e.pos++
	}
}

// errorf builds an invalid_fetch_condition error at the current position.
func (e *exprParser) errorf(format string, args ...any) error {
	return e.errorAt(CodeInvalidFetchCondition, e.pos, format, args...)
}

func (e *exprParser) errorAt(code Code, pos int, format string, args ...any) error {
	err := Errorf(code, format, args...)
	msg := err.Message + " at position " + strconv.Itoa(pos+1) + " of filter expression " + quoteClip(e.s)
	err.Message, err.Detail = msg, msg
	return err
}

// list parses terms separated by commas. With closing it stops before the
// ')' that ends the enclosing group (the caller consumes it).
func (e *exprParser) list(depth int, closing bool) ([]Condition, error) {
	var out []Condition
	for {
		e.skipSpace()
		c, err := e.term(depth)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
		e.skipSpace()
		if e.eof() {
			if closing {
				return nil, e.errorf("missing ')'")
			}
			return out, nil
		}
		switch e.peek() {
		case ',':
			e.pos++
		case ')':
			if closing {
				return out, nil
			}
			return nil, e.errorf("unbalanced ')'")
		default:
			return nil, e.errorf("expected ',' or ')' but found %q", string(e.peek()))
		}
	}
}

// word reads up to the next '.', ',', '(' or ')'. Anything else is kept so
// that an invalid name is reported whole ("a\"b"), not cut at the quote.
func (e *exprParser) word() string {
	start := e.pos
	for !e.eof() {
		switch e.peek() {
		case '.', ',', '(', ')':
			return e.s[start:e.pos]
		}
		e.pos++
	}
	return e.s[start:e.pos]
}

// term parses one group or one comparison.
func (e *exprParser) term(depth int) (Condition, error) {
	start := e.pos
	w := e.word()
	name := strings.TrimSpace(w)
	if e.eof() {
		if name == "" {
			return Condition{}, e.errorf("expected a condition")
		}
		return Condition{}, e.errorAt(CodeInvalidFetchCondition, start, "incomplete condition %q; expected column.operator.value", clip(name))
	}
	switch e.peek() {
	case '(':
		kind, ok := lookupGroup(strings.ToLower(name))
		if !ok {
			return Condition{}, e.errorAt(CodeInvalidFetchCondition, start, "unknown group %q; expected and(…), or(…) or not(…)", clip(name))
		}
		return e.group(kind, depth)
	case '.':
	default:
		if name == "" {
			return Condition{}, e.errorf("expected a condition but found %q", string(e.peek()))
		}
		return Condition{}, e.errorAt(CodeInvalidFetchCondition, start, "incomplete condition %q; expected column.operator.value", clip(name))
	}
	e.pos++ // '.'

	if strings.EqualFold(w, "not") {
		// not.and(…) / not.or(…); anything else means a column named "not".
		save := e.pos
		w2 := strings.ToLower(e.word())
		if !e.eof() && e.peek() == '(' && (w2 == "and" || w2 == "or") {
			if w2 == "and" {
				// not.and(a,b) is exactly GroupNot{a,b}: one node, one level.
				inner, err := e.group(GroupAnd, depth)
				if err != nil {
					return Condition{}, err
				}
				return Condition{Group: GroupNot, Children: inner.Children}, nil
			}
			if err := e.cp.enter(depth + 1); err != nil {
				return Condition{}, e.errorAt(CodeInvalidFetchCondition, start, "%s", AsError(err).Message)
			}
			if err := e.cp.node(); err != nil {
				return Condition{}, err
			}
			inner, err := e.group(GroupOr, depth+1)
			if err != nil {
				return Condition{}, err
			}
			return Condition{Group: GroupNot, Children: []Condition{inner}}, nil
		}
		e.pos = save
		if e.negatedTerm() {
			// not.col.op.val is col.not.op.val written the other way
			// round (the SDK's or("not.col.op.val")): the same one
			// negation level and node over the same leaf.
			if err := e.cp.enter(depth + 1); err != nil {
				return Condition{}, e.errorAt(CodeInvalidFetchCondition, start, "%s", AsError(err).Message)
			}
			inner, err := e.term(depth + 1)
			if err != nil {
				return Condition{}, err
			}
			if err := e.cp.node(); err != nil {
				return Condition{}, err
			}
			return Condition{Group: GroupNot, Children: []Condition{inner}}, nil
		}
	}

	if !ValidIdentifier(w) {
		return Condition{}, e.errorAt(CodeInvalidFetchCondition, start, "invalid column name %q", clip(w))
	}
	column := w

	opStart := e.pos
	opWord := e.word()
	negate := false
	if strings.EqualFold(opWord, "not") && !e.eof() && e.peek() == '.' {
		negate = true
		e.pos++
		opStart = e.pos
		opWord = e.word()
	}
	op, ok := lookupOperator(strings.ToLower(opWord))
	if !ok {
		if opWord == "" {
			return Condition{}, e.errorAt(CodeInvalidFetchCondition, opStart, "missing operator after column %q", column)
		}
		return Condition{}, e.errorAt(CodeInvalidFetchCondition, opStart, "unknown operator %q", clip(opWord))
	}
	if e.eof() || e.peek() != '.' {
		return Condition{}, e.errorf("missing value after %s.%s", column, opWord)
	}
	e.pos++ // '.'

	leaf, err := e.value(column, op)
	if err != nil {
		return Condition{}, err
	}
	if err := e.cp.node(); err != nil {
		return Condition{}, err
	}
	if !negate {
		return leaf, nil
	}
	if err := e.cp.enter(depth + 1); err != nil {
		return Condition{}, e.errorAt(CodeInvalidFetchCondition, start, "%s", AsError(err).Message)
	}
	if err := e.cp.node(); err != nil {
		return Condition{}, err
	}
	return Condition{Group: GroupNot, Children: []Condition{leaf}}, nil
}

// negatedTerm reports, without consuming anything, whether the text after a
// leading "not." reads column '.' ['not.'] op '.', i.e. "not.col.eq.1" (a
// negated comparison) rather than a comparison on a column named "not"
// ("not.eq.1", "not.is.null"), whose second word is already the operator.
func (e *exprParser) negatedTerm() bool {
	save := e.pos
	defer func() { e.pos = save }()
	if !ValidIdentifier(e.word()) || e.eof() || e.peek() != '.' {
		return false
	}
	e.pos++
	w := e.word()
	if strings.EqualFold(w, "not") && !e.eof() && e.peek() == '.' {
		e.pos++
		w = e.word()
	}
	_, isOp := lookupOperator(strings.ToLower(w))
	return isOp && !e.eof() && e.peek() == '.'
}

// group parses '(' list ')' after and/or/not; depth is the enclosing depth.
func (e *exprParser) group(kind GroupKind, depth int) (Condition, error) {
	open := e.pos
	if err := e.cp.enter(depth + 1); err != nil {
		return Condition{}, e.errorAt(CodeInvalidFetchCondition, open, "%s", AsError(err).Message)
	}
	if err := e.cp.node(); err != nil {
		return Condition{}, err
	}
	e.pos++ // '('
	e.skipSpace()
	if !e.eof() && e.peek() == ')' {
		return Condition{}, e.errorAt(CodeInvalidFetchCondition, open, "empty %s()", string(kind))
	}
	children, err := e.list(depth+1, true)
	if err != nil {
		return Condition{}, err
	}
	e.pos++ // ')'
	return Condition{Group: kind, Children: children}, nil
}

// value parses the value of a comparison according to its operator.
func (e *exprParser) value(column string, op Operator) (Condition, error) {
	c := Condition{Column: column, Op: op}
	start := e.pos
	switch op {
	case OpIn:
		items, err := e.inList(column)
		if err != nil {
			return Condition{}, err
		}
		c.Value = items
		return c, nil
	case OpIs:
		s, err := e.scalar()
		if err != nil {
			return Condition{}, err
		}
		v, ok := isValue(s)
		if !ok {
			return Condition{}, e.errorAt(CodeInvalidConditionValue, start, "operator \"is\" on column %q accepts null, true or false, got %q", column, clip(s))
		}
		c.Value = v
		return c, nil
	}
	s, err := e.scalar()
	if err != nil {
		return Condition{}, err
	}
	if op == OpLike || op == OpIlike {
		s = strings.ReplaceAll(s, "*", "%")
	}
	c.Value = s
	return c, nil
}

// scalar reads one value: quoted, bracketed, or bare up to ',' or ')'.
func (e *exprParser) scalar() (string, error) {
	if e.eof() {
		return "", nil
	}
	switch e.peek() {
	case '"':
		return e.quoted()
	case '{', '[':
		return e.bracketed()
	}
	start := e.pos
	for !e.eof() {
		switch e.peek() {
		case ',', ')':
			return e.s[start:e.pos], nil
		case '(':
			return "", e.errorf("unquoted value contains '('; wrap the value in double quotes")
		case '"':
			return "", e.errorf("unexpected '\"' inside an unquoted value; quote the whole value")
		}
		e.pos++
	}
	return e.s[start:e.pos], nil
}

// quoted reads a double-quoted value; backslash escapes the next byte.
func (e *exprParser) quoted() (string, error) {
	start := e.pos
	e.pos++ // opening quote
	var b strings.Builder
	for !e.eof() {
		c := e.peek()
		switch c {
		case '\\':
			if e.pos+1 >= len(e.s) {
				return "", e.errorAt(CodeInvalidFetchCondition, start, "unterminated quoted value")
			}
			b.WriteByte(e.s[e.pos+1])
			e.pos += 2
			continue
		case '"':
			e.pos++
			return b.String(), nil
		}
		b.WriteByte(c)
		e.pos++
	}
	return "", e.errorAt(CodeInvalidFetchCondition, start, "unterminated quoted value")
}

// bracketed reads a {…} or […] value whole (array literals and JSON carry
// commas), honouring quotes inside so a quoted '}' does not close it.
func (e *exprParser) bracketed() (string, error) {
	start := e.pos
	depth := 0
	inQuote := false
	for !e.eof() {
		c := e.peek()
		switch {
		case inQuote && c == '\\':
			e.pos++
		case c == '"':
			inQuote = !inQuote
		case inQuote:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				e.pos++
				return e.s[start:e.pos], nil
			}
		}
		e.pos++
	}
	return "", e.errorAt(CodeInvalidFetchCondition, start, "unbalanced %q", string(e.s[start]))
}

// inList parses '(' item, … ')' for the in operator.
func (e *exprParser) inList(column string) ([]any, error) {
	if e.eof() || e.peek() != '(' {
		return nil, e.errorAt(CodeInvalidConditionValue, e.pos, "operator \"in\" on column %q needs a list like in.(a,b)", column)
	}
	open := e.pos
	e.pos++
	items := []any{}
	e.skipSpace()
	if !e.eof() && e.peek() == ')' {
		e.pos++
		return items, nil
	}
	for {
		e.skipSpace()
		var item string
		if !e.eof() && e.peek() == '"' {
			s, err := e.quoted()
			if err != nil {
				return nil, err
			}
			item = s
			e.skipSpace()
		} else {
			start := e.pos
			for !e.eof() && e.peek() != ',' && e.peek() != ')' {
				if e.peek() == '(' || e.peek() == '"' {
					return nil, e.errorf("unexpected %q in in-list; quote the value", string(e.peek()))
				}
				e.pos++
			}
			item = strings.TrimSpace(e.s[start:e.pos])
		}
		items = append(items, item)
		if len(items) > e.cp.lim.MaxInValues {
			return nil, e.errorAt(CodeInvalidConditionValue, open, "operator \"in\" on column %q has more than %d values", column, e.cp.lim.MaxInValues)
		}
		if e.eof() {
			return nil, e.errorAt(CodeInvalidFetchCondition, open, "missing ')' closing the in-list")
		}
		switch e.peek() {
		case ',':
			e.pos++
		case ')':
			e.pos++
			return items, nil
		default:
			return nil, e.errorf("expected ',' or ')' in in-list but found %q", string(e.peek()))
		}
	}
}

// quoteClip quotes s for a message, shortened.
func quoteClip(s string) string {
	return strconv.Quote(clip(s))
}
