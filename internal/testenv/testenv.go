// Package testenv decides what a test does when a service it needs
// (PostgreSQL, Redis) is not there: on a developer's machine it skips, in
// CI (CI=true) it fails, so a CI run that lost its database cannot look
// green.
package testenv

import (
	"os"
	"strconv"
	"testing"
)

// InCI reports whether the tests run in CI: CI is set to a true value, as
// GitHub Actions, GitLab and most runners do.
func InCI() bool {
	ci, err := strconv.ParseBool(os.Getenv("CI"))
	return err == nil && ci
}

// Unavailable ends the test because service (e.g. "PostgreSQL") cannot be
// used, for reason: a failure under CI=true, a skip otherwise.
func Unavailable(t testing.TB, service string, reason error) {
	t.Helper()
	if InCI() {
		t.Fatalf("%s not available, and CI=true requires it: %v", service, reason)
		return
	}
	t.Skipf("%s not available (under CI=true this fails): %v", service, reason)
}
