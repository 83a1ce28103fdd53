package api

import (
	"context"
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
	aux := h.schema + "_aux"
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	users := pgx.Identifier{h.schema, "users"}.Sanitize()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+aux+`;
CREATE TABLE `+aux+`.profiles (id serial PRIMARY KEY, user_id bigint REFERENCES `+users+`(id), bio text);
CREATE TABLE `+pgx.Identifier{h.schema, "profiles"}.Sanitize()+` (id serial PRIMARY KEY, user_id bigint REFERENCES `+users+`(id), bio text);
INSERT INTO `+aux+`.profiles (user_id, bio) VALUES (1, 'aux bio');
INSERT INTO `+pgx.Identifier{h.schema, "profiles"}.Sanitize()+` (user_id, bio) VALUES (1, 'main bio');`); err != nil {
		t.Fatalf("create aux schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testDatabaseURL())
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP SCHEMA "+aux+" CASCADE")
	})

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
