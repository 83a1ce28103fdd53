package gateway

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestParseConditions(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []Condition
	}{
		{"null", `null`, nil},
		{"empty", `[]`, []Condition{}},
		{"modern", `[{"operator":"eq","column":"status","value":"open"}]`, []Condition{leaf("status", OpEq, "open")}},
		{"casts", `[{"operator":"eq","column":"id","value":"x","column_cast":"TEXT","value_cast":"uuid"}]`,
			[]Condition{{Column: "id", Op: OpEq, Value: "x", ColumnCast: "text", ValueCast: "uuid"}}},
		{"cast alias", `[{"operator":"gt","column":"n","value":1,"column_cast":"integer"}]`,
			[]Condition{{Column: "n", Op: OpGt, Value: num("1"), ColumnCast: "int"}}},
		{"legacy", `[{"eq_column":"status","eq_value":"open"}]`, []Condition{leaf("status", OpEq, "open")}},
		{"both shapes one condition", `[{"eq_column":"status","eq_value":"open","operator":"eq","column":"status","value":"open"}]`,
			[]Condition{leaf("status", OpEq, "open")}},
		{"modern wins", `[{"eq_column":"age","eq_value":1,"operator":"gt","column":"age","value":5}]`,
			[]Condition{leaf("age", OpGt, num("5"))}},
		{"modern without column uses legacy column", `[{"eq_column":"age","eq_value":1,"operator":"eq","value":5}]`,
			[]Condition{leaf("age", OpEq, num("5"))}},
		{"number stays exact", `[{"operator":"eq","column":"id","value":12345678901234567890}]`,
			[]Condition{leaf("id", OpEq, num("12345678901234567890"))}},
		{"upper-case operator", `[{"operator":"NEQ","column":"a","value":true}]`, []Condition{leaf("a", OpNeq, true)}},
		{"is null", `[{"operator":"is","column":"a","value":null}]`, []Condition{leaf("a", OpIs, nil)}},
		{"is string", `[{"operator":"is","column":"a","value":"false"}]`, []Condition{leaf("a", OpIs, false)}},
		{"in", `[{"operator":"in","column":"a","value":[1,"b",null]}]`, []Condition{leaf("a", OpIn, []any{num("1"), "b", nil})}},
		{"contains array", `[{"operator":"contains","column":"tags","value":["a"]}]`, []Condition{leaf("tags", OpContains, []any{"a"})}},
		{"containedBy object", `[{"operator":"containedBy","column":"m","value":{"k":1}}]`, []Condition{leaf("m", OpContainedBy, map[string]any{"k": num("1")})}},
		{"contained_by", `[{"operator":"contained_by","column":"m","value":[]}]`, []Condition{leaf("m", OpContainedBy, []any{})}},
		{"like", `[{"operator":"ilike","column":"n","value":"%a%"}]`, []Condition{leaf("n", OpIlike, "%a%")}},
		{"eq null is is-null", `[{"operator":"eq","column":"a","value":null}]`, []Condition{leaf("a", OpIs, nil)}},
		{"neq null is not is-null", `[{"operator":"neq","column":"a","value":null}]`,
			[]Condition{{Group: GroupNot, Children: []Condition{leaf("a", OpIs, nil)}}}},
		{"eq object with jsonb cast", `[{"operator":"eq","column":"m","value":{"a":1},"column_cast":"jsonb"}]`,
			[]Condition{{Column: "m", Op: OpEq, Value: map[string]any{"a": num("1")}, ColumnCast: "jsonb"}}},
		{"or expression", `[{"operator":"or","value":"priority.eq.high,priority.eq.urgent"}]`,
			[]Condition{{Group: GroupOr, Children: []Condition{leaf("priority", OpEq, "high"), leaf("priority", OpEq, "urgent")}}}},
		{"not expression", `[{"operator":"not","value":"archived_at.is.null"}]`,
			[]Condition{{Group: GroupNot, Children: []Condition{leaf("archived_at", OpIs, nil)}}}},
		{"not with column", `[{"operator":"not","column":"status","value":"eq.open"}]`,
			[]Condition{{Group: GroupNot, Children: []Condition{leaf("status", OpEq, "open")}}}},
		{"or nested and", `[{"operator":"or","value":"and(a.gt.1,b.lt.2),c.is.true"}]`,
			[]Condition{{Group: GroupOr, Children: []Condition{
				{Group: GroupAnd, Children: []Condition{leaf("a", OpGt, "1"), leaf("b", OpLt, "2")}},
				leaf("c", OpIs, true),
			}}}},
		{"or array of objects", `[{"operator":"or","value":[{"operator":"eq","column":"a","value":1},{"eq_column":"b","eq_value":2}]}]`,
			[]Condition{{Group: GroupOr, Children: []Condition{leaf("a", OpEq, num("1")), leaf("b", OpEq, num("2"))}}}},
		{"not single object", `[{"operator":"not","value":{"operator":"eq","column":"a","value":1}}]`,
			[]Condition{{Group: GroupNot, Children: []Condition{leaf("a", OpEq, num("1"))}}}},
		{"extra keys ignored", `[{"operator":"eq","column":"a","value":1,"comment":"x"}]`, []Condition{leaf("a", OpEq, num("1"))}},
	}
	for _, tt := range tests {
		got, err := ParseConditions(json.RawMessage(tt.give), Limits{})
		if err != nil {
			t.Errorf("%s: got error %v, want %v", tt.name, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.name, got, tt.want)
		}
	}
}

func TestParseConditionsErrors(t *testing.T) {
	tests := []struct {
		give string
		code Code
		want string
	}{
		{`[{"operator":"eq","column":"a","value":1`, CodeInvalidJSON, "malformed JSON"},
		{`{"operator":"eq"}`, CodeInvalidFetchCondition, "conditions must be an array"},
		{`["x"]`, CodeInvalidFetchCondition, "condition 1 must be an object"},
		{`[{"operator":"eq","column":"a","value":1},{"operator":"eqq","column":"a","value":1}]`, CodeInvalidFetchCondition, `unknown operator "eqq" in condition 2`},
		{`[{"column":"a","value":1}]`, CodeInvalidFetchCondition, `missing "operator"`},
		{`[{"operator":5,"column":"a","value":1}]`, CodeInvalidFetchCondition, `"operator" must be a string`},
		{`[{"operator":"eq","value":1}]`, CodeInvalidFetchCondition, `missing "column"`},
		{`[{"operator":"eq","column":"a"}]`, CodeInvalidConditionValue, `missing "value"`},
		{`[{"eq_column":"a"}]`, CodeInvalidConditionValue, `missing "eq_value"`},
		{`[{"operator":"eq","column":"a","eq_column":"b","value":1}]`, CodeInvalidFetchCondition, `disagree`},
		{`[{"operator":"eq","column":"a","value":1,"column_cast":"text;drop"}]`, CodeInvalidFetchCondition, `invalid cast "text;drop"`},
		{`[{"operator":"eq","column":"a","value":1,"value_cast":"regclass"}]`, CodeInvalidFetchCondition, `invalid cast "regclass"`},
		{`[{"operator":"eq","column":"a","value":1,"value_cast":7}]`, CodeInvalidFetchCondition, `"value_cast" must be a string`},
		{`[{"operator":"eq","column":"a\"b","value":1}]`, CodeInvalidFetchCondition, `invalid column name "a\"b"`},
		{`[{"operator":"eq","column":"a;b","value":1}]`, CodeInvalidFetchCondition, `invalid column name`},
		{`[{"operator":"eq","column":"a b","value":1}]`, CodeInvalidFetchCondition, `invalid column name`},
		{`[{"operator":"eq","column":"a/*x*/","value":1}]`, CodeInvalidFetchCondition, `invalid column name`},
		{`[{"operator":"eq","column":"uѕers","value":1}]`, CodeInvalidFetchCondition, `invalid column name`},
		{`[{"operator":"eq","column":"a\u200b","value":1}]`, CodeInvalidFetchCondition, `invalid column name`},
		{`[{"operator":"eq","column":"a\u0000","value":1}]`, CodeInvalidFetchCondition, `invalid column name`},
		{`[{"eq_column":"x--","eq_value":1}]`, CodeInvalidFetchCondition, `invalid column name "x--"`},
		{`[{"operator":"in","column":"a","value":"1,2"}]`, CodeInvalidConditionValue, `needs an array`},
		{`[{"operator":"in","column":"a","value":[[1]]}]`, CodeInvalidConditionValue, `element 1`},
		{`[{"operator":"is","column":"a","value":"maybe"}]`, CodeInvalidConditionValue, `accepts null, true or false`},
		{`[{"operator":"is","column":"a","value":1}]`, CodeInvalidConditionValue, `accepts null, true or false`},
		{`[{"operator":"contains","column":"a","value":"x"}]`, CodeInvalidConditionValue, `needs an array or object`},
		{`[{"operator":"like","column":"a","value":1}]`, CodeInvalidConditionValue, `needs a string pattern`},
		{`[{"operator":"gt","column":"a","value":null}]`, CodeInvalidConditionValue, `needs a value`},
		{`[{"operator":"eq","column":"a","value":[1]}]`, CodeInvalidConditionValue, `needs a scalar value`},
		{`[{"operator":"or","value":"a.eqq.1"}]`, CodeInvalidFetchCondition, `unknown operator "eqq" at position 3`},
		{`[{"operator":"or"}]`, CodeInvalidFetchCondition, `needs a "value" expression`},
		{`[{"operator":"or","value":5}]`, CodeInvalidFetchCondition, `needs a string expression`},
		{`[{"operator":"or","value":[]}]`, CodeInvalidFetchCondition, `has no conditions`},
		{`[{"operator":"or","column":"a","value":"a.eq.1"}]`, CodeInvalidFetchCondition, `takes no column`},
	}
	for _, tt := range tests {
		_, err := ParseConditions(json.RawMessage(tt.give), Limits{})
		checkErr(t, err, tt.code, tt.want)
	}
}

func TestParseConditionsLimits(t *testing.T) {
	in := `[{"operator":"in","column":"a","value":[1,2,3]}]`
	_, err := ParseConditions(json.RawMessage(in), Limits{MaxInValues: 2})
	checkErr(t, err, CodeInvalidConditionValue, "at most 2")

	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < 11; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"operator":"eq","column":"a","value":1}`)
	}
	b.WriteString("]")
	_, err = ParseConditions(json.RawMessage(b.String()), Limits{MaxConditions: 10})
	checkErr(t, err, CodeInvalidFetchCondition, "too many conditions")

	// Nesting through JSON or-arrays counts against the same depth limit.
	nested := `{"operator":"eq","column":"a","value":1}`
	for i := 0; i < 40; i++ {
		nested = `{"operator":"or","value":[` + nested + `]}`
	}
	_, err = ParseConditions(json.RawMessage("["+nested+"]"), Limits{})
	checkErr(t, err, CodeInvalidFetchCondition, "nested deeper than 32")
}

func TestWhere(t *testing.T) {
	tests := []struct {
		name string
		give string
		want []Condition
	}{
		{"shorthand", `{"status":"open","n":1}`, []Condition{leaf("status", OpEq, "open"), leaf("n", OpEq, num("1"))}},
		{"null shorthand", `{"deleted_at":null}`, []Condition{leaf("deleted_at", OpIs, nil)}},
		{"array shorthand", `{"id":[1,2]}`, []Condition{leaf("id", OpIn, []any{num("1"), num("2")})}},
		{"operators in order", `{"age":{"gte":18,"lt":65}}`, []Condition{leaf("age", OpGte, num("18")), leaf("age", OpLt, num("65"))}},
		{"in and cast", `{"id":{"in":["a"],"column_cast":"text"}}`, []Condition{{Column: "id", Op: OpIn, Value: []any{"a"}, ColumnCast: "text"}}},
		{"column not", `{"a":{"not":{"eq":3}}}`, []Condition{{Group: GroupNot, Children: []Condition{leaf("a", OpEq, num("3"))}}}},
		{"column not shorthand", `{"a":{"not":3}}`, []Condition{leaf("a", OpNeq, num("3"))}},
		{"or", `{"or":[{"a":1},{"b":{"gt":2},"c":3}]}`, []Condition{{Group: GroupOr, Children: []Condition{
			leaf("a", OpEq, num("1")),
			{Group: GroupAnd, Children: []Condition{leaf("b", OpGt, num("2")), leaf("c", OpEq, num("3"))}},
		}}}},
		{"and", `{"and":[{"a":1},{"b":2}]}`, []Condition{{Group: GroupAnd, Children: []Condition{leaf("a", OpEq, num("1")), leaf("b", OpEq, num("2"))}}}},
		{"not", `{"not":{"a":1}}`, []Condition{{Group: GroupNot, Children: []Condition{leaf("a", OpEq, num("1"))}}}},
		{"or expression", `{"or":"a.eq.1,b.eq.2"}`, []Condition{{Group: GroupOr, Children: []Condition{leaf("a", OpEq, "1"), leaf("b", OpEq, "2")}}}},
		{"array of objects", `[{"a":1},{"b":2}]`, []Condition{leaf("a", OpEq, num("1")), leaf("b", OpEq, num("2"))}},
		{"containedBy spelling", `{"t":{"containedBy":["a"]}}`, []Condition{leaf("t", OpContainedBy, []any{"a"})}},
	}
	for _, tt := range tests {
		got, err := newCondParser(Limits{}).where(json.RawMessage(tt.give), 0)
		if err != nil {
			t.Errorf("%s: got error %v, want %v", tt.name, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: got %#v, want %#v", tt.name, got, tt.want)
		}
	}
}

func TestWhereErrors(t *testing.T) {
	tests := []struct {
		give string
		code Code
		want string
	}{
		{`"x"`, CodeInvalidFetchCondition, "where must be an object"},
		{`{"a;b":1}`, CodeInvalidFetchCondition, `invalid column name "a;b"`},
		{`{"a":{"eqq":1}}`, CodeInvalidFetchCondition, `unknown operator "eqq" for column "a"`},
		{`{"a":{}}`, CodeInvalidFetchCondition, `no operator given`},
		{`{"a":{"in":1}}`, CodeInvalidConditionValue, `needs an array`},
		{`{"a":{"eq":1,"cast":"text;"}}`, CodeInvalidFetchCondition, `invalid cast`},
		{`{"or":5}`, CodeInvalidFetchCondition, `needs an array of objects`},
		{`{"or":[]}`, CodeInvalidFetchCondition, `has no conditions`},
		{`[[{"a":1}]]`, CodeInvalidFetchCondition, `where element 1 must be an object`},
		{`{"or":[[{"a":1}]]}`, CodeInvalidFetchCondition, `"or" element 1 must be an object`},
	}
	for _, tt := range tests {
		_, err := newCondParser(Limits{}).where(json.RawMessage(tt.give), 0)
		checkErr(t, err, tt.code, tt.want)
	}
	deep := `{"a":1}`
	for i := 0; i < 40; i++ {
		deep = `{"not":` + deep + `}`
	}
	_, err := newCondParser(Limits{}).where(json.RawMessage(deep), 0)
	checkErr(t, err, CodeInvalidFetchCondition, "nested deeper than 32")
}
