package gateway

import (
	"encoding/json"
	"strconv"
	"strings"
)

// DecodeInsert decodes an insert body (spec §3.3). `data` is accepted as an
// alias of `insert_body`. Conflict handling follows the SDK's own compiler
// (athena-js src/postgres/sql.ts appendOnConflict):
//   - on_conflict and a non-empty update_body: DO UPDATE SET those values;
//   - update_body {} ("update nothing"): DO NOTHING, on the on_conflict
//     target when one is sent, on any unique conflict otherwise;
//   - on_conflict without update_body: merge, DO UPDATE SET c = EXCLUDED.c
//     for every inserted column outside the target (DO NOTHING when there is
//     none), which is what `upsert(row, {onConflict})` means;
//   - a non-empty update_body without on_conflict is refused: PostgreSQL
//     needs a conflict target for DO UPDATE, and guessing one could update
//     a row the caller did not mean.
//
// Single records that insert_body was one object, so the answer's data is
// that row (see SingleRow) rather than an array.
func DecodeInsert(body []byte, lim Limits) (InsertRequest, error) {
	return decodeStrict(body, CodeInvalidInsertPayload, func(p payload) (InsertRequest, error) {
		return insertFrom(p, lim)
	})
}

// insertFrom reads the fields of an insert body.
func insertFrom(p payload, lim Limits) (InsertRequest, error) {
	lim = lim.withDefaults()
	const code = CodeInvalidInsertPayload
	var err error
	var req InsertRequest
	if req.Table, err = p.table("table_name"); err != nil {
		return InsertRequest{}, err
	}
	if req.Rows, req.Single, err = insertRows(p, lim); err != nil {
		return InsertRequest{}, err
	}
	if req.Returning, err = returning(p); err != nil {
		return InsertRequest{}, err
	}
	if req.OnConflict, err = conflictTarget(p); err != nil {
		return InsertRequest{}, err
	}
	field, upd, err := p.object("update_body")
	if err != nil {
		return InsertRequest{}, err
	}
	switch {
	case len(upd) > 0:
		if len(req.OnConflict) == 0 {
			return InsertRequest{}, Errorf(code, "update_body needs on_conflict: name the conflict target columns, e.g. \"on_conflict\": \"id\"")
		}
		if err := checkKeys(upd, code, "update_body"); err != nil {
			return InsertRequest{}, err
		}
		req.Action, req.UpdateBody = ConflictDoUpdate, upd
	case field != "":
		req.Action = ConflictDoNothing
	case len(req.OnConflict) > 0:
		req.Action = ConflictDoUpdate // merge the inserted columns
	}
	if req.StripNulls, _, err = p.boolean("strip_nulls"); err != nil {
		return InsertRequest{}, err
	}
	if req.DefaultToNull, _, err = p.boolean("default_to_null"); err != nil {
		return InsertRequest{}, err
	}
	if req.Count, err = p.count(); err != nil {
		return InsertRequest{}, err
	}
	if req.Head, _, err = p.boolean("head"); err != nil {
		return InsertRequest{}, err
	}
	return req, nil
}

// insertRows reads insert_body (or data): one object (single is true) or a
// non-empty array of objects, every key a valid column name.
func insertRows(p payload, lim Limits) (rows []map[string]any, single bool, err error) {
	const code = CodeInvalidInsertPayload
	field, v, err := p.value("insert_body", "data")
	if err != nil {
		return nil, false, err
	}
	if field == "" {
		return nil, false, Errorf(code, "insert_body is required (an object or an array of objects)")
	}
	switch t := v.(type) {
	case map[string]any:
		rows, single = []map[string]any{t}, true
	case []any:
		if len(t) == 0 {
			return nil, false, Errorf(code, "%s is an empty array; send at least one row", field)
		}
		if len(t) > lim.MaxInsertRows {
			return nil, false, Errorf(code, "%s has %d rows; at most %d rows are allowed in one insert", field, len(t), lim.MaxInsertRows)
		}
		rows = make([]map[string]any, 0, len(t))
		for i, el := range t {
			m, ok := el.(map[string]any)
			if !ok {
				return nil, false, Errorf(code, "%s row %d must be an object, got %s", field, i+1, jsonKind(el))
			}
			rows = append(rows, m)
		}
	default:
		return nil, false, Errorf(code, "%s must be an object or an array of objects, got %s", field, jsonKind(v))
	}
	for i, r := range rows {
		if err := checkKeys(r, code, field+" row "+strconv.Itoa(i+1)); err != nil {
			return nil, false, err
		}
	}
	return rows, single, nil
}

// SingleRow is the data an insert answers when insert_body was one object
// (spec §3.3; the SDK types .insert(obj) as one row): the returned row, or
// null when none came back (a conflict skipped it, or head asked for no
// rows). rows is the JSON array the statement returned; it holds at most
// one element for a one-row insert.
func SingleRow(rows json.RawMessage) (json.RawMessage, error) {
	elems, ok, err := rawArray(rows)
	if err != nil {
		return nil, err
	}
	if !ok || len(elems) == 0 {
		return json.RawMessage("null"), nil
	}
	return elems[0], nil
}

// conflictTarget reads on_conflict: "a,b" or ["a","b"].
func conflictTarget(p payload) ([]string, error) {
	const code = CodeInvalidInsertPayload
	field, v, err := p.value("on_conflict")
	if err != nil || field == "" {
		return nil, err
	}
	var names []string
	switch t := v.(type) {
	case string:
		names = strings.Split(t, ",")
	case []any:
		for i, el := range t {
			s, ok := el.(string)
			if !ok {
				return nil, Errorf(code, "on_conflict element %d must be a string, got %s", i+1, jsonKind(el))
			}
			names = append(names, s)
		}
	default:
		return nil, Errorf(code, "on_conflict must be a string or an array of strings, got %s", jsonKind(v))
	}
	var out []string
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !ValidIdentifier(n) {
			return nil, Errorf(code, "invalid on_conflict column name %q", clip(n))
		}
		out = append(out, n)
	}
	return out, nil
}
