package gateway

import (
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// DecodeRPC decodes a POST /gateway/rpc or POST /rpc/{function} body (spec
// §3.7). Aliases: function_name for function, schema_name for schema,
// params for args, conditions for filters. function may be "schema.name".
// The selection is a projection of the result rows: plain columns only.
func DecodeRPC(body []byte, lim Limits) (RPCRequest, error) {
	return decodeStrict(body, CodeInvalidRPCPayload, func(p payload) (RPCRequest, error) {
		return rpcFrom(p, lim)
	})
}

// rpcFrom reads the fields of an RPC body.
func rpcFrom(p payload, lim Limits) (RPCRequest, error) {
	lim = lim.withDefaults()
	const code = CodeInvalidRPCPayload
	var err error
	var req RPCRequest
	fn, err := p.str("function", "function_name")
	if err != nil {
		return RPCRequest{}, err
	}
	schema, err := p.str("schema", "schema_name")
	if err != nil {
		return RPCRequest{}, err
	}
	if req.Schema, req.Function, err = functionRef(fn, schema); err != nil {
		return RPCRequest{}, err
	}
	_, args, err := p.object("args", "params")
	if err != nil {
		return RPCRequest{}, err
	}
	if err := checkArgNames(args); err != nil {
		return RPCRequest{}, err
	}
	if args == nil {
		args = map[string]any{}
	}
	req.Args = args

	_, rawSel := p.raw("select", "columns")
	sel, err := selectionJSON(rawSel, code, 0)
	if err != nil {
		return RPCRequest{}, err
	}
	if req.Selection, err = plainSelection(sel, code, "select"); err != nil {
		return RPCRequest{}, err
	}
	if _, raw := p.raw("filters", "conditions"); raw != nil {
		v, err := decodeJSON(raw)
		if err != nil {
			return RPCRequest{}, err
		}
		if req.Filters, err = newCondParser(lim).list(v, 0); err != nil {
			return RPCRequest{}, err
		}
	}
	if req.Count, err = p.count(); err != nil {
		return RPCRequest{}, err
	}
	if req.Head, _, err = p.boolean("head"); err != nil {
		return RPCRequest{}, err
	}
	if req.Limit, req.Offset, err = paging(p, lim); err != nil {
		return RPCRequest{}, err
	}
	if f, raw := p.raw("order", "order_by", "orderBy", "sort_by"); raw != nil {
		if req.Sort, err = sortJSON(raw, code, f); err != nil {
			return RPCRequest{}, err
		}
	}
	return req, nil
}

// functionRef validates a function name, optionally "schema.name".
func functionRef(fn, schema string) (string, string, error) {
	const code = CodeInvalidRPCPayload
	fn = strings.TrimSpace(fn)
	schema = strings.TrimSpace(schema)
	if fn == "" {
		return "", "", Errorf(code, "function is required")
	}
	if i := strings.IndexByte(fn, '.'); i >= 0 {
		if schema != "" {
			return "", "", Errorf(code, "function %q is schema-qualified; do not also send schema", clip(fn))
		}
		schema, fn = fn[:i], fn[i+1:]
	}
	if schema != "" && !ValidIdentifier(schema) {
		return "", "", Errorf(code, "invalid schema name %q", clip(schema))
	}
	if !ValidIdentifier(fn) {
		return "", "", Errorf(code, "invalid function name %q", clip(fn))
	}
	return schema, fn, nil
}

// checkArgNames validates named arguments.
func checkArgNames(args map[string]any) error {
	for k := range args {
		if !ValidIdentifier(k) {
			return Errorf(CodeInvalidRPCPayload, "invalid argument name %q", clip(k))
		}
	}
	return nil
}

// RPCFromQuery builds an RPC request from GET /rpc/{function}?… (spec
// §3.7). select, count, head, limit, offset, order and schema are options
// (the SDK's GET mode, src/gateway/client.ts buildRpcGetEndpoint, sends
// each of them); or/and take a
// filter expression ("(a.eq.1,b.eq.2)"). Every other key is an argument, or
// a filter on the result when its value reads "op.value" (or
// "not.op.value") with op one of eq neq gt gte lt lte like ilike is in cs cd:
// age=gt.18, tags=in.(a,b) or tags=in.{a,b} (the SDK's spelling). So an
// argument whose text starts with such a
// prefix must be sent by POST. Filter values are taken literally (commas
// included) except in-lists; "{a,b}" argument values are passed as text
// (PostgreSQL array literal syntax). A key may repeat as filters; a plain
// argument may not. Keys are handled in sorted order so results are stable.
func RPCFromQuery(function string, q url.Values, lim Limits) (RPCRequest, error) {
	const code = CodeInvalidRPCPayload
	cp := newCondParser(lim)
	lim = cp.lim
	var req RPCRequest
	var err error
	if req.Schema, req.Function, err = functionRef(function, ""); err != nil {
		return RPCRequest{}, err
	}
	req.Args = map[string]any{}
	req.Selection = Selection{Star: true}
	if schemas := q["schema"]; len(schemas) > 0 {
		if len(schemas) > 1 {
			return RPCRequest{}, Errorf(code, "query parameter \"schema\" is repeated")
		}
		if req.Schema, req.Function, err = functionRef(function, schemas[0]); err != nil {
			return RPCRequest{}, err
		}
	}

	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		vals := q[key]
		if len(vals) == 0 {
			continue
		}
		switch key {
		case "schema":
			continue // read above: it qualifies the function
		case "select", "count", "head", "limit", "offset", "order":
			if len(vals) > 1 {
				return RPCRequest{}, Errorf(code, "query parameter %q is repeated", key)
			}
			if err := rpcOption(&req, key, vals[0], lim); err != nil {
				return RPCRequest{}, err
			}
			continue
		case "or", "and":
			kind, _ := lookupGroup(key)
			for _, v := range vals {
				if err := cp.enter(1); err != nil {
					return RPCRequest{}, err
				}
				if err := cp.node(); err != nil {
					return RPCRequest{}, err
				}
				children, err := cp.expression(v, 1)
				if err != nil {
					return RPCRequest{}, within(err, key)
				}
				req.Filters = append(req.Filters, Condition{Group: kind, Children: children})
			}
			continue
		}
		if !ValidIdentifier(key) {
			return RPCRequest{}, Errorf(code, "invalid argument or column name %q", clip(key))
		}
		argSeen := false
		for _, v := range vals {
			c, isFilter, err := queryFilter(cp, key, v)
			if err != nil {
				return RPCRequest{}, err
			}
			if isFilter {
				req.Filters = append(req.Filters, c)
				continue
			}
			if argSeen {
				return RPCRequest{}, Errorf(code, "argument %q is repeated; send an array as {a,b}", key)
			}
			argSeen = true
			req.Args[key] = v
		}
	}
	return req, nil
}

// rpcOption applies one of the special GET keys.
func rpcOption(req *RPCRequest, key, v string, lim Limits) error {
	const code = CodeInvalidRPCPayload
	var err error
	switch key {
	case "select":
		sel, err := parseSelection(v, code)
		if err != nil {
			return err
		}
		req.Selection, err = plainSelection(sel, code, "select")
		return err
	case "count":
		req.Count, err = parseCountMode(v, code)
		return err
	case "order":
		req.Sort, err = parseOrder(v, code)
		return err
	case "head":
		var ok bool
		if req.Head, ok = asBool(v); !ok {
			return Errorf(code, "head must be true or false, got %q", clip(v))
		}
		return nil
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil || n < 0 {
		return Errorf(code, "%s must be a non-negative integer, got %q", key, clip(v))
	}
	if key == "offset" {
		req.Offset = &n
		return nil
	}
	if lim.MaxLimit > 0 && n > lim.MaxLimit {
		return Errorf(code, "limit %d exceeds the maximum of %d", n, lim.MaxLimit)
	}
	req.Limit = &n
	return nil
}

// queryFilter reads "op.value" / "not.op.value" as a filter on column;
// isFilter is false when v does not start with a known operator.
func queryFilter(cp *condParser, column, v string) (Condition, bool, error) {
	opWord, rest, ok := strings.Cut(v, ".")
	if !ok {
		return Condition{}, false, nil
	}
	negate := false
	if opWord == "not" {
		opWord, rest, ok = strings.Cut(rest, ".")
		if !ok {
			return Condition{}, false, nil
		}
		negate = true
	}
	op, known := lookupOperator(opWord)
	if !known || opWord == "contains" || opWord == "containedby" || opWord == "contained_by" {
		return Condition{}, false, nil
	}
	c := Condition{Column: column, Op: op}
	switch op {
	case OpIn:
		// The SDK writes the list as an array literal, in.{a,b}
		// (toRpcFilterQueryValue); PostgREST as in.(a,b). Same items.
		if len(rest) >= 2 && rest[0] == '{' && rest[len(rest)-1] == '}' {
			rest = "(" + rest[1:len(rest)-1] + ")"
		}
		e := &exprParser{cp: cp, s: rest}
		items, err := e.inList(column)
		if err == nil && !e.eof() {
			err = e.errorf("unexpected text after the in-list")
		}
		if err != nil {
			return Condition{}, true, within(err, "filter "+column)
		}
		c.Value = items
	case OpIs:
		iv, ok := isValue(rest)
		if !ok {
			return Condition{}, true, Errorf(CodeInvalidConditionValue, "filter %s: operator \"is\" accepts null, true or false, got %q", column, clip(rest))
		}
		c.Value = iv
	case OpLike, OpIlike:
		c.Value = strings.ReplaceAll(rest, "*", "%")
	default:
		c.Value = rest
	}
	if err := cp.node(); err != nil {
		return Condition{}, true, err
	}
	if negate {
		if err := cp.node(); err != nil {
			return Condition{}, true, err
		}
		c = Condition{Group: GroupNot, Children: []Condition{c}}
	}
	return c, true, nil
}
