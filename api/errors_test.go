package api

import (
	"strings"
	"testing"

	"github.com/athena-gateway/athena/gateway"
)

// The SDK builds its error from the envelope's message (then error, then
// details), reads hint and details at the top level, classifies every 409
// as a unique violation and extracts constraint and table names from the
// message with /constraint\s+"([^"]+)"/ and /(?:table|relation)\s+"([^"]+)"/
// (xylex-group/athena-js src/gateway/client.ts resolveErrorMessage and
// resolveErrorHint, src/client.ts createResultError, src/auxiliaries.ts
// classifyKind, extractConstraint, extractTable). So every PostgreSQL error
// carries PostgreSQL's own words in message, its DETAIL and HINT at the top
// level, and only duplicates answer 409 (spec §1.4).
func TestPostgresErrorsTheSDKCanClassify(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/gateway/query", "test", `{"query":"create table rooms (span int4range, exclude using gist (span with &&))"}`).want(t, 200)
	h.do("PUT", "/gateway/insert", "test", `{"table_name":"rooms","insert_body":{"span":"[1,5)"}}`).want(t, 201)
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     gateway.Code
		message, details, hint   string
		sqlstate                 string
	}{
		{
			name: "unique", method: "PUT", path: "/gateway/insert",
			body:   `{"table_name":"users","insert_body":{"email":"ada@example.com"}}`,
			status: 409, code: gateway.CodeUniqueViolation, sqlstate: "23505",
			message: `duplicate key value violates unique constraint "users_email_key"`,
			details: `Key (email)=(ada@example.com) already exists.`,
		},
		{
			name: "exclusion", method: "PUT", path: "/gateway/insert",
			body:   `{"table_name":"rooms","insert_body":{"span":"[3,8)"}}`,
			status: 409, code: gateway.CodeExclusionViolation, sqlstate: "23P01",
			message: `conflicting key value violates exclusion constraint "rooms_span_excl"`,
			details: `Key (span)=([3,8)) conflicts with existing key (span)=([1,5)).`,
		},
		{
			name: "foreign key", method: "PUT", path: "/gateway/insert",
			body:   `{"table_name":"posts","insert_body":{"title":"x","author_id":999}}`,
			status: 400, code: gateway.CodeForeignKeyViolation, sqlstate: "23503",
			message: `insert or update on table "posts" violates foreign key constraint "posts_author_id_fkey"`,
			details: `Key (author_id)=(999) is not present in table "users".`,
		},
		{
			name: "not null", method: "PUT", path: "/gateway/insert",
			body:   `{"table_name":"posts","insert_body":{"author_id":1}}`,
			status: 400, code: gateway.CodeConstraintViolation, sqlstate: "23502",
			message: `null value in column "title" of relation "posts" violates not-null constraint`,
			details: `Failing row contains (`,
		},
		{
			name: "check", method: "PUT", path: "/gateway/insert",
			body:   `{"table_name":"posts","insert_body":{"title":"x","status":"bogus"}}`,
			status: 400, code: gateway.CodeConstraintViolation, sqlstate: "23514",
			message: `new row for relation "posts" violates check constraint "posts_status_check"`,
			details: `Failing row contains (`,
		},
		{
			name: "data exception", method: "PUT", path: "/gateway/insert",
			body:   `{"table_name":"users","insert_body":{"email":"n@x","age":"old"}}`,
			status: 400, code: gateway.CodeInvalidValue, sqlstate: "22P02",
			message: `invalid input syntax for type integer: "old"`,
		},
		{
			name: "hint", method: "POST", path: "/gateway/query",
			body:   `{"query":"select no_such_function(1)"}`,
			status: 404, code: gateway.CodeUnknownFunction, sqlstate: "42883",
			message: `function no_such_function(integer) does not exist`,
			hint:    `No function matches the given name and argument types. You might need to add explicit type casts.`,
		},
		{
			name: "unknown relation", method: "POST", path: "/gateway/query",
			body:   `{"query":"select * from orders2"}`,
			status: 404, code: gateway.CodeUnknownTable, sqlstate: "42P01",
			message: `relation "orders2" does not exist`,
		},
		{
			// The gateway's own catalog check speaks PostgreSQL's words too.
			name: "unknown table", method: "POST", path: "/gateway/fetch",
			body:   `{"table_name":"orders2"}`,
			status: 404, code: gateway.CodeUnknownTable, sqlstate: "42P01",
			message: `relation "orders2" does not exist`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(tc.method, tc.path, "test", tc.body).wantCode(t, tc.status, tc.code)
			if r.JSON["message"] != tc.message || r.JSON["error"] != tc.message {
				t.Errorf("message %q, error %q; want PostgreSQL's %q in both", r.JSON["message"], r.JSON["error"], tc.message)
			}
			// details is PostgreSQL's DETAIL line; a failing row's values
			// vary, so that one is checked by its beginning.
			if got, _ := r.JSON["details"].(string); !strings.HasPrefix(got, tc.details) || (tc.details == "") != (got == "") {
				t.Errorf("details: got %q, want %q", got, tc.details)
			}
			if got, _ := r.JSON["hint"].(string); got != tc.hint {
				t.Errorf("hint: got %q, want %q", got, tc.hint)
			}
			d, _ := r.JSON["data"].(map[string]any)["details"].(map[string]any)
			if d["sqlstate"] != tc.sqlstate {
				t.Errorf("data.details.sqlstate: got %v, want %s", d["sqlstate"], tc.sqlstate)
			}
			// What the SDK extracts from the message.
			if i := strings.Index(tc.message, `constraint "`); i >= 0 {
				want := strings.Split(tc.message[i+len(`constraint "`):], `"`)[0]
				if d["constraint"] != want {
					t.Errorf("data.details.constraint: got %v, want %s", d["constraint"], want)
				}
			}
		})
	}
}

// A server-side failure is not worded by PostgreSQL: its text may name
// roles, hosts or internals (spec §1.4: no internals leaked).
func TestBackendErrorsAreNotWordedByPostgres(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/gateway/query", "test", `{"query":"select pg_terminate_backend(pg_backend_pid())"}`)
	if r.Status < 500 || r.code() != string(gateway.CodeBackendUnavailable) {
		t.Fatalf("got %d %s, want a 503 backend_unavailable", r.Status, r.Body)
	}
	for _, k := range []string{"message", "error"} {
		if s, _ := r.JSON[k].(string); strings.Contains(s, "terminating connection") {
			t.Errorf("%s leaks PostgreSQL's text: %q", k, s)
		}
	}
	if _, ok := r.JSON["details"]; ok {
		t.Errorf("details sent for a backend failure: %s", r.Body)
	}
}
