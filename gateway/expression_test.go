package gateway

import (
	"reflect"
	"strings"
	"testing"
)

func leaf(col string, op Operator, v any) Condition {
	return Condition{Column: col, Op: op, Value: v}
}

func TestParseExpression(t *testing.T) {
	tests := []struct {
		give string
		want []Condition
	}{
		{"priority.eq.high,priority.eq.urgent", []Condition{leaf("priority", OpEq, "high"), leaf("priority", OpEq, "urgent")}},
		{"archived_at.is.null", []Condition{leaf("archived_at", OpIs, nil)}},
		{"done.is.TRUE", []Condition{leaf("done", OpIs, true)}},
		{"done.is.false", []Condition{leaf("done", OpIs, false)}},
		{"(a.eq.1, b.eq.2)", []Condition{leaf("a", OpEq, "1"), leaf("b", OpEq, "2")}},
		{"price.gt.1.5", []Condition{leaf("price", OpGt, "1.5")}},
		{"a.gte.1,a.lt.2,a.lte.3,a.neq.4", []Condition{leaf("a", OpGte, "1"), leaf("a", OpLt, "2"), leaf("a", OpLte, "3"), leaf("a", OpNeq, "4")}},
		{`name.eq."a,b"`, []Condition{leaf("name", OpEq, "a,b")}},
		{`name.eq."say \"hi\" (x) \\ ok"`, []Condition{leaf("name", OpEq, `say "hi" (x) \ ok`)}},
		{"name.eq.", []Condition{leaf("name", OpEq, "")}},
		{"name.like.*smith*", []Condition{leaf("name", OpLike, "%smith%")}},
		{"name.ilike.A*", []Condition{leaf("name", OpIlike, "A%")}},
		{`id.in.(1,2,"3,4")`, []Condition{leaf("id", OpIn, []any{"1", "2", "3,4"})}},
		{`id.in.( a , b )`, []Condition{leaf("id", OpIn, []any{"a", "b"})}},
		{`id.in.()`, []Condition{leaf("id", OpIn, []any{})}},
		{`tags.cs.{a,b}`, []Condition{leaf("tags", OpContains, "{a,b}")}},
		{`tags.cd.{"x,}",b}`, []Condition{leaf("tags", OpContainedBy, `{"x,}",b}`)}},
		{`meta.cs.{"k":[1,2]}`, []Condition{leaf("meta", OpContains, `{"k":[1,2]}`)}},
		{`meta.contains.[1,2]`, []Condition{leaf("meta", OpContains, `[1,2]`)}},
		{"a.not.eq.1", []Condition{{Group: GroupNot, Children: []Condition{leaf("a", OpEq, "1")}}}},
		{"and(a.gt.1,b.lt.2),c.eq.3", []Condition{
			{Group: GroupAnd, Children: []Condition{leaf("a", OpGt, "1"), leaf("b", OpLt, "2")}},
			leaf("c", OpEq, "3"),
		}},
		{"or(a.eq.1,and(b.eq.2,c.eq.3))", []Condition{
			{Group: GroupOr, Children: []Condition{
				leaf("a", OpEq, "1"),
				{Group: GroupAnd, Children: []Condition{leaf("b", OpEq, "2"), leaf("c", OpEq, "3")}},
			}},
		}},
		{"not.and(a.eq.1,b.eq.2)", []Condition{{Group: GroupNot, Children: []Condition{leaf("a", OpEq, "1"), leaf("b", OpEq, "2")}}}},
		{"not.or(a.eq.1,b.eq.2)", []Condition{{Group: GroupNot, Children: []Condition{
			{Group: GroupOr, Children: []Condition{leaf("a", OpEq, "1"), leaf("b", OpEq, "2")}},
		}}}},
		{"not(a.eq.1)", []Condition{{Group: GroupNot, Children: []Condition{leaf("a", OpEq, "1")}}}},
		{"not.eq.5", []Condition{leaf("not", OpEq, "5")}},
		{"not.is.null", []Condition{leaf("not", OpIs, nil)}},
		// the SDK's or("not.col.op.val"): the same tree as col.not.op.val
		{"not.status.eq.draft", []Condition{{Group: GroupNot, Children: []Condition{leaf("status", OpEq, "draft")}}}},
		{"not.id.in.(1,2),b.eq.2", []Condition{
			{Group: GroupNot, Children: []Condition{leaf("id", OpIn, []any{"1", "2"})}},
			leaf("b", OpEq, "2"),
		}},
		{"not.a.not.eq.1", []Condition{{Group: GroupNot, Children: []Condition{
			{Group: GroupNot, Children: []Condition{leaf("a", OpEq, "1")}},
		}}}},
		{"or(not.a.is.null,b.eq.2)", []Condition{{Group: GroupOr, Children: []Condition{
			{Group: GroupNot, Children: []Condition{leaf("a", OpIs, nil)}},
			leaf("b", OpEq, "2"),
		}}}},
		{"name.eq.José", []Condition{leaf("name", OpEq, "José")}},
	}
	for _, tt := range tests {
		got, err := ParseExpression(tt.give, Limits{})
		if err != nil {
			t.Errorf("ParseExpression(%q): got error %v, want %v", tt.give, err, tt.want)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseExpression(%q): got %#v, want %#v", tt.give, got, tt.want)
		}
	}
}

func TestParseExpressionErrors(t *testing.T) {
	tests := []struct {
		give string
		code Code
		want string
	}{
		{"", CodeInvalidFetchCondition, "empty filter expression"},
		{"a.eqq.1", CodeInvalidFetchCondition, `unknown operator "eqq" at position 3`},
		{`a"b.eq.1`, CodeInvalidFetchCondition, `invalid column name "a\"b"`},
		{"a;drop.eq.1", CodeInvalidFetchCondition, `invalid column name "a;drop"`},
		{"a--.eq.1", CodeInvalidFetchCondition, `invalid column name "a--"`},
		{"uѕers.eq.1", CodeInvalidFetchCondition, `invalid column name`},
		{"a\u200bb.eq.1", CodeInvalidFetchCondition, `invalid column name`},
		{"a\x00.eq.1", CodeInvalidFetchCondition, `invalid column name`},
		{"a.eq", CodeInvalidFetchCondition, "missing value"},
		{"a", CodeInvalidFetchCondition, "incomplete condition"},
		{"a.eq.1,", CodeInvalidFetchCondition, "expected a condition"},
		{"and(a.eq.1", CodeInvalidFetchCondition, "missing ')'"},
		{"a.eq.1)", CodeInvalidFetchCondition, "unbalanced ')'"},
		{"and()", CodeInvalidFetchCondition, "empty and()"},
		{"xor(a.eq.1)", CodeInvalidFetchCondition, `unknown group "xor"`},
		{`a.eq."abc`, CodeInvalidFetchCondition, "unterminated quoted value"},
		{`a.eq."x"y`, CodeInvalidFetchCondition, "expected ',' or ')'"},
		{`a.eq.f(x)`, CodeInvalidFetchCondition, "quote"},
		{`a.cs.{a,b`, CodeInvalidFetchCondition, "unbalanced"},
		{"a.is.maybe", CodeInvalidConditionValue, `accepts null, true or false, got "maybe"`},
		{"a.in.1,2", CodeInvalidConditionValue, "needs a list"},
		{"a.in.(1,2", CodeInvalidFetchCondition, "missing ')'"},
		{"a.not.xx.1", CodeInvalidFetchCondition, `unknown operator "xx"`},
		{"not.a.xx.1", CodeInvalidFetchCondition, `unknown operator "a"`},
		{"a..1", CodeInvalidFetchCondition, "missing operator"},
	}
	for _, tt := range tests {
		_, err := ParseExpression(tt.give, Limits{})
		checkErr(t, err, tt.code, tt.want)
	}
}

func TestParseExpressionLimits(t *testing.T) {
	deep := strings.Repeat("and(", 40) + "a.eq.1" + strings.Repeat(")", 40)
	_, err := ParseExpression(deep, Limits{})
	checkErr(t, err, CodeInvalidFetchCondition, "nested deeper than 32")

	ok := strings.Repeat("and(", 5) + "a.eq.1" + strings.Repeat(")", 5)
	if _, err := ParseExpression(ok, Limits{MaxExpressionDepth: 5}); err != nil {
		t.Fatalf("depth 5 with limit 5: got %v, want nil", err)
	}
	_, err = ParseExpression(ok, Limits{MaxExpressionDepth: 4})
	checkErr(t, err, CodeInvalidFetchCondition, "nested deeper than 4")

	many := strings.Repeat("a.eq.1,", 10) + "a.eq.1"
	_, err = ParseExpression(many, Limits{MaxConditions: 10})
	checkErr(t, err, CodeInvalidFetchCondition, "too many conditions")

	_, err = ParseExpression("a.in.(1,2,3)", Limits{MaxInValues: 2})
	checkErr(t, err, CodeInvalidConditionValue, "more than 2 values")
}
