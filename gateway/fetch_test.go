package gateway

import (
	"reflect"
	"strings"
	"testing"
)

func TestDecodeFetch(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name   string
		give   string
		header *bool
		lim    Limits
		want   FetchRequest
	}{
		{"minimal", `{"table_name":"users"}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "users"}, Selection: star}},
		{"qualified view", `{"view_name":"app.v_users"}`, nil, Limits{},
			FetchRequest{Table: TableRef{Schema: "app", Name: "v_users"}, Selection: star}},
		{"schema_name", `{"table_name":"users","schema_name":"app","columns":"id,name"}`, nil, Limits{},
			FetchRequest{Table: TableRef{Schema: "app", Name: "users"}, Selection: cols("id", "name")}},
		{"columns array", `{"table_name":"t","columns":["id","name"]}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: cols("id", "name")}},
		{"select wins", `{"table_name":"t","columns":"id","select":"name"}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: cols("name")}},
		{"select object", `{"table_name":"t","select":{"id":true,"author":{"select":{"name":true}}}}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: Selection{Items: []SelectItem{col("id"), embed("author", "", "", cols("name"))}}}},
		{"conditions and where", `{"table_name":"t","conditions":[{"eq_column":"a","eq_value":1}],"where":{"b":{"gt":2}}}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Conditions: []Condition{leaf("a", OpEq, num("1")), leaf("b", OpGt, num("2"))}}},
		{"limit offset strings", `{"table_name":"t","limit":"10","offset":5}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Limit: i64(10), Offset: i64(5)}},
		{"paging", `{"table_name":"t","current_page":3,"page_size":20}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Limit: i64(20), Offset: i64(40)}},
		{"page_size alone is page 1", `{"table_name":"t","page_size":20}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Limit: i64(20), Offset: i64(0)}},
		{"explicit limit wins over page_size", `{"table_name":"t","page_size":20,"current_page":2,"limit":5}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Limit: i64(5), Offset: i64(20)}},
		{"max limit default", `{"table_name":"t"}`, nil, Limits{MaxLimit: 100},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Limit: i64(100)}},
		{"sort_by", `{"table_name":"t","sort_by":{"field":"created_at","direction":"descending"}}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Sort: []Sort{{Column: "created_at", Descending: true}}}},
		{"sortBy array with column", `{"table_name":"t","sortBy":[{"column":"a","direction":"ASC"},{"field":"b","direction":"desc"}]}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Sort: []Sort{{Column: "a"}, {Column: "b", Descending: true}}}},
		{"orderBy map keeps order", `{"table_name":"t","orderBy":{"z":"desc","a":"asc"}}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Sort: []Sort{{Column: "z", Descending: true}, {Column: "a"}}}},
		{"orderBy ascending false", `{"table_name":"t","orderBy":[{"column":"a","ascending":false,"nulls":"first"}]}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Sort: []Sort{{Column: "a", Descending: true, NullsFirst: &yes}}}},
		{"orderBy string", `{"table_name":"t","orderBy":"a.desc.nullslast,b"}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Sort: []Sort{{Column: "a", Descending: true, NullsFirst: &no}, {Column: "b"}}}},
		{"header strip nulls", `{"table_name":"t"}`, &yes, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, StripNulls: true}},
		{"body strip nulls wins", `{"table_name":"t","strip_nulls":false}`, &yes, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star}},
		{"count head", `{"table_name":"t","count":"Exact","head":true}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Count: CountExact, Head: true}},
		{"count true", `{"table_name":"t","count":true}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Count: CountExact}},
		{"count planned", `{"table_name":"t","count":"planned"}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Count: CountPlanned}},
		{"post processing", `{"table_name":"t","group_by":"created_at","time_granularity":"DAY","aggregation_column":"amount","aggregation_dedup":true}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star, Post: &PostProcessing{GroupBy: "created_at", TimeGranularity: "day", AggregationColumn: "amount", AggregationStrategy: "sum", AggregationDedup: true}}},
		{"fields known without effect", `{"table_name":"t","total_pages":3,"aggregation_column":"x"}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star}},
		{"nulls mean absent", `{"table_name":"t","limit":null,"conditions":null,"columns":null,"count":null}`, nil, Limits{},
			FetchRequest{Table: TableRef{Name: "t"}, Selection: star}},
	}
	for _, tt := range tests {
		got, err := DecodeFetch([]byte(tt.give), tt.header, tt.lim)
		if err != nil {
			t.Errorf("%s: got error %v, want %+v", tt.name, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestDecodeFetchErrors(t *testing.T) {
	tests := []struct {
		give string
		lim  Limits
		code Code
		want string
	}{
		{``, Limits{}, CodeInvalidJSON, "empty"},
		{`{"table_name":`, Limits{}, CodeInvalidJSON, "malformed JSON"},
		{`[1]`, Limits{}, CodeInvalidJSON, "must be a JSON object"},
		{`"x"`, Limits{}, CodeInvalidJSON, "must be a JSON object"},
		{`{"table_name":"t"} {}`, Limits{}, CodeInvalidJSON, "unexpected data"},
		{`{}`, Limits{}, CodeInvalidFetchPayload, "table_name is required"},
		{`{"table_name":5}`, Limits{}, CodeInvalidFetchPayload, `field "table_name" must be a string, got a number`},
		{`{"table_name":"users; drop table x"}`, Limits{}, CodeInvalidFetchPayload, "invalid table name"},
		{`{"table_name":"uѕers"}`, Limits{}, CodeInvalidFetchPayload, "invalid table name"},
		{`{"table_name":"users\u200b"}`, Limits{}, CodeInvalidFetchPayload, "invalid table name"},
		{`{"table_name":"users\u0000"}`, Limits{}, CodeInvalidFetchPayload, "invalid table name"},
		{`{"table_name":"a\"b"}`, Limits{}, CodeInvalidFetchPayload, `invalid table name "a\"b"`},
		{`{"table_name":"x--"}`, Limits{}, CodeInvalidFetchPayload, "invalid table name"},
		{`{"table_name":"a.b","schema_name":"c"}`, Limits{}, CodeInvalidFetchPayload, "schema-qualified"},
		{`{"table_name":"t","schema_name":"p ublic"}`, Limits{}, CodeInvalidFetchPayload, "invalid schema name"},
		{`{"table_name":"t","limit":"ten"}`, Limits{}, CodeInvalidFetchPayload, `field "limit" must be a non-negative integer, got "ten"`},
		{`{"table_name":"t","limit":-1}`, Limits{}, CodeInvalidFetchPayload, `field "limit" must be a non-negative integer`},
		{`{"table_name":"t","limit":1.5}`, Limits{}, CodeInvalidFetchPayload, `field "limit" must be a non-negative integer`},
		{`{"table_name":"t","offset":true}`, Limits{}, CodeInvalidFetchPayload, `field "offset"`},
		{`{"table_name":"t","limit":500}`, Limits{MaxLimit: 100}, CodeInvalidFetchPayload, "exceeds the maximum of 100"},
		{`{"table_name":"t","page_size":0}`, Limits{}, CodeInvalidFetchPayload, "at least 1"},
		{`{"table_name":"t","page_size":10,"current_page":0}`, Limits{}, CodeInvalidFetchPayload, "at least 1"},
		{`{"table_name":"t","page_size":9223372036854775807,"current_page":3}`, Limits{}, CodeInvalidFetchPayload, "out of range"},
		{`{"table_name":"t","columns":5}`, Limits{}, CodeInvalidFetchPayload, "select must be"},
		{`{"table_name":"t","columns":"a;b"}`, Limits{}, CodeInvalidFetchPayload, `invalid column name "a;b"`},
		{`{"table_name":"t","conditions":[{"operator":"eqq","column":"a","value":1}]}`, Limits{}, CodeInvalidFetchCondition, `unknown operator "eqq" in`},
		{`{"table_name":"t","conditions":"a.eq.1"}`, Limits{}, CodeInvalidFetchCondition, "must be an array"},
		{`{"table_name":"t","where":{"a":{"bad":1}}}`, Limits{}, CodeInvalidFetchCondition, `unknown operator "bad"`},
		{`{"table_name":"t","sort_by":{"field":"a b"}}`, Limits{}, CodeInvalidFetchPayload, `invalid column name "a b"`},
		{`{"table_name":"t","sort_by":{"field":"a","direction":"up"}}`, Limits{}, CodeInvalidFetchPayload, `direction must be asc or desc`},
		{`{"table_name":"t","orderBy":{"a;":"asc"}}`, Limits{}, CodeInvalidFetchPayload, `invalid column name`},
		{`{"table_name":"t","orderBy":[[{"column":"a"}]]}`, Limits{}, CodeInvalidFetchPayload, `orderBy element 1 must be an object or a string`},
		{`{"table_name":"t","orderBy":5}`, Limits{}, CodeInvalidFetchPayload, `must be an object`},
		{`{"table_name":"t","orderBy":"a.sideways"}`, Limits{}, CodeInvalidFetchPayload, `unknown modifier "sideways"`},
		{`{"table_name":"t","strip_nulls":"maybe"}`, Limits{}, CodeInvalidFetchPayload, `field "strip_nulls" must be a boolean`},
		{`{"table_name":"t","count":"all"}`, Limits{}, CodeInvalidFetchPayload, `count must be`},
		{`{"table_name":"t","count":1}`, Limits{}, CodeInvalidFetchPayload, `count`},
		{`{"table_name":"t","head":1}`, Limits{}, CodeInvalidFetchPayload, `field "head" must be a boolean`},
		{`{"table_name":"t","group_by":"a b"}`, Limits{}, CodeInvalidFetchPayload, `invalid group_by`},
		{`{"table_name":"t","group_by":"a","time_granularity":"week"}`, Limits{}, CodeInvalidFetchPayload, `unknown time_granularity "week"`},
		{`{"table_name":"t","group_by":"a","aggregation_column":"x","aggregation_strategy":"avg"}`, Limits{}, CodeInvalidFetchPayload, `unknown aggregation_strategy "avg"`},
		{`{"table_name":"t","group_by":"a","aggregation_column":"x;"}`, Limits{}, CodeInvalidFetchPayload, `invalid aggregation_column`},
		// Strict bodies (spec §1.4): unknown fields were ignored; now they are named.
		{`{"table_name":"t","sdk":"js","cache":{"x":1}}`, Limits{}, CodeInvalidFetchPayload, `unknown fields "cache", "sdk"`},
		{`{"table_name":"t","limt":1}`, Limits{}, CodeInvalidFetchPayload, `unknown field "limt" (did you mean "limit"?)`},
		{`{"table_name":"t","sortby":{"field":"a"}}`, Limits{}, CodeInvalidFetchPayload, `unknown field "sortby" (did you mean "sort_by"?)`},
		{`{"table_name":"t","wehre":{"a":1}}`, Limits{}, CodeInvalidFetchPayload, `unknown field "wehre" (did you mean "where"?)`},
		{`{"table_name":"t","colums":"a"}`, Limits{}, CodeInvalidFetchPayload, `unknown field "colums" (did you mean "columns"?)`},
		{`{"table_name":"t","x":1}`, Limits{}, CodeInvalidFetchPayload, `unknown field "x"`},
		{`{"table_name":"t","conditions":[{"operator":"or","value":"` + strings.Repeat("or(", 40) + "a.eq.1" + strings.Repeat(")", 40) + `"}]}`, Limits{}, CodeInvalidFetchCondition, "nested deeper than 32"},
	}
	for _, tt := range tests {
		_, err := DecodeFetch([]byte(tt.give), nil, tt.lim)
		checkErr(t, err, tt.code, tt.want)
	}
}

func TestDecodeFetchSharedConditionBudget(t *testing.T) {
	body := `{"table_name":"t","conditions":[{"eq_column":"a","eq_value":1},{"eq_column":"b","eq_value":1}],"where":{"c":1}}`
	_, err := DecodeFetch([]byte(body), nil, Limits{MaxConditions: 2})
	checkErr(t, err, CodeInvalidFetchCondition, "too many conditions")
}
