package gateway

// DecodeUpdate decodes an update body (spec §3.4). `data` (what SDK 5.x
// sends) and `set` (older SDKs) are accepted as aliases of `update_body`.
// sort_by, limit, offset and page_size/current_page bound the update (see
// mutationBound). An update with no condition is refused unless
// allow_unfiltered is true, so a forgotten filter cannot rewrite a table.
func DecodeUpdate(body []byte, lim Limits) (UpdateRequest, error) {
	return decodeStrict(body, CodeInvalidUpdatePayload, func(p payload) (UpdateRequest, error) {
		return updateFrom(p, lim)
	})
}

// updateFrom reads the fields of an update body.
func updateFrom(p payload, lim Limits) (UpdateRequest, error) {
	lim = lim.withDefaults()
	const code = CodeInvalidUpdatePayload
	var err error
	var req UpdateRequest
	// The SDK echoes .totalPages(); it narrows nothing.
	p.accept("total_pages")
	if req.Table, err = p.table("table_name"); err != nil {
		return UpdateRequest{}, err
	}
	// data is the SDK's wire name (serializeGatewayUpdateRequest), set an
	// older SDK's.
	field, set, err := p.object("update_body", "data", "set")
	if err != nil {
		return UpdateRequest{}, err
	}
	if field == "" {
		return UpdateRequest{}, Errorf(code, "update_body is required (an object of column → new value)")
	}
	if len(set) == 0 {
		return UpdateRequest{}, Errorf(code, "%s is empty; name at least one column to set", field)
	}
	if err := checkKeys(set, code, field); err != nil {
		return UpdateRequest{}, err
	}
	req.Set = set
	if req.Conditions, err = conditionsOf(p, lim); err != nil {
		return UpdateRequest{}, err
	}
	if req.Bound, err = mutationBound(p); err != nil {
		return UpdateRequest{}, err
	}
	if req.AllowUnfiltered, _, err = p.boolean("allow_unfiltered"); err != nil {
		return UpdateRequest{}, err
	}
	if len(req.Conditions) == 0 && !req.AllowUnfiltered {
		return UpdateRequest{}, Errorf(code, "update without conditions is refused; send allow_unfiltered: true to update every row")
	}
	if req.Returning, err = returning(p); err != nil {
		return UpdateRequest{}, err
	}
	if req.StripNulls, _, err = p.boolean("strip_nulls"); err != nil {
		return UpdateRequest{}, err
	}
	return req, nil
}
