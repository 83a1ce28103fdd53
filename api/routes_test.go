package api

import (
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/athena-gateway/athena/auth"
)

// routeHarness is the plain harness's server with the admin key
// configured, and its engine.
func routeHarness(t *testing.T) (*harness, *Server) {
	t.Helper()
	h := newHarness(t)
	a := auth.New(nil, auth.Options{AdminKey: testAdminKey})
	t.Cleanup(a.Close)
	s := newServer(registryDeps(h.reg, a), Options{Version: "test", BodyLimitBytes: 1 << 20}, nil)
	h.engine = s.engine()
	return h, s
}

// concretePath fills every :param of a route path.
func concretePath(p string) string {
	return regexp.MustCompile(`:[a-z_]+`).ReplaceAllString(p, "x")
}

// TestRouteTableIsServed checks every entry of the route table: gin serves
// exactly the table's methods and paths, and each of them reaches its
// handler (never the no-route or no-method answer).
func TestRouteTableIsServed(t *testing.T) {
	h, s := routeHarness(t)
	var want, got []string
	for _, r := range s.routes {
		for _, m := range r.Methods {
			want = append(want, m+" "+r.Path)
		}
	}
	for _, r := range h.engine.Routes() {
		got = append(got, r.Method+" "+r.Path)
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(want, "\n") != strings.Join(got, "\n") {
		t.Fatalf("gin serves\n%s\nthe route table lists\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The API has 50 method+path pairs: a route deleted by mistake shows
	// here (change the count with the table).
	if len(want) != 50 {
		t.Fatalf("the route table has %d method+path entries, want 50", len(want))
	}
	for _, r := range s.routes {
		for _, m := range r.Methods {
			resp := h.do(m, concretePath(r.Path), "", `{`, "X-Athena-Admin-Key", testAdminKey)
			if data, _ := resp.JSON["data"].(map[string]any); data["operation"] == "route" {
				t.Errorf("%s %s: answered by the no-route handler: %d %s", m, r.Path, resp.Status, resp.Body)
			}
		}
	}
}

// TestRouteOperations walks every route's operation name: each is set, and
// a route that fails names it as data.operation of its error envelope
// (with the admin key, no client header and a malformed body, every
// tenant route and most admin routes fail inside their handler).
func TestRouteOperations(t *testing.T) {
	h, s := routeHarness(t)
	failed := 0
	for _, r := range s.routes {
		if r.Op == "" || r.Op == "route" || r.Op == "auth" || r.Op == "admin" {
			t.Errorf("%s: operation %q (empty, or the name of a step)", r.Path, r.Op)
		}
		for _, m := range r.Methods {
			resp := h.do(m, concretePath(r.Path), "", `{`, "X-Athena-Admin-Key", testAdminKey)
			if resp.Status < 400 {
				continue
			}
			failed++
			data, _ := resp.JSON["data"].(map[string]any)
			if data["operation"] != r.Op {
				t.Errorf("%s %s: data.operation %v, want %q (%d %s)", m, r.Path, data["operation"], r.Op, resp.Status, resp.Body)
			}
		}
	}
	if failed < 30 {
		t.Errorf("only %d route calls failed; the walk checks too little", failed)
	}
}
