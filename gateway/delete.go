package gateway

import (
	"encoding/json"
	"strings"
)

// DecodeDelete decodes a delete body (spec §3.5). resource_id is a string
// or a number (kept as json.Number); null or "" means absent. A delete with
// neither resource_id nor conditions is refused. sort_by, limit, offset and
// page_size/current_page bound the delete (see mutationBound).
func DecodeDelete(body []byte, lim Limits) (DeleteRequest, error) {
	return decodeStrict(body, CodeInvalidDeletePayload, func(p payload) (DeleteRequest, error) {
		return deleteFrom(p, lim)
	})
}

// deleteFrom reads the fields of a delete body.
func deleteFrom(p payload, lim Limits) (DeleteRequest, error) {
	lim = lim.withDefaults()
	const code = CodeInvalidDeletePayload
	var err error
	var req DeleteRequest
	// The SDK echoes .totalPages(); it narrows nothing.
	p.accept("total_pages")
	if req.Table, err = p.table("table_name"); err != nil {
		return DeleteRequest{}, err
	}
	field, id, err := p.value("resource_id")
	if err != nil {
		return DeleteRequest{}, err
	}
	switch t := id.(type) {
	case nil:
	case string:
		if strings.TrimSpace(t) != "" {
			req.ResourceID = t
		}
	case json.Number:
		req.ResourceID = t
	default:
		return DeleteRequest{}, Errorf(code, "%s must be a string or a number, got %s", field, jsonKind(id))
	}
	if req.Conditions, err = conditionsOf(p, lim); err != nil {
		return DeleteRequest{}, err
	}
	if req.Bound, err = mutationBound(p); err != nil {
		return DeleteRequest{}, err
	}
	if req.ResourceID == nil && len(req.Conditions) == 0 {
		return DeleteRequest{}, Errorf(code, "delete needs resource_id or conditions")
	}
	if req.Returning, err = returning(p); err != nil {
		return DeleteRequest{}, err
	}
	if req.StripNulls, _, err = p.boolean("strip_nulls"); err != nil {
		return DeleteRequest{}, err
	}
	return req, nil
}
