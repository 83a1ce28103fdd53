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
