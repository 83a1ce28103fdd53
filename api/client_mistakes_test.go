package api

import (
	"strings"
	"testing"
)

// TestClientMistakesAre400 checks that requests no retry can fix answer 400
// with a code naming the mistake, never 5xx (spec §1.4).
func TestClientMistakesAre400(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct {
		name, body, wantCode, wantIn string
	}{
		{"too few params", `{"query":"select $1::int + $2::int as n","params":[1]}`, "invalid_query_payload", "parameter"},
		{"too many params", `{"query":"select $1::int as n","params":[1,2]}`, "invalid_query_payload", "parameter"},
		{"too few params, schema_name", `{"query":"select $1::int + $2::int as n","params":[1],"schema_name":"public"}`, "invalid_query_payload", "parameter"},
		{"params but none used", `{"query":"select 1 as n","params":[1]}`, "invalid_query_payload", "parameter"},
		{"NUL in SQL", `{"query":"select 'a\u0000b' as s"}`, "invalid_query_payload", "NUL"},
		{"NUL in SQL with params", `{"query":"select $1::text || '\u0000' as s","params":["x"]}`, "invalid_query_payload", "NUL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/gateway/query", "test", tt.body)
			if r.Status != 400 || r.code() != tt.wantCode || r.Header.Get("Retry-After") != "" {
				t.Fatalf("got %d %q Retry-After %q, want 400 %q without Retry-After; body %s", r.Status, r.code(), r.Header.Get("Retry-After"), tt.wantCode, r.Body)
			}
			if msg, _ := r.JSON["message"].(string); !containsFold(msg, tt.wantIn) {
				t.Errorf("message %q does not mention %q", msg, tt.wantIn)
			}
		})
	}
	// The connection is still usable afterwards.
	h.do("POST", "/gateway/query", "test", `{"query":"select $1::int as n","params":[7]}`).want(t, 200)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
