package api

import (
	"strings"
	"testing"
)

// FuzzGatewayRoutes sends arbitrary bodies to every gateway route of a real
// engine and database: whatever the body, the answer is an envelope with a
// status below 500 (a client mistake is never a server error), and the
// fixture tables survive.
func FuzzGatewayRoutes(f *testing.F) {
	seeds := []string{
		`{"table_name":"users","conditions":[{"eq_column":"id","eq_value":1}]}`,
		`{"table_name":"posts","columns":"id,author:author_id(name),comments(body)","sort_by":{"field":"id"}}`,
		`{"table_name":"posts","conditions":[{"operator":"or","value":"and(status.eq.draft,priority.eq.low),title.eq.x"}]}`,
		`{"table_name":"users","insert_body":[{"email":"f@x"},{"email":"g@x","age":"1"}],"on_conflict":"email"}`,
		`{"table_name":"users","update_body":{"age":1},"where":{"id":{"in":[1,2]}}}`,
		`{"table_name":"users","resource_id":"x"}`,
		`{"query":"select $1::int","params":["1"]}`,
		`{"function":"add_numbers","args":{"a":1,"b":"x"}}`,
		`{"table_name":"users","conditions":[{"operator":"eq","column":"age","value":{"a":[1]}}]}`,
		`{"table_name":"posts","conditions":[{"operator":"contains","column":"meta","value":{"views":10}}]}`,
		`{"table_name":"users","limit":1e400}`,
		`{"table_name":"users","group_by":"created_at","time_granularity":"week"}`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	h := newHarness(f)
	paths := []struct{ method, path string }{
		{"POST", "/gateway/fetch"}, {"PUT", "/gateway/insert"}, {"POST", "/gateway/update"},
		{"POST", "/gateway/delete"}, {"POST", "/gateway/rpc"}, {"POST", "/gateway/query"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		p := paths[int(route)%len(paths)]
		if p.path == "/gateway/query" && containsWrite(body) {
			return // raw SQL may legitimately drop tables; the other routes may not
		}
		th := *h
		th.t = t // helpers must report on the fuzz target's T
		r := th.do(p.method, p.path, "test", body)
		if r.Status >= 500 {
			t.Fatalf("%s %s %q: status %d: %s", p.method, p.path, body, r.Status, r.Body)
		}
		if r.Status >= 400 && (r.JSON["status"] != "error" || r.JSON["code"] == nil) {
			t.Fatalf("%s %s %q: not an error envelope: %s", p.method, p.path, body, r.Body)
		}
	})
}

func containsWrite(body string) bool {
	b := strings.ToLower(body)
	for _, w := range []string{"drop", "alter", "truncate", "delete", "update", "insert", "create", "grant", "revoke", "set", "lock", "copy", "do", "call", "vacuum", "pg_"} {
		if strings.Contains(b, w) {
			return true
		}
	}
	return false
}
