package gateway

import "testing"

func TestSuggest(t *testing.T) {
	known := []string{"table_name", "view_name", "schema_name", "select", "columns", "limit", "offset", "page_size", "pageSize", "sort_by", "sortBy", "where", "head", "count"}
	for _, tt := range []struct{ give, want string }{
		{"limt", "limit"},
		{"limitt", "limit"},
		{"tabel_name", "table_name"},
		{"tableName", "table_name"},
		{"TABLE_NAME", "table_name"},
		{"ofset", "offset"},
		{"sortby", "sort_by"},
		{"page-size", "page_size"},
		{"heda", "head"},
		{"x", ""},
		{"id", ""},
		{"selection_mode", ""},
		{"limits_and_more", ""},
		{"", ""},
	} {
		if got := Suggest(tt.give, known); got != tt.want {
			t.Errorf("Suggest(%q): got %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestUnknownFieldsError(t *testing.T) {
	e := UnknownFields(CodeInvalidFetchPayload, []string{"zzz", "limt"}, []string{"table_name", "limit"})
	if e.Message != `unknown fields "limt" (did you mean "limit"?), "zzz"` || e.Code.Status() != 400 {
		t.Errorf("message %q status %d", e.Message, e.Code.Status())
	}
	if e.Hint != `did you mean "limit"?` || e.Details["field"] != "limt" || e.Details["suggestion"] != "limit" {
		t.Errorf("hint %q details %v", e.Hint, e.Details)
	}
	if e := UnknownFields(CodeInvalidInsertPayload, []string{"q"}, nil); e.Hint != "" || e.Message != `unknown field "q"` {
		t.Errorf("no suggestion: %+v", e)
	}
}
