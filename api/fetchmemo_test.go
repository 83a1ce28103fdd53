package api

import (
	"fmt"
	"strings"
	"testing"
)

func TestFetchMemo(t *testing.T) {
	s := &Server{}
	body := []byte(`{"table_name":"users","conditions":[{"eq_column":"id","eq_value":1}]}`)
	yes, no := true, false
	a, err := s.decodeFetch(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.repeated.Load() {
		t.Error("a body seen once is marked repeated")
	}
	if b, _ := s.decodeFetch(body, nil); b != a {
		t.Error("a repeated body was decoded again")
	}
	if !a.repeated.Load() {
		t.Error("a body seen twice is not marked repeated: its uncached reads would never reuse a plan")
	}
	on, _ := s.decodeFetch(body, &yes)
	off, _ := s.decodeFetch(body, &no)
	if on == a || off == a || on == off || !on.req.StripNulls || off.req.StripNulls {
		t.Errorf("the X-Strip-Nulls header must be part of the key: %v %v", on.req.StripNulls, off.req.StripNulls)
	}
	if _, err := s.decodeFetch([]byte(`{bad`), nil); err == nil {
		t.Error("a bad body decoded")
	}
	big := []byte(`{"table_name":"users","conditions":[{"eq_column":"name","eq_value":"` + strings.Repeat("x", fetchMemoMaxBody) + `"}]}`)
	x, _ := s.decodeFetch(big, nil)
	if y, _ := s.decodeFetch(big, nil); x == nil || x == y {
		t.Error("bodies above the size bound must not be remembered")
	}
	for i := 0; i < 3*fetchMemoEntries; i++ {
		if _, err := s.decodeFetch([]byte(fmt.Sprintf(`{"table_name":"t%d"}`, i)), nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, m := range s.fetchMemo.m {
		n += len(m)
	}
	if n > fetchMemoEntries || n != s.fetchMemo.n {
		t.Errorf("memo holds %d entries (counted %d), bound is %d", n, s.fetchMemo.n, fetchMemoEntries)
	}
	n1, ok1 := a.normalised()
	n2, ok2 := a.normalised()
	if !ok1 || !ok2 || string(n1) != string(n2) {
		t.Error("normalised form not stable")
	}
}
