package gateway

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// codeConstants parses this package's sources and returns the value of every
// constant declared with type Code, so a code added to the const block but
// not to the catalogue is found.
func codeConstants(t *testing.T) map[string]Code {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]Code{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				for i, n := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: want a string literal", n.Name)
					}
					v, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[n.Name] = Code(v)
				}
			}
		}
	}
	return out
}

func TestCatalogueHasEveryCodeWithAStatus(t *testing.T) {
	consts := codeConstants(t)
	if len(consts) < 30 {
		t.Fatalf("found %d Code constants; the parser missed the const block", len(consts))
	}
	codes := Codes()
	if len(codes) != len(consts) {
		t.Errorf("catalogue has %d codes, the package declares %d", len(codes), len(consts))
	}
	for name, c := range consts {
		if !slices.Contains(codes, c) {
			t.Errorf("%s (%q) is not in the catalogue", name, c)
		}
	}
	for _, c := range codes {
		s, ok := catalogue[c]
		if !ok || s < 400 || s > 599 {
			t.Errorf("%s: status %d, want a 4xx or 5xx", c, s)
		}
		if c.Status() != s {
			t.Errorf("%s: Status() %d, catalogue %d", c, c.Status(), s)
		}
		// Only an unexpected failure is a 500; every known condition has
		// its own status.
		if (s == http.StatusInternalServerError) != (c == CodeInternal) {
			t.Errorf("%s: status %d; only %s may be a 500", c, s, CodeInternal)
		}
	}
	// Spec §1.4: a serialization failure or deadlock is retryable.
	if got := CodeSerializationFailure.Status(); got != http.StatusServiceUnavailable {
		t.Errorf("serialization_failure: got %d, want 503", got)
	}
	if got := Code("no_such_code").Status(); got != http.StatusInternalServerError {
		t.Errorf("unknown code: got %d, want 500", got)
	}
}

func TestWithDetailDoesNotMutateTheSharedError(t *testing.T) {
	shared := &Error{Code: CodeForbidden, Message: "forbidden", Details: map[string]any{"base": 1}}
	a := shared.WithDetail("right", "read")
	b := shared.WithDetail("right", "write").WithDetail("api_key_id", "k1")
	if len(shared.Details) != 1 || shared.Details["base"] != 1 {
		t.Errorf("shared error changed: %v", shared.Details)
	}
	if a.Details["right"] != "read" || a.Details["base"] != 1 || len(a.Details) != 2 {
		t.Errorf("first copy: %v", a.Details)
	}
	if b.Details["right"] != "write" || b.Details["api_key_id"] != "k1" || len(b.Details) != 3 {
		t.Errorf("second copy: %v", b.Details)
	}
	if a == shared || b == shared || a.Code != shared.Code || a.Message != shared.Message {
		t.Errorf("copies: %+v %+v", a, b)
	}
	empty := &Error{Code: CodeForbidden}
	if empty.WithDetail("k", "v"); empty.Details != nil {
		t.Errorf("error without details got %v", empty.Details)
	}
}

func TestErrorKeepsItsCause(t *testing.T) {
	e := (&Error{Code: CodeBackendUnavailable, Message: "database unavailable"}).WithCause(io.ErrUnexpectedEOF)
	if !errors.Is(e, io.ErrUnexpectedEOF) {
		t.Errorf("errors.Is does not see the cause of %v", e)
	}
	if e.Error() != "database unavailable" {
		t.Errorf("the cause leaked into the text: %q", e.Error())
	}
	internal := AsError(io.ErrClosedPipe)
	if internal.Code != CodeInternal || !errors.Is(internal, io.ErrClosedPipe) || internal.Detail != "an unexpected error occurred" {
		t.Errorf("AsError: %+v", internal)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for _, tt := range []struct {
		give time.Duration
		want int
	}{{0, 1}, {-time.Second, 1}, {time.Millisecond, 1}, {time.Second, 1}, {1500 * time.Millisecond, 2}, {30 * time.Second, 30}} {
		if got := RetryAfterSeconds(tt.give); got != tt.want {
			t.Errorf("RetryAfterSeconds(%v): got %d, want %d", tt.give, got, tt.want)
		}
	}
}
