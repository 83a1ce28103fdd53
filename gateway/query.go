package gateway

import (
	"strings"
)

// DecodeQuery decodes a raw SQL body (spec §3.6). `sql` is accepted as an
// alias of `query`; `operation` and `expectedShape` are ignored. Params keep
// their decoded JSON form (json.Number for numbers).
func DecodeQuery(body []byte) (QueryRequest, error) {
	return decodeStrict(body, CodeInvalidQueryPayload, queryFrom)
}

// queryFrom reads the fields of a raw query body.
func queryFrom(p payload) (QueryRequest, error) {
	const code = CodeInvalidQueryPayload
	// The SDK describes its statement for executors that care (D1's all
	// vs run); PostgreSQL needs neither.
	p.accept("operation", "expectedShape")
	var err error
	var req QueryRequest
	if req.SQL, err = p.str("query", "sql"); err != nil {
		return QueryRequest{}, err
	}
	if strings.TrimSpace(req.SQL) == "" {
		return QueryRequest{}, Errorf(CodeEmptyQuery, "query is empty")
	}
	field, v, err := p.value("params")
	if err != nil {
		return QueryRequest{}, err
	}
	if field != "" {
		arr, ok := v.([]any)
		if !ok {
			return QueryRequest{}, Errorf(code, "params must be an array, got %s", jsonKind(v))
		}
		req.Params = arr
	}
	schema, err := p.str("schema_name")
	if err != nil {
		return QueryRequest{}, err
	}
	schema = strings.TrimSpace(schema)
	if schema != "" && !ValidIdentifier(schema) {
		return QueryRequest{}, Errorf(code, "invalid schema name %q", clip(schema))
	}
	req.Schema = schema
	return req, nil
}
