package gateway

import (
	"net/url"
	"reflect"
	"testing"
)

func TestDecodeRPC(t *testing.T) {
	tests := []struct {
		name string
		give string
		want RPCRequest
	}{
		{"full", `{"function":"top_users","schema":"app","args":{"n":3},"select":"id,name","filters":[{"column":"age","operator":"gt","value":18}],"count":"exact","limit":10,"offset":2,"order":{"column":"id","ascending":false}}`,
			RPCRequest{Schema: "app", Function: "top_users", Args: map[string]any{"n": num("3")}, Selection: cols("id", "name"),
				Filters: []Condition{leaf("age", OpGt, num("18"))}, Count: CountExact, Limit: i64(10), Offset: i64(2), Sort: []Sort{{Column: "id", Descending: true}}}},
		{"aliases", `{"function_name":"f","schema_name":"s","params":{"a":"x"}}`,
			RPCRequest{Schema: "s", Function: "f", Args: map[string]any{"a": "x"}, Selection: star}},
		{"qualified, no args", `{"function":"s.f"}`,
			RPCRequest{Schema: "s", Function: "f", Args: map[string]any{}, Selection: star}},
		{"head", `{"function":"f","args":{"p":[1,{"a":2}]},"count":"exact","head":true}`,
			RPCRequest{Function: "f", Args: map[string]any{"p": []any{num("1"), map[string]any{"a": num("2")}}}, Selection: star, Count: CountExact, Head: true}},
	}
	for _, tt := range tests {
		got, err := DecodeRPC([]byte(tt.give), Limits{})
		if err != nil {
			t.Errorf("%s: got error %v, want %+v", tt.name, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeRPCErrors(t *testing.T) {
	tests := []struct {
		give string
		code Code
		want string
	}{
		{`{"function":`, CodeInvalidJSON, "malformed JSON"},
		{`{}`, CodeInvalidRPCPayload, "function is required"},
		{`{"function":7}`, CodeInvalidRPCPayload, `field "function" must be a string`},
		{`{"function":"f();drop"}`, CodeInvalidRPCPayload, `invalid function name "f();drop"`},
		{`{"function":"s.f","schema":"x"}`, CodeInvalidRPCPayload, "schema-qualified"},
		{`{"function":"f","schema":"a b"}`, CodeInvalidRPCPayload, `invalid schema name "a b"`},
		{`{"function":"f","args":[1]}`, CodeInvalidRPCPayload, `field "args" must be an object`},
		{`{"function":"f","args":{"a'b":1}}`, CodeInvalidRPCPayload, `invalid argument name "a'b"`},
		{`{"function":"f","select":"a(b)"}`, CodeInvalidRPCPayload, "plain columns only"},
		{`{"function":"f","filters":[{"column":"a","operator":"nope","value":1}]}`, CodeInvalidFetchCondition, `unknown operator "nope"`},
		{`{"function":"f","limit":"x"}`, CodeInvalidRPCPayload, `field "limit"`},
		{`{"function":"f","count":"some"}`, CodeInvalidRPCPayload, `count must be`},
	}
	for _, tt := range tests {
		_, err := DecodeRPC([]byte(tt.give), Limits{})
		checkErr(t, err, tt.code, tt.want)
	}
}

func TestRPCFromQuery(t *testing.T) {
	tests := []struct {
		name string
		give string
		want RPCRequest
	}{
		{"args and options", "n=3&tags={a,b}&select=id,name&count=exact&limit=5&offset=1&order=id.desc,name",
			RPCRequest{Function: "f", Args: map[string]any{"n": "3", "tags": "{a,b}"}, Selection: cols("id", "name"), Count: CountExact,
				Limit: i64(5), Offset: i64(1), Sort: []Sort{{Column: "id", Descending: true}, {Column: "name"}}}},
		{"filters", "age=gt.18&tags=in.(a,b,\"c,d\")&name=like.*x*&gone=is.null&status=not.eq.closed&label=eq.a,b",
			RPCRequest{Function: "f", Args: map[string]any{}, Selection: star, Filters: []Condition{
				leaf("age", OpGt, "18"),
				leaf("gone", OpIs, nil),
				leaf("label", OpEq, "a,b"),
				leaf("name", OpLike, "%x%"),
				{Group: GroupNot, Children: []Condition{leaf("status", OpEq, "closed")}},
				leaf("tags", OpIn, []any{"a", "b", "c,d"}),
			}}},
		{"repeated filter", "age=gt.1&age=lt.9",
			RPCRequest{Function: "f", Args: map[string]any{}, Selection: star, Filters: []Condition{leaf("age", OpGt, "1"), leaf("age", OpLt, "9")}}},
		{"or", "or=(a.eq.1,b.eq.2)",
			RPCRequest{Function: "f", Args: map[string]any{}, Selection: star, Filters: []Condition{{Group: GroupOr, Children: []Condition{leaf("a", OpEq, "1"), leaf("b", OpEq, "2")}}}}},
		{"arg with dot but no operator", "version=1.2.3",
			RPCRequest{Function: "f", Args: map[string]any{"version": "1.2.3"}, Selection: star}},
		// the SDK's GET mode: schema and head are options, in-lists are {a,b}
		{"sdk options", "schema=app&head=true&count=exact&n=1",
			RPCRequest{Schema: "app", Function: "f", Args: map[string]any{"n": "1"}, Selection: star, Count: CountExact, Head: true}},
		{"sdk in-list", "tags=in.{a,\"b,c\"}&ids=in.{}",
			RPCRequest{Function: "f", Args: map[string]any{}, Selection: star, Filters: []Condition{
				leaf("ids", OpIn, []any{}),
				leaf("tags", OpIn, []any{"a", "b,c"}),
			}}},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.give)
		if err != nil {
			t.Fatal(err)
		}
		got, err := RPCFromQuery("f", q, Limits{})
		if err != nil {
			t.Errorf("%s: got error %v, want %+v", tt.name, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestRPCFromQueryErrors(t *testing.T) {
	tests := []struct {
		fn   string
		give string
		lim  Limits
		code Code
		want string
	}{
		{"f;drop", "", Limits{}, CodeInvalidRPCPayload, `invalid function name "f;drop"`},
		{"", "", Limits{}, CodeInvalidRPCPayload, "function is required"},
		{"f", "a=1&a=2", Limits{}, CodeInvalidRPCPayload, `argument "a" is repeated`},
		{"f", "a%20b=1", Limits{}, CodeInvalidRPCPayload, `invalid argument or column name "a b"`},
		{"f", "limit=x", Limits{}, CodeInvalidRPCPayload, `limit must be a non-negative integer, got "x"`},
		{"f", "limit=50", Limits{MaxLimit: 10}, CodeInvalidRPCPayload, "exceeds the maximum of 10"},
		{"f", "limit=1&limit=2", Limits{}, CodeInvalidRPCPayload, `"limit" is repeated`},
		{"f", "count=all", Limits{}, CodeInvalidRPCPayload, "count must be"},
		{"f", "order=a%3Bb", Limits{}, CodeInvalidRPCPayload, `invalid column name "a;b"`},
		{"f", "select=a(b)", Limits{}, CodeInvalidRPCPayload, "plain columns only"},
		{"f", "x=is.maybe", Limits{}, CodeInvalidConditionValue, `accepts null, true or false, got "maybe"`},
		{"f", "x=in.(a,b", Limits{}, CodeInvalidFetchCondition, "missing ')'"},
		{"f", "x=in.a", Limits{}, CodeInvalidConditionValue, "needs a list"},
		{"f", "or=(a.eqq.1)", Limits{}, CodeInvalidFetchCondition, `unknown operator "eqq"`},
		{"f", "head=maybe", Limits{}, CodeInvalidRPCPayload, `head must be true or false, got "maybe"`},
		{"f", "schema=a%3Bb", Limits{}, CodeInvalidRPCPayload, `invalid schema name "a;b"`},
		{"f", "schema=a&schema=b", Limits{}, CodeInvalidRPCPayload, `"schema" is repeated`},
		{"s.f", "schema=t", Limits{}, CodeInvalidRPCPayload, "is schema-qualified"},
		{"f", "x=in.{a", Limits{}, CodeInvalidConditionValue, "needs a list"},
	}
	for _, tt := range tests {
		q, err := url.ParseQuery(tt.give)
		if err != nil {
			t.Fatal(err)
		}
		_, err = RPCFromQuery(tt.fn, q, tt.lim)
		checkErr(t, err, tt.code, tt.want)
	}
}
