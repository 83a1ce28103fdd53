package gateway

import (
	"reflect"
	"testing"
)

func TestDecodeDelete(t *testing.T) {
	tests := []struct {
		name string
		give string
		want DeleteRequest
	}{
		{"string id", `{"table_name":"t","resource_id":"abc"}`,
			DeleteRequest{Table: TableRef{Name: "t"}, ResourceID: "abc", Returning: star}},
		{"number id", `{"table_name":"t","resource_id":12,"columns":"id"}`,
			DeleteRequest{Table: TableRef{Name: "t"}, ResourceID: num("12"), Returning: cols("id")}},
		{"conditions, null id", `{"table_name":"t","resource_id":null,"conditions":[{"operator":"lt","column":"age","value":3}]}`,
			DeleteRequest{Table: TableRef{Name: "t"}, Conditions: []Condition{leaf("age", OpLt, num("3"))}, Returning: star}},
		{"bound", `{"table_name":"t","resource_id":"x","sort_by":{"field":"age","direction":"ascending"},"limit":1}`,
			DeleteRequest{Table: TableRef{Name: "t"}, ResourceID: "x", Returning: star, Bound: RowBound{Sort: []Sort{{Column: "age"}}, Limit: i64(1)}}},
	}
	for _, tt := range tests {
		got, err := DecodeDelete([]byte(tt.give), Limits{})
		if err != nil {
			t.Errorf("%s: got error %v, want %+v", tt.name, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeDeleteErrors(t *testing.T) {
	tests := []struct {
		give string
		code Code
		want string
	}{
		{`nope`, CodeInvalidJSON, "must be a JSON object"},
		{`{"table_name":"t"}`, CodeInvalidDeletePayload, "delete needs resource_id or conditions"},
		{`{"table_name":"t","resource_id":""}`, CodeInvalidDeletePayload, "delete needs resource_id or conditions"},
		{`{"table_name":"t","conditions":[]}`, CodeInvalidDeletePayload, "delete needs resource_id or conditions"},
		{`{"table_name":"t","resource_id":true}`, CodeInvalidDeletePayload, "resource_id must be a string or a number, got a boolean"},
		{`{"table_name":"t","resource_id":{"id":1}}`, CodeInvalidDeletePayload, "resource_id must be a string or a number"},
		{`{"table_name":"t t","resource_id":1}`, CodeInvalidDeletePayload, "invalid table name"},
		{`{"table_name":"t","conditions":[{"operator":"in","column":"a","value":5}]}`, CodeInvalidConditionValue, `needs an array`},
		{`{"table_name":"t","resource_id":1,"sortBy":"age.desc"}`, CodeInvalidDeletePayload, "sort_by without limit or offset is refused"},
	}
	for _, tt := range tests {
		_, err := DecodeDelete([]byte(tt.give), Limits{})
		checkErr(t, err, tt.code, tt.want)
	}
}
