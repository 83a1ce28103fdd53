package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
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

// TestNestedSelectRelationNode: the SDK's findMany AST transport sends its
// object select as is (src/query-ast.ts AthenaRelationSelectNode,
// src/query-transport.ts AthenaFindManyAstPayload): a relation node
// {select, via?, as?} embeds through via and names the output key.
func TestNestedSelectRelationNode(t *testing.T) {
	h := newHarness(t)
	// via: "author" is neither a table nor a column; the key is the output name.
	r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"posts","select":{"id":true,"title":true,"author":{"select":{"name":true},"via":"author_id"}},"orderBy":{"column":"id","ascending":true},"limit":1}`).want(t, 200)
	rows := r.rows(t)
	if len(rows) != 1 {
		t.Fatalf("rows: got %s, want 1", r.Body)
	}
	author, _ := rows[0]["author"].(map[string]any)
	if author["name"] != "Ada" || rows[0]["author_id"] != nil {
		t.Errorf("via author_id: got %s, want author {name: Ada} and no author_id key", r.Body)
	}
	// as renames the embedded key.
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"posts","select":{"id":true,"comments":{"select":{"body":true},"as":"replies"}},"orderBy":{"column":"id","ascending":true},"limit":1}`).want(t, 200)
	rows = r.rows(t)
	replies, _ := rows[0]["replies"].([]any)
	if len(replies) != 2 || rows[0]["comments"] != nil {
		t.Errorf("as replies: got %s, want 2 replies and no comments key", r.Body)
	}
	// via and as together: as wins for the output key.
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"posts","select":{"id":true,"author":{"select":{"email":true},"via":"author_id","as":"writer"}},"orderBy":{"column":"id","ascending":true},"limit":1}`).want(t, 200)
	writer, _ := r.rows(t)[0]["writer"].(map[string]any)
	if writer["email"] != "ada@example.com" {
		t.Errorf("via+as: got %s, want writer {email: ada@example.com}", r.Body)
	}
	// A node key that would narrow the embedded rows is refused, not ignored.
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"posts","select":{"id":true,"comments":{"select":{"body":true},"limit":1}}}`).want(t, 400)
	if !strings.Contains(string(r.Body), "limit inside an embedded relation") {
		t.Errorf("nested limit: got %s", r.Body)
	}
}

// TestNestedSelectSchemaQualified: `.include()` on a model with a schema,
// and findMany's relation node {schema}, compile to "alias:schema.table(…)"
// (src/query-ast.ts compileRelationToken), sent as `columns` or, by the
// structured transport (src/gateway/structured-select.ts), as a `select`
// string with `where`/`orderBy`. Two tables named profiles reference users;
// the schema picks one.
func TestNestedSelectSchemaQualified(t *testing.T) {
	h := newHarness(t)
	aux := h.sideSchemaName("aux")
	users := pgx.Identifier{h.schema, "users"}.Sanitize()
	mainProfiles := pgx.Identifier{h.schema, "profiles"}.Sanitize()
	h.createSideSchema(t, aux, `CREATE TABLE `+aux+`.profiles (id serial PRIMARY KEY, user_id bigint REFERENCES `+users+`(id), bio text);
CREATE TABLE `+mainProfiles+` (id serial PRIMARY KEY, user_id bigint REFERENCES `+users+`(id), bio text);
INSERT INTO `+aux+`.profiles (user_id, bio) VALUES (1, 'aux bio');
INSERT INTO `+mainProfiles+` (user_id, bio) VALUES (1, 'main bio');`)
	// Both schemas are exposed (spec §1.1); one that is not cannot be embedded.
	h.expose(t, h.schema, aux)

	bios := func(r response, key string) []string {
		t.Helper()
		rows := r.rows(t)
		if len(rows) != 1 {
			t.Fatalf("rows: got %s, want 1", r.Body)
		}
		list, _ := rows[0][key].([]any)
		var out []string
		for _, p := range list {
			m, _ := p.(map[string]any)
			out = append(out, num(m["bio"]))
		}
		return out
	}
	// Unqualified, the relation is ambiguous: that is what schema is for.
	h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","columns":"id,profiles(bio)","conditions":[{"operator":"eq","column":"id","value":1,"eq_column":"id","eq_value":1}]}`).want(t, 400)

	// .include() through the legacy transport: columns string.
	r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","columns":"id,profiles:`+aux+`.profiles(bio)","conditions":[{"operator":"eq","column":"id","value":1,"eq_column":"id","eq_value":1}],"strip_nulls":true}`).want(t, 200)
	if got := bios(r, "profiles"); len(got) != 1 || got[0] != "aux bio" {
		t.Errorf("columns %s.profiles(bio): got %v, want [aux bio]; body %s", aux, got, r.Body)
	}
	// The structured transport: select string, where, orderBy.
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","select":"id,p:`+h.schema+`.profiles(bio)","where":{"id":{"eq":1}},"orderBy":{"id":"asc"},"strip_nulls":true}`).want(t, 200)
	if got := bios(r, "p"); len(got) != 1 || got[0] != "main bio" {
		t.Errorf("select %s.profiles(bio): got %v, want [main bio]; body %s", h.schema, got, r.Body)
	}
	// Without an alias the output key is the table name.
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","columns":"id,`+aux+`.profiles(bio)","conditions":[{"operator":"eq","column":"id","value":1}]}`).want(t, 200)
	if got := bios(r, "profiles"); len(got) != 1 || got[0] != "aux bio" {
		t.Errorf("unaliased: got %v; body %s", got, r.Body)
	}
	// The object form's schema key.
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","select":{"id":true,"profiles":{"schema":"`+aux+`","select":{"bio":true}}},"where":{"id":1}}`).want(t, 200)
	if got := bios(r, "profiles"); len(got) != 1 || got[0] != "aux bio" {
		t.Errorf("relation node schema: got %v; body %s", got, r.Body)
	}
	// A schema is an identifier like any other, and must hold the table.
	for _, give := range []string{
		`"id,x:bad-schema.profiles(bio)"`,
		`"id,x:\"a\".profiles(bio)"`,
		`"id,x:nosuch.profiles(bio)"`,
		`"id,` + aux + `.bio"`,
	} {
		r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","columns":`+give+`}`).want(t, 400)
		if r.code() != "invalid_fetch_payload" {
			t.Errorf("columns %s: got code %q, want invalid_fetch_payload; body %s", give, r.code(), r.Body)
		}
	}
}

// rpcFixtureSQL adds functions whose parameters are json, jsonb and arrays.
const rpcFixtureSQL = `
CREATE FUNCTION rpc_jsonb(p jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$ SELECT p $$;
CREATE FUNCTION rpc_json_key(p json, k text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT p->>k $$;
CREATE FUNCTION rpc_int_arr(p int[]) RETURNS int LANGUAGE sql IMMUTABLE AS $$ SELECT cardinality(p) $$;
CREATE FUNCTION rpc_text_arr(p text[]) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT array_to_string(p, '|') $$;
`

// TestRPCJSONAndArrayArguments: args are sent as JSON (src/client.ts
// createRpcBuilder → payload.args); a JSON array or object is json for a
// json/jsonb parameter and an array for an array parameter, decided by the
// function's declared argument types.
func TestRPCJSONAndArrayArguments(t *testing.T) {
	h := newHarness(t)
	h.exec(t, rpcFixtureSQL)
	tests := []struct {
		body string
		want string
	}{
		{`{"function":"rpc_jsonb","args":{"p":[1,{"a":"b"}]}}`, `[{"rpc_jsonb":[1,{"a":"b"}]}]`},
		{`{"function":"rpc_jsonb","args":{"p":{"k":[1,2]}}}`, `[{"rpc_jsonb":{"k":[1,2]}}]`},
		{`{"function":"rpc_json_key","args":{"p":{"k":"v"},"k":"k"}}`, `[{"rpc_json_key":"v"}]`},
		{`{"function":"rpc_int_arr","args":{"p":[1,2,3]}}`, `[{"rpc_int_arr":3}]`},
		{`{"function":"rpc_text_arr","args":{"p":["a,b","c"]}}`, `[{"rpc_text_arr":"a,b|c"}]`},
		{`{"function":"rpc_text_arr","args":{"p":[]}}`, `[{"rpc_text_arr":""}]`},
	}
	for _, tt := range tests {
		r := h.do("POST", "/gateway/rpc", "test", tt.body)
		if r.Status != 200 || !sameJSON(r.JSON["data"], tt.want) {
			t.Errorf("POST %s: got %d %s, want 200 with data %s", tt.body, r.Status, r.Body, tt.want)
		}
	}
}

// sameJSON compares a decoded value with JSON text, ignoring layout.
func sameJSON(got any, want string) bool {
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		return false
	}
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	var g2 any
	_ = json.Unmarshal(gb, &g2)
	gb, _ = json.Marshal(g2)
	return string(gb) == string(wb)
}

// TestRPCHead: head (POST body, src/client.ts createRpcBuilder) and
// head=true (GET, src/gateway/client.ts buildRpcGetEndpoint) answer the
// count only: {"data":[],"count":N}.
func TestRPCHead(t *testing.T) {
	h := newHarness(t)
	for _, body := range []string{
		`{"function":"posts_by_status","args":{"p_status":"published"},"count":"exact","head":true}`,
		`{"function":"posts_by_status","args":{"p_status":"published"},"head":true}`,
	} {
		r := h.do("POST", "/gateway/rpc", "test", body).want(t, 200)
		if string(r.Body) != `{"data":[],"count":2}` {
			t.Errorf("POST %s: got %s, want {\"data\":[],\"count\":2}", body, r.Body)
		}
	}
	r := h.do("POST", "/gateway/rpc", "test", `{"function":"posts_by_status","args":{"p_status":"published"},"filters":[{"column":"priority","operator":"eq","value":"high"}],"count":"exact","head":true,"limit":1}`).want(t, 200)
	if string(r.Body) != `{"data":[],"count":1}` {
		t.Errorf("POST head with filter: got %s, want count 1", r.Body)
	}
	for _, path := range []string{
		"/rpc/posts_by_status?count=exact&head=true&p_status=published",
		"/rpc/posts_by_status?head=true&p_status=published",
	} {
		r = h.do("GET", path, "test", "").want(t, 200)
		if string(r.Body) != `{"data":[],"count":2}` {
			t.Errorf("GET %s: got %s, want {\"data\":[],\"count\":2}", path, r.Body)
		}
	}
	r = h.do("POST", "/rpc/posts_by_status?head=true", "test", `{"p_status":"published"}`).want(t, 200)
	if string(r.Body) != `{"data":[],"count":2}` {
		t.Errorf("POST /rpc/{fn}?head=true: got %s", r.Body)
	}
	h.do("GET", "/rpc/posts_by_status?head=maybe&p_status=published", "test", "").want(t, 400)
}

// TestRPCGetSDKQuery: the SDK's GET mode (src/gateway/client.ts
// buildRpcGetEndpoint) sends schema as a key and in-lists as in.{a,b},
// URL-encoded by URLSearchParams.
func TestRPCGetSDKQuery(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/rpc/posts_by_status?schema="+h.schema+"&select=title&p_status=published&priority=in.%7Bhigh%2Clow%7D", "test", "").want(t, 200)
	if !sameJSON(r.JSON["data"], `[{"title":"Hello"}]`) {
		t.Errorf("in.{high,low}: got %s, want only Hello", r.Body)
	}
	r = h.do("GET", "/rpc/posts_by_status?select=title&count=exact&order=id.desc&p_status=published&priority=in.%7Bhigh%2Curgent%7D", "test", "").want(t, 200)
	if !sameJSON(r.JSON["data"], `[{"title":"Urgent"},{"title":"Hello"}]`) || num(r.JSON["count"]) != "2" {
		t.Errorf("in.{high,urgent} ordered: got %s", r.Body)
	}
	// schema names where the function is looked up.
	r = h.do("GET", "/rpc/posts_by_status?schema=public&p_status=published", "test", "")
	if r.Status != 404 {
		t.Errorf("schema=public: got %d %s, want 404 (the function lives in the test schema)", r.Status, r.Body)
	}
	// Arrays as the SDK writes arguments (toRpcArgumentQueryValue): {a,b}.
	h.exec(t, rpcFixtureSQL)
	r = h.do("GET", "/rpc/rpc_int_arr?p=%7B1%2C2%7D", "test", "").want(t, 200)
	if !sameJSON(r.JSON["data"], `[{"rpc_int_arr":2}]`) {
		t.Errorf("GET array argument: got %s", r.Body)
	}
	r = h.do("GET", "/rpc/rpc_jsonb?p=%7B%22a%22%3A1%7D", "test", "").want(t, 200)
	if !sameJSON(r.JSON["data"], `[{"rpc_jsonb":{"a":1}}]`) {
		t.Errorf("GET object argument: got %s", r.Body)
	}
}
