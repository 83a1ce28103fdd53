package gateway

import (
	"bytes"
	"reflect"
	"testing"
)

// shapeTemplates are fetch bodies with one or more slots; shaped says
// whether they must get a FetchShape (every slot a plain comparison value).
var shapeTemplates = []struct {
	body   string
	shaped bool
}{
	{`{"table_name":"athena_bench.items","columns":"id,name,price,tags,created_at","conditions":[{"eq_column":"id","eq_value":7}],"limit":1}`, true},
	{`{"table_name":"users","conditions":[{"eq_column":"email","eq_value":"ada@example.com"},{"column":"age","operator":"gte","value":30}]}`, true},
	{`{"table_name":"users","conditions":[{"operator":"or","value":[{"column":"a","operator":"lt","value":1},{"column":"b","operator":"like","value":"x%"}]}]}`, true},
	{`{"table_name":"users", "conditions" : [ { "eq_column" : "id" , "eq_value" : 5 } ] }`, true},
	{`{"table_name":"users","where":{"and":[{"column":"a","operator":"eq","value":1}]}}`, true},
	// Slots that are not plain comparison values: no shape.
	{`{"table_name":"users","conditions":[{"column":"a","operator":"is","value":"null"}]}`, false},
	{`{"table_name":"users","conditions":[{"operator":"not","column":"status","value":"eq.open"}]}`, false},
	{`{"table_name":"users","conditions":[{"operator":"or","value":"a.eq.1,b.eq.2"}]}`, false},
	{`{"table_name":"users","conditions":[{"eq_column":"id","eq_value":1,"eq_value":2}]}`, false},
	{`{"table_name":"users","where":{"value":1}}`, true}, // a column named value
}

// shapeLiterals replace a slot's literal; each is valid JSON.
var shapeLiterals = []string{
	`0`, `-1`, `1e3`, `1.5E-7`, `12345678901234567890123`, `7`,
	`""`, `"x"`, `"h\u00e9llo"`, `"héllo"`, `"null"`, `"true"`, `"eq.5"`, `"a,b"`, `"%"`,
	`null`, `true`, `[1]`, `{"a":1}`,
}

// withLiterals returns body with its i-th slot replaced by lits[i%len].
func withLiterals(body []byte, slots []ShapeSlot, lits []string) []byte {
	var out []byte
	prev := 0
	for i, sl := range slots {
		start, end := sl.Start, sl.End
		if sl.Str { // the quotes belong to the literal
			start, end = start-1, end+1
		}
		out = append(out, body[prev:start]...)
		out = append(out, lits[i%len(lits)]...)
		prev = end
	}
	return append(out, body[prev:]...)
}

// TestFetchShapeBindsLikeDecode: every body of a known shape binds to
// exactly what the full decoder returns for it, and bodies whose slots are
// not plain comparison values get no shape.
func TestFetchShapeBindsLikeDecode(t *testing.T) {
	lim := DefaultLimits()
	for _, tc := range shapeTemplates {
		body := []byte(tc.body)
		req, err := DecodeFetch(body, nil, lim)
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		var sc ShapeScan
		key, ok := ScanFetchShape(body, nil, &sc)
		if !ok {
			t.Fatalf("%s: no slots found", tc.body)
		}
		f := NewFetchShape(body, &sc, req, nil, lim)
		if (f != nil) != tc.shaped {
			t.Fatalf("%s: shaped %t, want %t", tc.body, f != nil, tc.shaped)
		}
		if f == nil {
			continue
		}
		if got := f.Bind(body, sc.Slots()); !reflect.DeepEqual(got, req) {
			t.Fatalf("%s: bound %+v, decoded %+v", tc.body, got, req)
		}
		for rot := range shapeLiterals {
			lits := append(shapeLiterals[rot:], shapeLiterals[:rot]...)
			variant := withLiterals(body, sc.Slots(), lits)
			var vs ShapeScan
			if vkey, ok := ScanFetchShape(variant, nil, &vs); !ok || !bytes.Equal(vkey, key) {
				continue // another shape: the memo would not use f for it
			}
			want, err := DecodeFetch(variant, nil, lim)
			if err != nil {
				t.Fatalf("%s: same shape as %s but the decoder refuses it: %v", variant, tc.body, err)
			}
			if got := f.Bind(variant, vs.Slots()); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: bound %+v, decoded %+v", variant, got, want)
			}
			// Binding shares nothing it changes with the shape.
			if again := f.Bind(body, sc.Slots()); !reflect.DeepEqual(again, req) {
				t.Fatalf("%s: binding %s changed the shape", tc.body, variant)
			}
		}
	}
}

// TestScanFetchShapeKeys: the key keeps everything but slot literals, and
// escaped or non-plain strings stay in the key.
func TestScanFetchShapeKeys(t *testing.T) {
	for _, tc := range []struct{ body, key string }{
		{`{"eq_value":12}`, `{"eq_value":` + markerNumber + `}`},
		{`{"value" : "ab"}`, `{"value" : ` + markerString + `}`},
		{`{"value":"a\"b","eq_value":1}`, `{"value":"a\"b","eq_value":` + markerNumber + `}`},
		{`{"limit":12,"value":[1]}`, ``},
		{`{"xvalue":1}`, ``},
	} {
		var sc ShapeScan
		key, ok := ScanFetchShape([]byte(tc.body), nil, &sc)
		if got := string(key); ok != (tc.key != "") || ok && got != tc.key {
			t.Errorf("%s: key %q (ok %t), want %q", tc.body, got, ok, tc.key)
		}
	}
}

// TestFetchShapeAllocs: decoding a body of a known shape is one scan
// (no allocation) and one bind (the condition list, the value's bytes and
// its interface), where
// the full decoder allocates about thirty times. This is the design claim
// behind the shape memo, not a timing.
func TestFetchShapeAllocs(t *testing.T) {
	lim := DefaultLimits()
	body := benchFetchBody(7)
	req, err := DecodeFetch(body, nil, lim)
	if err != nil {
		t.Fatal(err)
	}
	var sc ShapeScan
	buf := make([]byte, 0, 512)
	ScanFetchShape(body, buf, &sc)
	f := NewFetchShape(body, &sc, req, nil, lim)
	if f == nil {
		t.Fatal("athena-bench's fetch has no shape")
	}
	other := benchFetchBody(123456)
	allocs := testing.AllocsPerRun(100, func() {
		ScanFetchShape(other, buf, &sc)
		r := f.Bind(other, sc.Slots())
		if len(r.Conditions) != 1 {
			t.Fatal("bad bind")
		}
	})
	if allocs > 3 {
		t.Errorf("scan + bind allocate %.0f times, want at most 3", allocs)
	}
	full := testing.AllocsPerRun(100, func() {
		if _, err := DecodeFetch(other, nil, lim); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("shape: %.0f allocs, full decode: %.0f allocs", allocs, full)
}

// FuzzFetchShape: for any template body with a shape and any literals put
// in its slots, a variant of the same shape binds to what the decoder
// returns (and the decoder accepts it).
func FuzzFetchShape(f *testing.F) {
	for _, tc := range shapeTemplates {
		f.Add([]byte(tc.body), "12", `"x"`)
	}
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, body []byte, a, b string) {
		req, err := DecodeFetch(body, nil, lim)
		if err != nil {
			return
		}
		var sc ShapeScan
		key, ok := ScanFetchShape(body, nil, &sc)
		if !ok {
			return
		}
		shape := NewFetchShape(body, &sc, req, nil, lim)
		if shape == nil {
			return
		}
		variant := withLiterals(body, sc.Slots(), []string{a, b})
		var vs ShapeScan
		if vkey, ok := ScanFetchShape(variant, nil, &vs); !ok || !bytes.Equal(vkey, key) {
			return
		}
		want, err := DecodeFetch(variant, nil, lim)
		if err != nil {
			t.Fatalf("%s: same shape as %s but the decoder refuses it: %v", variant, body, err)
		}
		if got := shape.Bind(variant, vs.Slots()); !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: bound %+v, decoded %+v", variant, got, want)
		}
	})
}
