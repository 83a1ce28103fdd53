package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

func TestDiscoveryRoutes(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/", "", "").want(t, 200)
	if r.JSON["message"] != "athena is online" || r.JSON["athena_api"] != "online" {
		t.Errorf("root: got %s", r.Body)
	}
	if routes, _ := r.JSON["routes"].([]any); len(routes) < 10 {
		t.Errorf("root lists %d routes, want every route", len(routes))
	}
	if r := h.do("GET", "/ping", "", "").want(t, 200); string(r.Body) != "pong" {
		t.Errorf("ping: got %q, want pong", r.Body)
	}
	// Tenant checks are the admin's (spec §2): a keyless /health lists none.
	r = h.do("GET", "/health", "", "").want(t, 200)
	checks, _ := r.JSON["checks"].(map[string]any)
	if _, named := checks["client:test"]; named {
		t.Errorf("keyless health names client test: %s", r.Body)
	}
	a := auth.New(nil, auth.Options{AdminKey: testAdminKey})
	t.Cleanup(a.Close)
	h.engine = New(registryDeps(h.reg, a), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, slog.New(slog.DiscardHandler))
	h.adminKey = testAdminKey
	r = h.do("GET", "/health", "", "").want(t, 200)
	checks, _ = r.JSON["checks"].(map[string]any)
	if ok, _ := checks["client:test"].(map[string]any); ok["status"] != "ok" {
		t.Errorf("health client:test: got %v", checks["client:test"])
	}
	if dead, _ := checks["client:dead"].(map[string]any); dead["status"] != "down" {
		t.Errorf("health client:dead: got %v, want down", checks["client:dead"])
	}
}

func TestRequestIDOnEveryResponse(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct{ method, path, client, body string }{
		{"GET", "/ping", "", ""},
		{"POST", "/gateway/fetch", "", "{}"},
		{"POST", "/gateway/fetch", "test", "{not json"},
		{"GET", "/nope", "", ""},
	} {
		r := h.do(tc.method, tc.path, tc.client, tc.body)
		if id := r.Header.Get("X-Request-Id"); len(id) != 36 {
			t.Errorf("%s %s: X-Request-Id %q, want a generated uuid", tc.method, tc.path, id)
		}
	}
	r := h.do("GET", "/ping", "", "", "X-Request-Id", "abc-123")
	if got := r.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("propagated id: got %q, want abc-123", got)
	}
	r = h.do("GET", "/ping", "", "", "X-Request-Id", "bad id\twith tab")
	if got := r.Header.Get("X-Request-Id"); got == "bad id\twith tab" {
		t.Errorf("unsafe request id was propagated")
	}
}

func TestClientResolution(t *testing.T) {
	h := newHarness(t)
	body := `{"table_name":"users"}`
	tests := []struct {
		name, client string
		status       int
		code         string
	}{
		{"missing header", "", 400, "missing_client_header"},
		{"unknown client", "nope", 400, "invalid_client"},
		{"injection in name", `test"; DROP TABLE users; --`, 400, "invalid_client"},
		{"trimmed name", "  test  ", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do("POST", "/gateway/fetch", tt.client, body).want(t, tt.status)
			if tt.code != "" && r.code() != tt.code {
				t.Errorf("code: got %q, want %q", r.code(), tt.code)
			}
			if tt.code != "" && (r.JSON["status"] != "error" || r.JSON["message"] == "") {
				t.Errorf("error envelope: got %s", r.Body)
			}
		})
	}
}

func TestDeadDatabaseAnswers503Quickly(t *testing.T) {
	h := newHarness(t)
	start := time.Now()
	r := h.do("POST", "/gateway/fetch", "dead", `{"table_name":"users"}`).want(t, 503)
	if r.code() != "backend_unavailable" {
		t.Errorf("code: got %q, want backend_unavailable", r.code())
	}
	if r.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if strings.Contains(string(r.Body), "127.0.0.1:1") || strings.Contains(string(r.Body), "nowhere") {
		t.Errorf("error leaks the connection string: %s", r.Body)
	}
	// The request must not hang on a dead database: the connect timeout
	// (1s) bounds it. Not a performance bound, a liveness one.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("request took %v", d)
	}
	// The live client is unaffected.
	h.do("POST", "/gateway/fetch", "test", `{"table_name":"users"}`).want(t, 200)
}

func TestFetch(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name    string
		body    string
		headers []string
		check   func(t *testing.T, r response)
	}{
		{"legacy eq", `{"table_name":"users","conditions":[{"eq_column":"email","eq_value":"ada@example.com"}]}`, nil, func(t *testing.T, r response) {
			rows := r.rows(t)
			if len(rows) != 1 || rows[0]["name"] != "Ada" {
				t.Errorf("got %v, want Ada", rows)
			}
			if r.JSON["message"] != "Fetched 1 rows" {
				t.Errorf("message: got %v", r.JSON["message"])
			}
			if k, _ := r.JSON["cache_key"].(string); len(k) != 16 {
				t.Errorf("cache_key: got %q", k)
			}
		}},
		{"both shapes in one object are one condition", `{"table_name":"users","conditions":[{"eq_column":"name","eq_value":"Bob","operator":"eq","column":"name","value":"Bob"}]}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 1 || rows[0]["name"] != "Bob" {
				t.Errorf("got %v, want Bob", rows)
			}
		}},
		{"modern gt with sort desc", `{"table_name":"users","columns":"name,age","conditions":[{"operator":"gt","column":"age","value":1}],"sort_by":{"field":"age","direction":"descending"}}`, nil, func(t *testing.T, r response) {
			rows := r.rows(t)
			if len(rows) != 2 || rows[0]["name"] != "Cy" || rows[1]["name"] != "Ada" {
				t.Errorf("got %v, want Cy then Ada", rows)
			}
			if _, ok := rows[0]["email"]; ok {
				t.Errorf("projection leaked email: %v", rows[0])
			}
		}},
		{"in and is null", `{"table_name":"users","conditions":[{"operator":"in","column":"name","value":["Ada","Bob"]},{"operator":"is","column":"age","value":null}]}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 1 || rows[0]["name"] != "Bob" {
				t.Errorf("got %v, want Bob", rows)
			}
		}},
		{"or expression", `{"table_name":"posts","conditions":[{"operator":"or","value":"priority.eq.high,priority.eq.urgent"}],"sortBy":{"field":"id","direction":"asc"}}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 2 || rows[0]["title"] != "Hello" || rows[1]["title"] != "Urgent" {
				t.Errorf("got %v", rows)
			}
		}},
		{"not expression", `{"table_name":"posts","conditions":[{"operator":"not","value":"archived_at.is.null"}]}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 0 {
				t.Errorf("got %v, want none", rows)
			}
		}},
		{"nested and inside or", `{"table_name":"posts","conditions":[{"operator":"or","value":"and(status.eq.draft,priority.eq.low),title.eq.Urgent"}],"sort_by":{"field":"id"}}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 2 || rows[0]["title"] != "Draft" {
				t.Errorf("got %v", rows)
			}
		}},
		{"contains on array", `{"table_name":"posts","conditions":[{"operator":"contains","column":"tags","value":["go"]}]}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 1 || rows[0]["title"] != "Hello" {
				t.Errorf("got %v", rows)
			}
		}},
		{"ilike with casts", `{"table_name":"users","conditions":[{"operator":"ilike","column":"email","value":"ADA%","column_cast":"text"}]}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 1 {
				t.Errorf("got %v", rows)
			}
		}},
		{"count exact with limit", `{"table_name":"posts","limit":1,"count":"exact"}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 1 {
				t.Errorf("rows: got %d, want 1", len(rows))
			}
			if num(r.JSON["count"]) != "3" {
				t.Errorf("count: got %v, want 3", r.JSON["count"])
			}
		}},
		{"head returns only the count", `{"table_name":"posts","head":true,"count":"exact"}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 0 {
				t.Errorf("head returned rows: %v", rows)
			}
			if num(r.JSON["count"]) != "3" {
				t.Errorf("count: got %v, want 3", r.JSON["count"])
			}
		}},
		{"planned count is a number", `{"table_name":"posts","count":"planned"}`, nil, func(t *testing.T, r response) {
			if _, ok := r.JSON["count"]; !ok {
				t.Errorf("no count in %s", r.Body)
			}
		}},
		{"paging", `{"table_name":"users","current_page":2,"page_size":2,"sort_by":{"field":"id","direction":"asc"}}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 1 || rows[0]["name"] != "Cy" {
				t.Errorf("got %v, want only Cy", rows)
			}
		}},
		{"strip nulls in body", `{"table_name":"users","conditions":[{"eq_column":"name","eq_value":"Bob"}],"strip_nulls":true}`, nil, func(t *testing.T, r response) {
			if _, ok := r.rows(t)[0]["age"]; ok {
				t.Errorf("null age not stripped: %s", r.Body)
			}
		}},
		{"strip nulls header", `{"table_name":"users","conditions":[{"eq_column":"name","eq_value":"Bob"}]}`, []string{"X-Strip-Nulls", "true"}, func(t *testing.T, r response) {
			if _, ok := r.rows(t)[0]["age"]; ok {
				t.Errorf("null age not stripped: %s", r.Body)
			}
		}},
		{"body strip_nulls wins over header", `{"table_name":"users","conditions":[{"eq_column":"name","eq_value":"Bob"}],"strip_nulls":false}`, []string{"X-Strip-Nulls", "true"}, func(t *testing.T, r response) {
			if _, ok := r.rows(t)[0]["age"]; !ok {
				t.Errorf("age stripped although body said false: %s", r.Body)
			}
		}},
		{"embed to-one and to-many", `{"table_name":"posts","columns":"id,title,author:author_id(name),comments(body)","sort_by":{"field":"id"}}`, nil, func(t *testing.T, r response) {
			rows := r.rows(t)
			if len(rows) != 3 {
				t.Fatalf("got %d rows", len(rows))
			}
			author, _ := rows[0]["author"].(map[string]any)
			if author["name"] != "Ada" {
				t.Errorf("to-one: got %v, want object with Ada", rows[0]["author"])
			}
			comments, _ := rows[0]["comments"].([]any)
			if len(comments) != 2 {
				t.Errorf("to-many: got %v, want 2 comments", rows[0]["comments"])
			}
			if c, _ := rows[1]["comments"].([]any); c == nil || len(c) != 0 {
				t.Errorf("to-many without children: got %v, want []", rows[1]["comments"])
			}
		}},
		{"schema-qualified table", `{"table_name":"` + h.schema + `.users","columns":["id"]}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 3 {
				t.Errorf("got %d rows", len(rows))
			}
		}},
		{"structured where and orderBy", `{"table_name":"users","where":{"age":{"gte":36}},"orderBy":{"age":"asc"}}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 2 || rows[0]["name"] != "Ada" {
				t.Errorf("got %v", rows)
			}
		}},
		{"group by day with sum", `{"table_name":"posts","group_by":"created_at","time_granularity":"day","aggregation_column":"id","aggregation_strategy":"sum"}`, nil, func(t *testing.T, r response) {
			pp, _ := r.JSON["post_processing"].(map[string]any)
			groups, _ := pp["grouped"].([]any)
			if len(groups) != 2 {
				t.Fatalf("groups: got %v", pp)
			}
			g0, _ := groups[0].(map[string]any)
			if num(g0["aggregation"]) != "3" {
				t.Errorf("first day aggregation: got %v, want 3 (1+2)", g0["aggregation"])
			}
			if len(r.rows(t)) != 3 {
				t.Errorf("data must still be the row array")
			}
		}},
		{"view_name alias", `{"view_name":"users","columns":"id"}`, nil, func(t *testing.T, r response) {
			if rows := r.rows(t); len(rows) != 3 {
				t.Errorf("got %d rows", len(rows))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/gateway/fetch", "/gateway/data"} {
				r := h.do("POST", path, "test", tt.body, tt.headers...).want(t, 200)
				if r.JSON["status"] != "success" {
					t.Fatalf("status: got %v", r.JSON["status"])
				}
				tt.check(t, r)
			}
		})
	}
}

func TestBadInputIs4xx(t *testing.T) {
	h := newHarness(t)
	big := `{"table_name":"users","insert_body":{"name":"` + strings.Repeat("x", 2<<20) + `"}}`
	var many strings.Builder
	many.WriteString(`{"table_name":"users","insert_body":[`)
	for i := 0; i < 2001; i++ {
		if i > 0 {
			many.WriteString(",")
		}
		fmt.Fprintf(&many, `{"email":"m%d@x"}`, i)
	}
	many.WriteString("]}")
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed json", "POST", "/gateway/fetch", `{"table_name":`, 400, "invalid_json"},
		{"body not an object", "POST", "/gateway/fetch", `[1,2]`, 400, "invalid_json"},
		{"unknown operator", "POST", "/gateway/fetch", `{"table_name":"users","conditions":[{"operator":"eqq","column":"id","value":1}]}`, 400, "invalid_fetch_condition"},
		{"bad cast", "POST", "/gateway/fetch", `{"table_name":"users","conditions":[{"operator":"eq","column":"id","value":1,"value_cast":"text; drop table users"}]}`, 400, "invalid_fetch_condition"},
		{"bad or expression", "POST", "/gateway/fetch", `{"table_name":"users","conditions":[{"operator":"or","value":"name.eq.(unclosed"}]}`, 400, "invalid_fetch_condition"},
		{"in with scalar", "POST", "/gateway/fetch", `{"table_name":"users","conditions":[{"operator":"in","column":"id","value":5}]}`, 400, "invalid_condition_value"},
		{"unknown table", "POST", "/gateway/fetch", `{"table_name":"orders2"}`, 404, "unknown_table"},
		{"unknown column in condition", "POST", "/gateway/fetch", `{"table_name":"users","conditions":[{"eq_column":"nope","eq_value":1}]}`, 400, "unknown_column"},
		{"unknown column in select", "POST", "/gateway/fetch", `{"table_name":"users","columns":"id,nope"}`, 400, "unknown_column"},
		{"quote in table", "POST", "/gateway/fetch", `{"table_name":"users\"; DROP TABLE users; --"}`, 400, ""},
		{"semicolon in column", "POST", "/gateway/fetch", `{"table_name":"users","columns":"id;drop"}`, 400, ""},
		{"comment in column", "POST", "/gateway/fetch", `{"table_name":"users","columns":"id--"}`, 400, ""},
		{"unicode look-alike table", "POST", "/gateway/fetch", `{"table_name":"u\u0455ers"}`, 400, ""},
		{"zero-width in column", "POST", "/gateway/fetch", `{"table_name":"users","conditions":[{"eq_column":"na\u200bme","eq_value":"x"}]}`, 400, ""},
		{"limit wrong type", "POST", "/gateway/fetch", `{"table_name":"users","limit":"ten"}`, 400, ""},
		{"negative offset", "POST", "/gateway/fetch", `{"table_name":"users","offset":-1}`, 400, ""},
		{"value of wrong type for column", "POST", "/gateway/fetch", `{"table_name":"users","conditions":[{"eq_column":"age","eq_value":"abc"}]}`, 400, "invalid_value"},
		{"insert body number", "PUT", "/gateway/insert", `{"table_name":"users","insert_body":5}`, 400, "invalid_insert_payload"},
		{"insert empty array", "PUT", "/gateway/insert", `{"table_name":"users","insert_body":[]}`, 400, "invalid_insert_payload"},
		{"insert bad key", "PUT", "/gateway/insert", `{"table_name":"users","insert_body":{"email\" text); --":"x"}}`, 400, "invalid_insert_payload"},
		{"oversized batch", "PUT", "/gateway/insert", many.String(), 400, "invalid_insert_payload"},
		{"oversized body", "PUT", "/gateway/insert", big, 413, "payload_too_large"},
		{"update without conditions", "POST", "/gateway/update", `{"table_name":"users","update_body":{"name":"x"}}`, 400, "invalid_update_payload"},
		{"update empty body", "POST", "/gateway/update", `{"table_name":"users","update_body":{},"conditions":[{"eq_column":"id","eq_value":1}]}`, 400, "invalid_update_payload"},
		{"delete without target", "POST", "/gateway/delete", `{"table_name":"users"}`, 400, "invalid_delete_payload"},
		{"empty query", "POST", "/gateway/query", `{"query":"   "}`, 400, "empty_query"},
		{"query missing", "POST", "/gateway/query", `{"params":[1]}`, 400, ""},
		{"query unknown relation", "POST", "/gateway/query", `{"query":"select * from orders2"}`, 404, "unknown_table"},
		{"query unknown column", "POST", "/gateway/query", `{"query":"select nope from users"}`, 400, "unknown_column"},
		{"query syntax error", "POST", "/gateway/query", `{"query":"selec 1"}`, 400, ""},
		{"rpc unknown function", "POST", "/gateway/rpc", `{"function":"nope_fn","args":{}}`, 404, "unknown_function"},
		{"rpc bad function name", "POST", "/gateway/rpc", `{"function":"x(); drop table users; --"}`, 400, ""},
		{"schema columns bad table", "GET", "/schema/columns?table_name=a%22b", "", 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := h.do(tt.method, tt.path, "test", tt.body).want(t, tt.status)
			if tt.code != "" && r.code() != tt.code {
				t.Errorf("code: got %q, want %q; body %s", r.code(), tt.code, r.Body)
			}
			if r.JSON["status"] != "error" || r.JSON["error"] == "" || r.JSON["message"] == "" {
				t.Errorf("not an error envelope: %s", r.Body)
			}
			if data, _ := r.JSON["data"].(map[string]any); data["operation"] == nil {
				t.Errorf("envelope without data.operation: %s", r.Body)
			}
		})
	}
	// None of the injection attempts did anything.
	r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","count":"exact","head":true}`).want(t, 200)
	if num(r.JSON["count"]) != "3" {
		t.Errorf("users after injection attempts: got %v, want 3", r.JSON["count"])
	}
}

func TestValuesAreNeverSQL(t *testing.T) {
	h := newHarness(t)
	evil := []string{
		`'; DROP TABLE users; --`,
		`1 OR 1=1`,
		`x' UNION SELECT email FROM users --`,
		`$1`, `\\`, `"`, "ünïcødé ✓",
	}
	for i, v := range evil {
		body := fmt.Sprintf(`{"table_name":"users","insert_body":{"email":%q,"name":%q}}`, fmt.Sprintf("e%d@x", i), v)
		r := h.do("PUT", "/gateway/insert", "test", body).want(t, 201)
		if got := r.JSON["data"].(map[string]any)["name"]; got != v { // one object in, one row out
			t.Errorf("stored %q as %v", v, got)
		}
		r = h.do("POST", "/gateway/fetch", "test", fmt.Sprintf(`{"table_name":"users","conditions":[{"operator":"eq","column":"name","value":%q}]}`, v)).want(t, 200)
		if rows := r.rows(t); len(rows) != 1 {
			t.Errorf("value %q matched %d rows, want 1", v, len(rows))
		}
		r = h.do("POST", "/gateway/fetch", "test", fmt.Sprintf(`{"table_name":"users","conditions":[{"operator":"or","value":"name.eq.%s"}]}`, strings.NewReplacer(`"`, `\"`, `\`, `\\`).Replace(fmt.Sprintf("%q", v)))).want(t, 200)
		if rows := r.rows(t); len(rows) != 1 {
			t.Errorf("or-expression value %q matched %d rows, want 1", v, len(rows))
		}
	}
}

func TestInsertUpdateDeleteLifecycle(t *testing.T) {
	h := newHarness(t)
	// single insert with RETURNING projection
	r := h.do("PUT", "/gateway/insert", "test", `{"table_name":"users","insert_body":{"email":"dee@example.com","name":"Dee"},"columns":"id,email"}`).want(t, 201)
	if r.JSON["message"] != "Data inserted successfully" || num(r.JSON["count"]) != "1" {
		t.Errorf("insert envelope: %s", r.Body)
	}
	row, _ := r.JSON["data"].(map[string]any) // one object in, one row out (spec §3.3)
	if _, ok := row["name"]; ok || row["email"] != "dee@example.com" {
		t.Errorf("returning projection: got %v", row)
	}
	id := num(row["id"])

	// duplicate → 409 with PostgreSQL's own wording and SQLSTATE
	r = h.do("POST", "/gateway/insert", "test", `{"table_name":"users","insert_body":{"email":"dee@example.com"}}`).want(t, http.StatusConflict)
	if r.code() != "unique_violation" || !strings.Contains(r.JSON["error"].(string), `duplicate key value violates unique constraint "users_email_key"`) {
		t.Errorf("unique violation envelope: %s", r.Body)
	}
	if d := r.JSON["data"].(map[string]any)["details"].(map[string]any); d["sqlstate"] != "23505" {
		t.Errorf("sqlstate: got %v", d["sqlstate"])
	}

	// bulk insert with different key sets: missing keys take DEFAULT
	r = h.do("PUT", "/gateway/insert", "test", `{"table_name":"posts","insert_body":[{"title":"a","author_id":1},{"title":"b","status":"published"}]}`).want(t, 201)
	rows := r.rows(t)
	if len(rows) != 2 || rows[0]["status"] != "draft" || rows[1]["status"] != "published" {
		t.Errorf("bulk insert defaults: got %v", rows)
	}
	// default_to_null: missing keys become NULL instead
	r = h.do("PUT", "/gateway/insert", "test", `{"table_name":"users","insert_body":[{"email":"n1@x","age":3},{"email":"n2@x"}],"default_to_null":true}`).want(t, 201)
	if rows := r.rows(t); rows[1]["age"] != nil {
		t.Errorf("default_to_null: got %v", rows[1])
	}
	// upsert
	r = h.do("PUT", "/gateway/insert", "test", `{"table_name":"users","insert_body":{"email":"dee@example.com","name":"Dee2"},"on_conflict":"email","update_body":{"name":"Dee3"}}`).want(t, 201)
	if got := r.JSON["data"].(map[string]any)["name"]; got != "Dee3" {
		t.Errorf("upsert: got %v, want Dee3", got)
	}
	// do nothing: update_body {} (on_conflict alone merges, spec §3.3)
	r = h.do("PUT", "/gateway/insert", "test", `{"table_name":"users","insert_body":{"email":"dee@example.com"},"on_conflict":["email"],"update_body":{}}`).want(t, 201)
	if r.JSON["data"] != nil || num(r.JSON["count"]) != "0" {
		t.Errorf("do nothing: got data %v, count %v; want null, 0", r.JSON["data"], r.JSON["count"])
	}
	// foreign key, not-null and check violations are 400 (spec §1.4: only
	// duplicates are 409, which the SDK reads as a unique violation)
	for _, tc := range []struct{ body, code string }{
		{`{"table_name":"posts","insert_body":{"title":"x","author_id":999}}`, "foreign_key_violation"},
		{`{"table_name":"posts","insert_body":{"author_id":1}}`, "constraint_violation"},
		{`{"table_name":"posts","insert_body":{"title":"x","status":"bogus"}}`, "constraint_violation"},
	} {
		r = h.do("PUT", "/gateway/insert", "test", tc.body).want(t, 400)
		if r.code() != tc.code {
			t.Errorf("%s: got %q, want %q", tc.body, r.code(), tc.code)
		}
	}

	// update
	r = h.do("POST", "/gateway/update", "test", `{"table_name":"users","update_body":{"age":41},"conditions":[{"eq_column":"id","eq_value":`+id+`}]}`).want(t, 200)
	if r.JSON["message"] != "Data updated successfully" || num(r.JSON["affected_rows"]) != "1" || num(r.rows(t)[0]["age"]) != "41" {
		t.Errorf("update: %s", r.Body)
	}
	// allow_unfiltered
	r = h.do("POST", "/gateway/update", "test", `{"table_name":"comments","update_body":{"body":"x"},"allow_unfiltered":true}`).want(t, 200)
	if num(r.JSON["affected_rows"]) != "3" {
		t.Errorf("unfiltered update: got %v", r.JSON["affected_rows"])
	}
	// delete by resource_id (primary key) via DELETE and by conditions via POST
	r = h.do("DELETE", "/gateway/delete", "test", `{"table_name":"users","resource_id":`+id+`}`).want(t, 200)
	if r.JSON["message"] != "Data deleted successfully" || num(r.JSON["affected_rows"]) != "1" {
		t.Errorf("delete: %s", r.Body)
	}
	r = h.do("POST", "/gateway/delete", "test", `{"table_name":"orders","conditions":[{"operator":"eq","column":"status","value":"paid"}],"columns":"status"}`).want(t, 200)
	if rows := r.rows(t); len(rows) != 1 || rows[0]["status"] != "paid" {
		t.Errorf("delete by condition: %s", r.Body)
	}
	// uuid primary key through resource_id
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"orders","columns":"id"}`).want(t, 200)
	oid := r.rows(t)[0]["id"].(string)
	h.do("DELETE", "/gateway/delete", "test", `{"table_name":"orders","resource_id":"`+oid+`"}`).want(t, 200)
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"orders","count":"exact","head":true}`).want(t, 200)
	if num(r.JSON["count"]) != "0" {
		t.Errorf("orders left: %v", r.JSON["count"])
	}
}

func TestRawQuery(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/gateway/query", "/gateway/sql", "/query/sql"} {
		r := h.do("POST", path, "test", `{"query":"select id, name from users where age > $1 order by id","params":[30]}`).want(t, 200)
		if r.JSON["message"] != "Query executed" || len(r.rows(t)) != 2 {
			t.Errorf("%s: %s", path, r.Body)
		}
		meta, _ := r.JSON["meta"].(map[string]any)
		if num(meta["returned_row_count"]) != "2" || num(meta["statement_count"]) != "1" {
			t.Errorf("%s meta: %v", path, meta)
		}
	}
	// uuid and numeric come back as strings/numbers, not byte arrays
	r := h.do("POST", "/gateway/query", "test", `{"query":"select id, amount from orders order by amount"}`).want(t, 200)
	row := r.rows(t)[0]
	if s, ok := row["id"].(string); !ok || len(s) != 36 {
		t.Errorf("uuid rendered as %v", row["id"])
	}
	if num(row["amount"]) != "10.50" && num(row["amount"]) != "10.5" {
		t.Errorf("numeric rendered as %v", row["amount"])
	}
	// multi-statement runs in one transaction: a failure rolls back the first statement
	h.do("POST", "/gateway/query", "test", `{"query":"insert into comments (post_id, body) values (1, 'multi'); insert into comments (post_id, body) values (999, 'bad')"}`).wantCode(t, 400, gateway.CodeForeignKeyViolation)
	r = h.do("POST", "/gateway/query", "test", `{"query":"select count(*) as n from comments where body = 'multi'"}`).want(t, 200)
	if num(r.rows(t)[0]["n"]) != "0" {
		t.Errorf("multi-statement was not atomic: %s", r.Body)
	}
	r = h.do("POST", "/gateway/query", "test", `{"query":"update comments set body = body; select count(*) as n from comments"}`).want(t, 200)
	meta, _ := r.JSON["meta"].(map[string]any)
	if num(meta["statement_count"]) != "2" || num(meta["rows_affected"]) == "0" || num(r.rows(t)[0]["n"]) != "3" {
		t.Errorf("multi-statement result: %s", r.Body)
	}
	// schema_name sets the search_path
	r = h.do("POST", "/gateway/query", "test", `{"query":"select current_schema() as s","schema_name":"public"}`).want(t, 200)
	if r.rows(t)[0]["s"] != "public" {
		t.Errorf("schema_name ignored: %s", r.Body)
	}
}

func TestRPC(t *testing.T) {
	h := newHarness(t)
	r := h.do("POST", "/gateway/rpc", "test", `{"function":"posts_by_status","args":{"p_status":"published"},"select":"id,title","order":{"column":"id","ascending":false},"count":"exact"}`).want(t, 200)
	if _, enveloped := r.JSON["status"]; enveloped {
		t.Errorf("rpc success must not be enveloped: %s", r.Body)
	}
	rows := r.rows(t)
	if len(rows) != 2 || rows[0]["title"] != "Urgent" || num(r.JSON["count"]) != "2" {
		t.Errorf("rpc: %s", r.Body)
	}
	r = h.do("GET", "/rpc/posts_by_status?p_status=published&select=title&priority=eq.high", "test", "").want(t, 200)
	if rows := r.rows(t); len(rows) != 1 || rows[0]["title"] != "Hello" {
		t.Errorf("GET rpc with filter: %s", r.Body)
	}
	r = h.do("POST", "/rpc/add_numbers", "test", `{"a":2,"b":40}`).want(t, 200)
	if rows := r.rows(t); len(rows) != 1 || num(rows[0]["add_numbers"]) != "42" {
		t.Errorf("scalar rpc: %s", r.Body)
	}
}

func TestSchemaIntrospection(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/schema/tables", "test", "").want(t, 200)
	if !strings.Contains(string(r.Body), `"comments"`) {
		t.Errorf("tables: %s", r.Body)
	}
	r = h.do("GET", "/schema/columns?table_name=users&table_schema="+h.schema, "test", "").want(t, 200)
	if n := len(r.rows(t)); n != 5 {
		t.Errorf("users columns: got %d, want 5; %s", n, r.Body)
	}
	r = h.do("GET", "/schema/constraints?table_name=posts&table_schema="+h.schema, "test", "").want(t, 200)
	if !strings.Contains(string(r.Body), "FOREIGN KEY") && !strings.Contains(string(r.Body), "foreign") {
		t.Errorf("constraints: %s", r.Body)
	}
}

// TestSDKFlow walks create, read, filter, update, delete the way both SDK
// generations call the gateway (old: apikey + x-api-key headers and legacy
// conditions; new: X-Athena-Key, both condition shapes, X-Athena-Sdk).
func TestSDKFlow(t *testing.T) {
	h := newHarness(t)
	styles := []struct {
		name    string
		headers []string
		cond    string
	}{
		{"old sdk", []string{"apikey", "k", "x-api-key", "k"}, `{"eq_column":"email","eq_value":"%s"}`},
		{"new sdk", []string{"X-Athena-Key", "k", "X-Athena-Sdk", "js/2.0"}, `{"eq_column":"email","eq_value":"%s","operator":"eq","column":"email","value":"%s"}`},
	}
	for _, st := range styles {
		t.Run(st.name, func(t *testing.T) {
			email := strings.ReplaceAll(st.name, " ", "") + "@sdk"
			cond := strings.ReplaceAll(st.cond, "%s", email)
			h.do("PUT", "/gateway/insert", "test", `{"table_name":"users","insert_body":{"email":"`+email+`","name":"S"}}`, st.headers...).want(t, 201)
			r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","conditions":[`+cond+`]}`, st.headers...).want(t, 200)
			if len(r.rows(t)) != 1 {
				t.Fatalf("read back: %s", r.Body)
			}
			h.do("POST", "/gateway/update", "test", `{"table_name":"users","update_body":{"name":"T"},"conditions":[`+cond+`]}`, st.headers...).want(t, 200)
			r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","conditions":[`+cond+`,{"operator":"eq","column":"name","value":"T"}]}`, st.headers...).want(t, 200)
			if len(r.rows(t)) != 1 {
				t.Fatalf("filter after update: %s", r.Body)
			}
			r = h.do("DELETE", "/gateway/delete", "test", `{"table_name":"users","conditions":[`+cond+`]}`, st.headers...).want(t, 200)
			if num(r.JSON["affected_rows"]) != "1" {
				t.Fatalf("delete: %s", r.Body)
			}
		})
	}
}
