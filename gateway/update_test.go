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
	}
	for _, tt := range tests {
		_, err := DecodeUpdate([]byte(tt.give), Limits{})
		checkErr(t, err, tt.code, tt.want)
	}
}
