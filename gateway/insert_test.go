package gateway

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeInsert(t *testing.T) {
	tests := []struct {
		name string
		give string
		want InsertRequest
	}{
		{"one row", `{"table_name":"users","insert_body":{"name":"a","age":3}}`,
			InsertRequest{Table: TableRef{Name: "users"}, Rows: []map[string]any{{"name": "a", "age": num("3")}}, Single: true, Returning: star}},
		{"many rows", `{"table_name":"app.users","insert_body":[{"a":1},{"b":null}],"default_to_null":true,"count":"exact","head":true}`,
			InsertRequest{Table: TableRef{Schema: "app", Name: "users"}, Rows: []map[string]any{{"a": num("1")}, {"b": nil}}, Returning: star, DefaultToNull: true, Count: CountExact, Head: true}},
		{"one-row array", `{"table_name":"t","insert_body":[{"a":1}],"strip_nulls":true}`,
			InsertRequest{Table: TableRef{Name: "t"}, Rows: []map[string]any{{"a": num("1")}}, Returning: star, StripNulls: true}},
		{"data alias", `{"table_name":"t","data":{"a":1}}`,
			InsertRequest{Table: TableRef{Name: "t"}, Rows: []map[string]any{{"a": num("1")}}, Single: true, Returning: star}},
		{"returning", `{"table_name":"t","insert_body":{"a":1},"columns":["id","a"]}`,
			InsertRequest{Table: TableRef{Name: "t"}, Rows: []map[string]any{{"a": num("1")}}, Single: true, Returning: cols("id", "a")}},
		// Spec §3.3 (the SDK's appendOnConflict): on_conflict alone merges.
		{"merge", `{"table_name":"t","insert_body":{"a":1},"on_conflict":"a, b"}`,
			InsertRequest{Table: TableRef{Name: "t"}, Rows: []map[string]any{{"a": num("1")}}, Single: true, Returning: star, OnConflict: []string{"a", "b"}, Action: ConflictDoUpdate}},
		{"do update", `{"table_name":"t","insert_body":{"a":1},"on_conflict":["a"],"update_body":{"b":2}}`,
			InsertRequest{Table: TableRef{Name: "t"}, Rows: []map[string]any{{"a": num("1")}}, Single: true, Returning: star, OnConflict: []string{"a"}, Action: ConflictDoUpdate, UpdateBody: map[string]any{"b": num("2")}}},
		{"empty update_body is do nothing", `{"table_name":"t","insert_body":{"a":1},"on_conflict":"a","update_body":{}}`,
			InsertRequest{Table: TableRef{Name: "t"}, Rows: []map[string]any{{"a": num("1")}}, Single: true, Returning: star, OnConflict: []string{"a"}, Action: ConflictDoNothing}},
		{"empty update_body without target", `{"table_name":"t","insert_body":{"a":1},"update_body":{}}`,
			InsertRequest{Table: TableRef{Name: "t"}, Rows: []map[string]any{{"a": num("1")}}, Single: true, Returning: star, Action: ConflictDoNothing}},
		{"null update_body is absent", `{"table_name":"t","insert_body":{"a":1},"update_body":null}`,
			InsertRequest{Table: TableRef{Name: "t"}, Rows: []map[string]any{{"a": num("1")}}, Single: true, Returning: star}},
	}
	for _, tt := range tests {
		got, err := DecodeInsert([]byte(tt.give), Limits{})
		if err != nil {
			t.Errorf("%s: got error %v, want %+v", tt.name, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeInsertErrors(t *testing.T) {
	rows := func(n int) string {
		return "[" + strings.TrimSuffix(strings.Repeat(`{"a":1},`, n), ",") + "]"
	}
	tests := []struct {
		give string
		lim  Limits
		code Code
		want string
	}{
		{`{"table_name":"t","insert_body":`, Limits{}, CodeInvalidJSON, "malformed JSON"},
		{`{"table_name":"t"}`, Limits{}, CodeInvalidInsertPayload, "insert_body is required"},
		{`{"table_name":"t","insert_body":5}`, Limits{}, CodeInvalidInsertPayload, "insert_body must be an object or an array of objects, got a number"},
		{`{"table_name":"t","insert_body":[]}`, Limits{}, CodeInvalidInsertPayload, "empty array"},
		{`{"table_name":"t","insert_body":[{"a":1},2]}`, Limits{}, CodeInvalidInsertPayload, "row 2 must be an object"},
		{`{"table_name":"t","insert_body":{"a\"b":1}}`, Limits{}, CodeInvalidInsertPayload, `invalid column name "a\"b" in insert_body row 1`},
		{`{"table_name":"t","insert_body":[{"a":1},{"uѕer":1}]}`, Limits{}, CodeInvalidInsertPayload, `in insert_body row 2`},
		{`{"table_name":"t","insert_body":{"a; drop":1}}`, Limits{}, CodeInvalidInsertPayload, `invalid column name`},
		{`{"table_name":"t","insert_body":` + rows(4) + `}`, Limits{MaxInsertRows: 3}, CodeInvalidInsertPayload, "at most 3 rows"},
		{`{"table_name":"t;","insert_body":{"a":1}}`, Limits{}, CodeInvalidInsertPayload, "invalid table name"},
		{`{"table_name":"t","insert_body":{"a":1},"columns":"id,author(name)"}`, Limits{}, CodeInvalidInsertPayload, "plain columns only"},
		{`{"table_name":"t","insert_body":{"a":1},"on_conflict":5}`, Limits{}, CodeInvalidInsertPayload, "on_conflict must be"},
		{`{"table_name":"t","insert_body":{"a":1},"on_conflict":"a;b"}`, Limits{}, CodeInvalidInsertPayload, `invalid on_conflict column name "a;b"`},
		{`{"table_name":"t","insert_body":{"a":1},"update_body":{"b":1}}`, Limits{}, CodeInvalidInsertPayload, "update_body needs on_conflict"},
		{`{"table_name":"t","insert_body":{"a":1},"on_conflict":"a","update_body":{"b c":1}}`, Limits{}, CodeInvalidInsertPayload, `invalid column name "b c" in update_body`},
		{`{"table_name":"t","insert_body":{"a":1},"update_body":[1]}`, Limits{}, CodeInvalidInsertPayload, `field "update_body" must be an object`},
		{`{"table_name":"t","insert_body":{"a":1},"default_to_null":"yes"}`, Limits{}, CodeInvalidInsertPayload, `field "default_to_null" must be a boolean`},
	}
	for _, tt := range tests {
		_, err := DecodeInsert([]byte(tt.give), tt.lim)
		checkErr(t, err, tt.code, tt.want)
	}
	// The default batch limit is 10000 rows.
	_, err := DecodeInsert([]byte(fmt.Sprintf(`{"table_name":"t","insert_body":%s}`, rows(DefaultMaxInsertRows+1))), Limits{})
	checkErr(t, err, CodeInvalidInsertPayload, "at most 10000 rows")
	if _, err := DecodeInsert([]byte(fmt.Sprintf(`{"table_name":"t","insert_body":%s}`, rows(DefaultMaxInsertRows))), Limits{}); err != nil {
		t.Fatalf("10000 rows: got %v, want nil", err)
	}
}

func TestSingleRow(t *testing.T) {
	for _, tt := range []struct{ give, want string }{
		{`[{"id":1,"a":[1,2]}]`, `{"id":1,"a":[1,2]}`},
		{`[]`, `null`},
		{` [ ] `, `null`},
	} {
		got, err := SingleRow([]byte(tt.give))
		if err != nil || string(got) != tt.want {
			t.Errorf("SingleRow(%s): got %s, %v; want %s", tt.give, got, err, tt.want)
		}
	}
}
