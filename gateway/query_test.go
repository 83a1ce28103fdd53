package gateway

import (
	"reflect"
	"testing"
)

func TestDecodeQuery(t *testing.T) {
	tests := []struct {
		give string
		want QueryRequest
	}{
		{`{"query":"select 1"}`, QueryRequest{SQL: "select 1"}},
		{`{"sql":"select $1","params":[1,"a",null,{"k":true}],"schema_name":"app","operation":"read","expectedShape":"rows"}`,
			QueryRequest{SQL: "select $1", Params: []any{num("1"), "a", nil, map[string]any{"k": true}}, Schema: "app"}},
	}
	for _, tt := range tests {
		got, err := DecodeQuery([]byte(tt.give))
		if err != nil {
			t.Errorf("DecodeQuery(%s): got error %v, want %+v", tt.give, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DecodeQuery(%s): got %+v, want %+v", tt.give, got, tt.want)
		}
	}
}

func TestDecodeQueryErrors(t *testing.T) {
	tests := []struct {
		give string
		code Code
		want string
	}{
		{`{"query":`, CodeInvalidJSON, "malformed JSON"},
		{`{}`, CodeEmptyQuery, "query is empty"},
		{`{"query":"  \n\t"}`, CodeEmptyQuery, "query is empty"},
		{`{"query":5}`, CodeInvalidQueryPayload, `field "query" must be a string`},
		{`{"query":"select 1","params":{"a":1}}`, CodeInvalidQueryPayload, "params must be an array"},
		{`{"query":"select 1","schema_name":"public; drop"}`, CodeInvalidQueryPayload, `invalid schema name "public; drop"`},
	}
	for _, tt := range tests {
		_, err := DecodeQuery([]byte(tt.give))
		checkErr(t, err, tt.code, tt.want)
	}
}
