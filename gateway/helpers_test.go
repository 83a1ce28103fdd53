package gateway

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// checkErr asserts err is a *Error with code whose message contains want.
func checkErr(t *testing.T, err error, code Code, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got nil error, want %s containing %q", code, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T (%v), want *Error", err, err)
	}
	if e.Code != code {
		t.Fatalf("got code %s (%v), want %s", e.Code, e, code)
	}
	if !strings.Contains(e.Message, want) {
		t.Fatalf("got message %q, want it to contain %q", e.Message, want)
	}
}

// clientError reports whether err is a *Error with a 4xx status.
func clientError(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	s := e.Code.Status()
	return s >= 400 && s <= 499
}

// badIdentifier returns the first identifier in the tree that fails
// ValidIdentifier, or "" when all pass.
func badConditionIdentifier(cs []Condition) (string, bool) {
	for _, c := range cs {
		if c.IsGroup() {
			if c.Column != "" || c.Op != "" {
				return "group with column " + c.Column, true
			}
			if len(c.Children) == 0 {
				return "empty group", true
			}
			if s, bad := badConditionIdentifier(c.Children); bad {
				return s, true
			}
			continue
		}
		if !ValidIdentifier(c.Column) {
			return c.Column, true
		}
		if c.ColumnCast != "" && !AllowedCast(c.ColumnCast) {
			return string(c.ColumnCast), true
		}
		if c.ValueCast != "" && !AllowedCast(c.ValueCast) {
			return string(c.ValueCast), true
		}
	}
	return "", false
}

func badSelectionIdentifier(s Selection) (string, bool) {
	for _, it := range s.Items {
		if it.Embed != nil {
			e := it.Embed
			if !ValidIdentifier(e.Target) || (e.Alias != "" && !ValidIdentifier(e.Alias)) || (e.Hint != "" && !ValidIdentifier(e.Hint)) ||
				(e.Schema != "" && !ValidIdentifier(e.Schema)) {
				return e.Schema + "/" + e.Target + "/" + e.Alias + "/" + e.Hint, true
			}
			if n, bad := badSelectionIdentifier(e.Selection); bad {
				return n, true
			}
			continue
		}
		if !ValidIdentifier(it.Column) || (it.Alias != "" && !ValidIdentifier(it.Alias)) {
			return it.Column + "/" + it.Alias, true
		}
	}
	return "", false
}

func num(s string) json.Number { return json.Number(s) }

func i64(n int64) *int64 { return &n }
