package gateway

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func col(name string) SelectItem { return SelectItem{Column: name} }

func embed(target, alias, hint string, sel Selection) SelectItem {
	return SelectItem{Embed: &Embed{Target: target, Alias: alias, Hint: hint, Selection: sel}}
}

func cols(names ...string) Selection {
	s := Selection{}
	for _, n := range names {
		s.Items = append(s.Items, col(n))
	}
	return s
}

var star = Selection{Star: true}

func TestParseSelection(t *testing.T) {
	tests := []struct {
		give string
		want Selection
	}{
		{"", star},
		{" * ", star},
		{"id,name", cols("id", "name")},
		{" id , name ", cols("id", "name")},
		{"nick:name", Selection{Items: []SelectItem{{Column: "name", Alias: "nick"}}}},
		{"id,author:author_id(name),comments(body)", Selection{Items: []SelectItem{
			col("id"),
			embed("author_id", "author", "", cols("name")),
			embed("comments", "", "", cols("body")),
		}}},
		{"*,users!author_id(*)", Selection{Star: true, Items: []SelectItem{embed("users", "", "author_id", star)}}},
		{"a:users!fk(id, b:c(d,e(f)))", Selection{Items: []SelectItem{
			embed("users", "a", "fk", Selection{Items: []SelectItem{
				col("id"),
				embed("c", "b", "", Selection{Items: []SelectItem{col("d"), embed("e", "", "", cols("f"))}}),
			}}),
		}}},
		{"comments()", Selection{Items: []SelectItem{embed("comments", "", "", star)}}},
		// the SDK's .include() on a model with a schema
		{"user_id,user:athena.user(id)", Selection{Items: []SelectItem{
			col("user_id"),
			{Embed: &Embed{Target: "user", Schema: "athena", Alias: "user", Selection: cols("id")}},
		}}},
		{"aux.profiles!fk(*)", Selection{Items: []SelectItem{{Embed: &Embed{Target: "profiles", Schema: "aux", Hint: "fk", Selection: star}}}}},
	}
	for _, tt := range tests {
		got, err := ParseSelection(tt.give)
		if err != nil {
			t.Errorf("ParseSelection(%q): got error %v, want %v", tt.give, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseSelection(%q): got %#v, want %#v", tt.give, got, tt.want)
		}
	}
}

func TestParseSelectionErrors(t *testing.T) {
	tests := []struct {
		give string
		want string
	}{
		{`a"b`, `invalid column name "a\"b"`},
		{"id;drop table x", `invalid column name "id;drop"`},
		{"id,,name", "expected a column name"},
		{"id,", "expected a column name"},
		{"a b", `unexpected "b"`},
		{"a--", `invalid column name "a--"`},
		{"a/*", `invalid column name "a/"`},
		{"uѕers", "invalid column name"},
		{"a\u200b", "invalid column name"},
		{"a\x00", "invalid column name"},
		{"a::text", "casts (::) are not supported"},
		{"a->b", "invalid column name"},
		{"x(a", "missing ')'"},
		{"a)", "unbalanced ')'"},
		{"a!hint", "needs an embedded list"},
		{"id,id", `duplicate output name "id"`},
		{"1a", `invalid column name "1a"`},
		{"a:b:c", `unexpected ':' after "b"`},
		{"a:b::int", "casts (::)"},
		{"public.users", "only an embedded table is schema-qualified"},
		{"a.b.c(x)", `invalid column name "a.b.c"`},
		{"a.(x)", `invalid column name "a."`},
		{`a".b(x)`, `invalid column name "a\".b"`},
		{strings.Repeat("a(", 40) + "b" + strings.Repeat(")", 40), "nested deeper than"},
	}
	for _, tt := range tests {
		_, err := ParseSelection(tt.give)
		checkErr(t, err, CodeInvalidFetchPayload, tt.want)
	}
}

func TestSelectionJSON(t *testing.T) {
	tests := []struct {
		give string
		want Selection
	}{
		{`null`, star},
		{`"id,name"`, cols("id", "name")},
		{`["id","name"]`, cols("id", "name")},
		{`["id,name","author(name)"]`, Selection{Items: []SelectItem{col("id"), col("name"), embed("author", "", "", cols("name"))}}},
		{`[]`, star},
		{`{"name":true,"id":true,"skip":false}`, cols("name", "id")},
		{`{"*":true,"author":{"select":{"name":true}}}`, Selection{Star: true, Items: []SelectItem{embed("author", "", "", cols("name"))}}},
		{`{"author":["name"]}`, Selection{Items: []SelectItem{embed("author", "", "", cols("name"))}}},
		{`{"author":"name,email"}`, Selection{Items: []SelectItem{embed("author", "", "", cols("name", "email"))}}},
		{`{"writer:users!author_id":{"name":true}}`, Selection{Items: []SelectItem{embed("users", "writer", "author_id", cols("name"))}}},
		{`{"nick:name":true}`, Selection{Items: []SelectItem{{Column: "name", Alias: "nick"}}}},
		{`{"author":{"select":null}}`, Selection{Items: []SelectItem{embed("author", "", "", star)}}},
		// the SDK's relation nodes (src/query-ast.ts compileRelationToken)
		{`{"id":true,"author":{"select":{"name":true},"via":"author_id"}}`, Selection{Items: []SelectItem{
			col("id"), embed("author_id", "author", "", cols("name")),
		}}},
		{`{"author":{"select":{"name":true},"via":"author_id","as":"writer"}}`, Selection{Items: []SelectItem{embed("author_id", "writer", "", cols("name"))}}},
		{`{"comments":{"select":{"body":true},"as":"replies"}}`, Selection{Items: []SelectItem{embed("comments", "replies", "", cols("body"))}}},
		{`{"user":{"schema":"athena","select":{"id":true}}}`, Selection{Items: []SelectItem{{Embed: &Embed{Target: "user", Schema: "athena", Selection: cols("id")}}}}},
		{`{"owner":{"select":{"id":true},"via":"athena.user"}}`, Selection{Items: []SelectItem{{Embed: &Embed{Target: "user", Schema: "athena", Alias: "owner", Selection: cols("id")}}}}},
		{`{"athena.user":{"select":{"id":true},"as":"u"}}`, Selection{Items: []SelectItem{{Embed: &Embed{Target: "user", Schema: "athena", Alias: "u", Selection: cols("id")}}}}},
		{`{"author":{"select":{"name":true},"via":"author_id","schema":"s"}}`, Selection{Items: []SelectItem{{Embed: &Embed{Target: "author_id", Schema: "s", Alias: "author", Selection: cols("name")}}}}},
	}
	for _, tt := range tests {
		got, err := selectionJSON(json.RawMessage(tt.give), CodeInvalidFetchPayload, 0)
		if err != nil {
			t.Errorf("selectionJSON(%s): got error %v, want %v", tt.give, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("selectionJSON(%s): got %#v, want %#v", tt.give, got, tt.want)
		}
	}

	bad := []struct {
		give string
		want string
	}{
		{`5`, "select must be a string"},
		{`[1]`, "element 1 must be a string"},
		{`[""]`, "element 1 is empty"},
		{`{"a;b":true}`, `invalid column name "a;b"`},
		{`{"a b":true}`, `invalid select key "a b"`},
		{`{"a":5}`, `select key "a" takes true`},
		{`{"a":false}`, "selects nothing"},
		{`{"*":5}`, `select key "*" takes true`},
		{`{"x":true,"x:y":true}`, `duplicate output name "x"`},
		{`{"a!h":true}`, "has a hint but no embedded selection"},
		{`{"s.a":true}`, "is schema-qualified but has no embedded selection"},
		{`{"a":{"select":{"x":true},"via":"b;c"}}`, `invalid via "b;c"`},
		{`{"a":{"select":{"x":true},"via":5}}`, "via must be a string"},
		{`{"a":{"select":{"x":true},"schema":"s\"x"}}`, "invalid schema name"},
		{`{"a":{"select":{"x":true},"as":"a b"}}`, "invalid alias"},
		{`{"s.a":{"select":{"x":true},"schema":"t"}}`, `contradicts it`},
		{`{"a":{"select":{"x":true},"where":{"x":1}}}`, "where inside an embedded relation is not supported"},
		{`{"a":{"select":{"x":true},"limit":1}}`, "limit inside an embedded relation is not supported"},
		{`{"a":{"select":{"x":true},"viaa":"b"}}`, `unknown relation key "viaa"`},
	}
	for _, tt := range bad {
		_, err := selectionJSON(json.RawMessage(tt.give), CodeInvalidFetchPayload, 0)
		checkErr(t, err, CodeInvalidFetchPayload, tt.want)
	}
}
