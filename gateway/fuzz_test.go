package gateway

import (
	"encoding/json"
	"testing"
)

// The fuzz targets assert the parsers' contract: no panic, every error is a
// 4xx *Error, and nothing that fails ValidIdentifier survives a successful
// parse.

func FuzzParseExpression(f *testing.F) {
	for _, s := range []string{
		"priority.eq.high,priority.eq.urgent",
		"archived_at.is.null",
		"and(a.gt.1,b.lt.2),or(c.eq.3,not.and(d.in.(1,2),e.cs.{x,y}))",
		`name.eq."a,b\"c"`,
		"a.not.like.*x*",
		"(a.eq.1)",
		"not.or(a.eq.1)",
		"not.a.eq.1,not.b.not.in.(1,2)",
		`t.cd.{"a}",b}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseExpression(s, Limits{MaxExpressionDepth: 8, MaxConditions: 64, MaxInValues: 64})
		if err != nil {
			if !clientError(err) {
				t.Fatalf("ParseExpression(%q): got %v, want a 4xx *Error", s, err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("ParseExpression(%q): got no conditions and no error", s)
		}
		if name, bad := badConditionIdentifier(got); bad {
			t.Fatalf("ParseExpression(%q): got invalid identifier %q", s, name)
		}
	})
}

func FuzzParseSelection(f *testing.F) {
	for _, s := range []string{
		"*", "id,name", "id,author:author_id(name),comments(body)",
		"*,users!author_id(*)", "a:b!c(d,e:f(g))", " id , name ", "x()",
		"id,user:athena.user(id)", "s.t!h(a,b:s2.t2(c))",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSelection(s)
		if err != nil {
			if !clientError(err) {
				t.Fatalf("ParseSelection(%q): got %v, want a 4xx *Error", s, err)
			}
			return
		}
		if !got.Star && len(got.Items) == 0 {
			t.Fatalf("ParseSelection(%q): got an empty selection", s)
		}
		if name, bad := badSelectionIdentifier(got); bad {
			t.Fatalf("ParseSelection(%q): got invalid identifier %q", s, name)
		}
	})
}

func FuzzParseConditions(f *testing.F) {
	for _, s := range []string{
		`[{"operator":"eq","column":"status","value":"open","column_cast":"text","value_cast":"uuid"}]`,
		`[{"eq_column":"status","eq_value":"open","operator":"eq","column":"status","value":"open"}]`,
		`[{"operator":"or","value":"priority.eq.high,priority.eq.urgent"}]`,
		`[{"operator":"or","value":"not.status.eq.draft,priority.eq.urgent"}]`,
		`[{"operator":"not","value":[{"operator":"in","column":"a","value":[1,2]}]}]`,
		`[{"operator":"is","column":"a","value":"null"},{"operator":"contains","column":"m","value":{"k":1}}]`,
		`null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseConditions(json.RawMessage(b), Limits{MaxExpressionDepth: 8, MaxConditions: 64, MaxInValues: 64})
		if err != nil {
			if !clientError(err) {
				t.Fatalf("ParseConditions(%q): got %v, want a 4xx *Error", b, err)
			}
			return
		}
		if name, bad := badConditionIdentifier(got); bad {
			t.Fatalf("ParseConditions(%q): got invalid identifier %q", b, name)
		}
	})
}

func FuzzDecodeFetch(f *testing.F) {
	for _, s := range []string{
		`{"table_name":"users","columns":"id,author:author_id(name)","conditions":[{"eq_column":"a","eq_value":1}],"limit":10}`,
		`{"view_name":"app.v","select":{"id":true,"author":{"select":{"name":true}}},"where":{"or":[{"a":1},{"b":{"in":[1,2]}}]}}`,
		`{"table_name":"t","sort_by":{"field":"created_at","direction":"desc"},"orderBy":[{"column":"id","ascending":false}]}`,
		`{"table_name":"t","current_page":2,"page_size":5,"count":"exact","head":true,"strip_nulls":true}`,
		`{"table_name":"t","group_by":"day","time_granularity":"day","aggregation_column":"n","aggregation_strategy":"cumulative_sum"}`,
		`{"table_name":"posts","select":{"id":true,"author":{"select":{"name":true},"via":"author_id","as":"w"},"u":{"schema":"s","select":{"id":true}}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeFetch(b, nil, Limits{MaxExpressionDepth: 8, MaxConditions: 64, MaxInValues: 64})
		if err != nil {
			if !clientError(err) {
				t.Fatalf("DecodeFetch(%q): got %v, want a 4xx *Error", b, err)
			}
			return
		}
		if !ValidIdentifier(got.Table.Name) || (got.Table.Schema != "" && !ValidIdentifier(got.Table.Schema)) {
			t.Fatalf("DecodeFetch(%q): got invalid table %q", b, got.Table)
		}
		if name, bad := badSelectionIdentifier(got.Selection); bad {
			t.Fatalf("DecodeFetch(%q): got invalid selection identifier %q", b, name)
		}
		if name, bad := badConditionIdentifier(got.Conditions); bad {
			t.Fatalf("DecodeFetch(%q): got invalid condition identifier %q", b, name)
		}
		for _, s := range got.Sort {
			if !ValidIdentifier(s.Column) {
				t.Fatalf("DecodeFetch(%q): got invalid sort column %q", b, s.Column)
			}
		}
		if got.Limit != nil && *got.Limit < 0 || got.Offset != nil && *got.Offset < 0 {
			t.Fatalf("DecodeFetch(%q): got negative limit/offset", b)
		}
		if p := got.Post; p != nil {
			if !ValidIdentifier(p.GroupBy) || (p.AggregationColumn != "" && !ValidIdentifier(p.AggregationColumn)) {
				t.Fatalf("DecodeFetch(%q): got invalid post-processing identifier %+v", b, p)
			}
		}
	})
}
