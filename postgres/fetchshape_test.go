package postgres

import (
	"context"
	"reflect"
	"testing"

	"github.com/athena-gateway/athena/gateway"
)

// shapeOf decodes body and returns its request and FetchShape.
func shapeOf(t *testing.T, body string) (gateway.FetchRequest, *gateway.FetchShape) {
	t.Helper()
	lim := gateway.DefaultLimits()
	req, err := gateway.DecodeFetch([]byte(body), nil, lim)
	if err != nil {
		t.Fatal(err)
	}
	var sc gateway.ShapeScan
	if _, ok := gateway.ScanFetchShape([]byte(body), nil, &sc); !ok {
		t.Fatalf("%s: no slots", body)
	}
	return req, gateway.NewFetchShape([]byte(body), &sc, req, nil, lim)
}

// bound decodes variant, a body of shape f, through the shape.
func bound(t *testing.T, f *gateway.FetchShape, variant string) gateway.FetchRequest {
	t.Helper()
	var sc gateway.ShapeScan
	if _, ok := gateway.ScanFetchShape([]byte(variant), nil, &sc); !ok {
		t.Fatalf("%s: no slots", variant)
	}
	return f.Bind([]byte(variant), sc.Slots())
}

// TestPlanFetchShape: a plan found by shape is the plan the builder makes,
// for the first fetch of a shape (which builds the shape's plan) and for
// every later one (which only binds values), including counts, embeds and
// several slots; and the rows are the rows of the fetch.
func TestPlanFetchShape(t *testing.T) {
	e := fixtureDB(t)
	ctx := context.Background()
	for _, tc := range []struct {
		first    string
		variants []string
	}{
		{`{"table_name":"users","columns":"id,name","conditions":[{"eq_column":"id","eq_value":1}],"limit":1}`,
			[]string{`{"table_name":"users","columns":"id,name","conditions":[{"eq_column":"id","eq_value":2}],"limit":1}`}},
		{`{"table_name":"users","conditions":[{"column":"age","operator":"gte","value":20},{"column":"name","operator":"like","value":"a%"}],"count":"exact","sort_by":{"field":"id"}}`,
			[]string{`{"table_name":"users","conditions":[{"column":"age","operator":"gte","value":26},{"column":"name","operator":"like","value":"b%"}],"count":"exact","sort_by":{"field":"id"}}`}},
		{`{"table_name":"posts","columns":"id,author:author_id(name)","conditions":[{"operator":"or","value":[{"column":"id","operator":"eq","value":1},{"column":"title","operator":"eq","value":"Bob post"}]}]}`,
			[]string{`{"table_name":"posts","columns":"id,author:author_id(name)","conditions":[{"operator":"or","value":[{"column":"id","operator":"eq","value":2},{"column":"title","operator":"eq","value":"nothing"}]}]}`}},
	} {
		req, f := shapeOf(t, tc.first)
		if f == nil {
			t.Fatalf("%s: no shape", tc.first)
		}
		for i, body := range append([]string{tc.first}, tc.variants...) {
			r := req
			if i > 0 {
				r = bound(t, f, body)
			}
			got, err := e.db.PlanFetchShape(ctx, &r, f)
			if err != nil {
				t.Fatalf("%s: %v", body, err)
			}
			want, err := e.db.PlanFetch(ctx, &r, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.q, want.q) || !reflect.DeepEqual(got.Tables, want.Tables) || got.count != want.count || got.head != want.head {
				t.Fatalf("%s: plan by shape\n%+v\nplan built\n%+v", body, got.q, want.q)
			}
			rows, _, err := e.db.ReadFetch(ctx, got, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantRows, _, err := e.db.ReadFetch(ctx, want, nil)
			if err != nil || string(rows) != string(wantRows) {
				t.Fatalf("%s: rows %s, want %s (%v)", body, rows, wantRows, err)
			}
		}
		if sp, _ := e.db.shapePlans.get(f); sp == nil {
			t.Errorf("%s: the shape has no plan: every fetch of it builds SQL", tc.first)
		}
	}
}

// TestPlanFetchShapeErrors: a shape whose fetches fail to plan keeps
// failing with the builder's error, and no plan is remembered for it.
func TestPlanFetchShapeErrors(t *testing.T) {
	e := fixtureDB(t)
	req, f := shapeOf(t, `{"table_name":"users","conditions":[{"eq_column":"nope","eq_value":1}]}`)
	for range 2 {
		_, err := e.db.PlanFetchShape(context.Background(), &req, f)
		wantCode(t, err, gateway.CodeUnknownColumn)
	}
	if sp, _ := e.db.shapePlans.get(f); sp != nil {
		t.Error("a plan was remembered for a fetch that does not plan")
	}
}
