package gateway

import (
	"reflect"
	"testing"
)

func TestDecodeUpdate(t *testing.T) {
	tests := []struct {
		name string
		give string
		want UpdateRequest
	}{
		{"conditions", `{"table_name":"t","update_body":{"a":1},"conditions":[{"operator":"eq","column":"id","value":7}],"columns":"id","strip_nulls":true}`,
			UpdateRequest{Table: TableRef{Name: "t"}, Set: map[string]any{"a": num("1")}, Conditions: []Condition{leaf("id", OpEq, num("7"))}, Returning: cols("id"), StripNulls: true}},
		{"where and data alias", `{"table_name":"t","data":{"a":null},"where":{"id":7}}`,
			UpdateRequest{Table: TableRef{Name: "t"}, Set: map[string]any{"a": nil}, Conditions: []Condition{leaf("id", OpEq, num("7"))}, Returning: star}},
		{"unfiltered allowed", `{"table_name":"t","update_body":{"a":1},"allow_unfiltered":true}`,
			UpdateRequest{Table: TableRef{Name: "t"}, Set: map[string]any{"a": num("1")}, AllowUnfiltered: true, Returning: star}},
		{"set alias, bound", `{"table_name":"t","set":{"a":1},"where":{"id":7},"sort_by":{"field":"b","direction":"descending"},"limit":2,"offset":1,"total_pages":4}`,
			UpdateRequest{Table: TableRef{Name: "t"}, Set: map[string]any{"a": num("1")}, Conditions: []Condition{leaf("id", OpEq, num("7"))}, Returning: star,
				Bound: RowBound{Sort: []Sort{{Column: "b", Descending: true}}, Limit: i64(2), Offset: i64(1)}}},
		{"page bound", `{"table_name":"t","data":{"a":1},"where":{"id":7},"current_page":3,"page_size":2}`,
			UpdateRequest{Table: TableRef{Name: "t"}, Set: map[string]any{"a": num("1")}, Conditions: []Condition{leaf("id", OpEq, num("7"))}, Returning: star,
				Bound: RowBound{Limit: i64(2), Offset: i64(4)}}},
		{"page by limit", `{"table_name":"t","data":{"a":1},"where":{"id":7},"current_page":2,"limit":5}`,
			UpdateRequest{Table: TableRef{Name: "t"}, Set: map[string]any{"a": num("1")}, Conditions: []Condition{leaf("id", OpEq, num("7"))}, Returning: star,
				Bound: RowBound{Limit: i64(5), Offset: i64(5)}}},
	}
	for _, tt := range tests {
		got, err := DecodeUpdate([]byte(tt.give), Limits{})
		if err != nil {
			t.Errorf("%s: got error %v, want %+v", tt.name, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeUpdateErrors(t *testing.T) {
	tests := []struct {
		give string
		code Code
		want string
	}{
		{`{`, CodeInvalidJSON, "malformed JSON"},
		{`{"table_name":"t","update_body":{"a":1}}`, CodeInvalidUpdatePayload, "update without conditions is refused; send allow_unfiltered: true to update every row"},
		{`{"table_name":"t","update_body":{"a":1},"conditions":[]}`, CodeInvalidUpdatePayload, "update without conditions is refused"},
		{`{"table_name":"t","update_body":{"a":1},"allow_unfiltered":false}`, CodeInvalidUpdatePayload, "update without conditions is refused"},
		{`{"table_name":"t","conditions":[{"eq_column":"a","eq_value":1}]}`, CodeInvalidUpdatePayload, "update_body is required"},
		{`{"table_name":"t","update_body":{},"allow_unfiltered":true}`, CodeInvalidUpdatePayload, "update_body is empty"},
		{`{"table_name":"t","update_body":"a=1","allow_unfiltered":true}`, CodeInvalidUpdatePayload, `field "update_body" must be an object, got a string`},
		{`{"table_name":"t","update_body":{"a--":1},"allow_unfiltered":true}`, CodeInvalidUpdatePayload, `invalid column name "a--" in update_body`},
		{`{"table_name":"t","update_body":{"a":1},"conditions":[{"operator":"eq","column":"a","value":1,"value_cast":"text;drop"}]}`, CodeInvalidFetchCondition, `invalid cast "text;drop"`},
		{`{"table_name":"t","update_body":{"a":1},"allow_unfiltered":"sure"}`, CodeInvalidUpdatePayload, `field "allow_unfiltered" must be a boolean`},
		{`{"table_name":"t","update_body":{"a":1},"allow_unfiltered":true,"columns":"x(y)"}`, CodeInvalidUpdatePayload, "plain columns only"},
		{`{"table_name":"t","update_body":{"a":1},"allow_unfiltered":true,"sort_by":{"field":"a"}}`, CodeInvalidUpdatePayload, "sort_by without limit or offset is refused"},
		{`{"table_name":"t","update_body":{"a":1},"allow_unfiltered":true,"current_page":2}`, CodeInvalidUpdatePayload, "current_page needs page_size (or limit)"},
		{`{"table_name":"t","update_body":{"a":1},"allow_unfiltered":true,"page_size":0}`, CodeInvalidUpdatePayload, `"page_size" must be at least 1`},
		{`{"table_name":"t","update_body":{"a":1},"allow_unfiltered":true,"limit":"many"}`, CodeInvalidUpdatePayload, `"limit" must be a non-negative integer`},
	}
	for _, tt := range tests {
		_, err := DecodeUpdate([]byte(tt.give), Limits{})
		checkErr(t, err, tt.code, tt.want)
	}
}
