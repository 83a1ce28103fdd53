package testenv

import (
	"errors"
	"testing"
)

// recorder is a testing.TB that remembers whether the test was failed or
// skipped instead of ending it.
type recorder struct {
	testing.TB
	fatal, skip bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Fatalf(string, ...any) { r.fatal = true }
func (r *recorder) Skipf(string, ...any)  { r.skip = true }

func TestUnavailableFailsInCIAndSkipsElsewhere(t *testing.T) {
	for _, tc := range []struct {
		ci          string
		fatal, skip bool
	}{
		{"true", true, false},
		{"1", true, false},
		{"", false, true},
		{"false", false, true},
	} {
		t.Setenv("CI", tc.ci)
		r := &recorder{TB: t}
		Unavailable(r, "PostgreSQL", errors.New("connection refused"))
		if r.fatal != tc.fatal || r.skip != tc.skip {
			t.Errorf("CI=%q: got fatal %v skip %v, want fatal %v skip %v", tc.ci, r.fatal, r.skip, tc.fatal, tc.skip)
		}
	}
}
