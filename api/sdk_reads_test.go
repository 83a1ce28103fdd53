package api

import (
	"testing"
)

// The tests in this file send the exact payloads of the JS SDK
// (xylex-group/athena-js) for reads, RPC and raw SQL, and check the fields
// the SDK reads back.

// TestRawQueryRowsAffectedTopLevel: the SDK's mutation meta reader
// (src/result/mutation-meta.ts resolveMutationAffectedRows) looks for
// rows_affected on the response itself, never in meta.
func TestRawQueryRowsAffectedTopLevel(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/gateway/query", "test", `{"query":"update comments set body = body where post_id = $1","params":[1]}`).want(t, 200)
	if num(r.JSON["rows_affected"]) != "2" {
		t.Errorf("top-level rows_affected: got %v, want 2; body %s", r.JSON["rows_affected"], r.Body)
	}
	meta, _ := r.JSON["meta"].(map[string]any)
	if num(meta["rows_affected"]) != "2" {
		t.Errorf("meta.rows_affected: got %v, want 2", meta["rows_affected"])
	}
	// the aliases answer the same shape
	r = h.do("POST", "/gateway/sql", "test", `{"query":"delete from comments where body = $1","params":["third"]}`).want(t, 200)
	if num(r.JSON["rows_affected"]) != "1" {
		t.Errorf("/gateway/sql rows_affected: got %v, want 1; body %s", r.JSON["rows_affected"], r.Body)
	}
}

// TestOrNotPrefix: `.or("not.status.eq.published")` (src/client.ts or())
// sends the expression as one `or` condition; "not.col.op.val" means
// "col.not.op.val".
func TestOrNotPrefix(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"posts","columns":"id,title","conditions":[{"operator":"or","value":"not.status.eq.published"}],"strip_nulls":true}`).want(t, 200)
	rows := r.rows(t)
	if len(rows) != 1 || rows[0]["title"] != "Draft" {
		t.Errorf("or(not.status.eq.published): got %s, want only Draft", r.Body)
	}
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"posts","columns":"title","conditions":[{"operator":"or","value":"not.status.eq.published,priority.eq.urgent"}],"sort_by":{"field":"id","direction":"ascending"},"strip_nulls":true}`).want(t, 200)
	rows = r.rows(t)
	if len(rows) != 2 || rows[0]["title"] != "Draft" || rows[1]["title"] != "Urgent" {
		t.Errorf("or(not.status.eq.published,priority.eq.urgent): got %s, want Draft, Urgent", r.Body)
	}
}
