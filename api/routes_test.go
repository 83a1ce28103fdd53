package api

import (
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// routeHarness is the plain harness's server with the admin key
// configured, and its engine.
func routeHarness(t *testing.T) (*harness, *Server) {
	t.Helper()
	h := newHarness(t)
	// No key store and keys off explicitly (api_keys.required: false):
	// every route must be reachable without a tenant key.
	a := auth.New(nil, auth.Options{AdminKey: testAdminKey, KeysOptional: true})
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
	// The API has 62 method+path pairs, each also under /db: a route
	// deleted by mistake shows here (change the count with the table).
	if len(want) != 2*62 {
		t.Fatalf("the route table has %d method+path entries, want 2×62", len(want))
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

// routeMatches reports whether the concrete path fills the route template.
func routeMatches(template, path string) bool {
	ts, ps := strings.Split(template, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if !strings.HasPrefix(ts[i], ":") && ts[i] != ps[i] || ps[i] == "" && ts[i] != "" {
			return false
		}
	}
	return true
}

// TestWrongMethodIs405WithAllow walks the route table: on every path, each
// method no route serves answers 405 (spec §1.4), enveloped, with Allow
// listing exactly the methods the table serves there.
func TestWrongMethodIs405WithAllow(t *testing.T) {
	h, s := routeHarness(t)
	checked := 0
	for _, r := range s.routes {
		path := concretePath(r.Path)
		allowed := map[string]bool{}
		for _, other := range s.routes {
			if routeMatches(other.Path, path) {
				for _, m := range other.Methods {
					allowed[m] = true
				}
			}
		}
		for _, m := range []string{get, post, put, patch, del} {
			if allowed[m] {
				continue
			}
			resp := h.do(m, path, "", `{}`)
			if resp.Status != 405 || resp.code() != string(gateway.CodeMethodNotAllowed) || resp.JSON["status"] != "error" {
				t.Errorf("%s %s: got %d %s, want a 405 method_not_allowed envelope", m, path, resp.Status, resp.Body)
				continue
			}
			got := map[string]bool{}
			for _, a := range strings.Split(resp.Header.Get("Allow"), ",") {
				got[strings.TrimSpace(a)] = true
			}
			if !maps.Equal(got, allowed) {
				t.Errorf("%s %s: Allow %q, want %v", m, path, resp.Header.Get("Allow"), slices.Sorted(maps.Keys(allowed)))
			}
			checked++
		}
	}
	if checked < 100 {
		t.Errorf("checked %d wrong methods; the walk missed the table", checked)
	}
	// The old answer was a 404 "method not allowed".
	r := h.do("GET", "/gateway/fetch", "test", "").want(t, 405)
	if r.Header.Get("Allow") != "POST" || r.JSON["hint"] != "use POST" {
		t.Errorf("GET /gateway/fetch: Allow %q, body %s", r.Header.Get("Allow"), r.Body)
	}
}

// The SDK's default base path (createClient({url, key, client}) derives
// <url>/db: xylex-group/athena-js docs on client construction, "default
// derived service URLs are ${url}/db") serves every route: each entry of
// the table is listed again under /db with the same methods and answers
// as the route it aliases.
func TestEveryRouteIsServedUnderTheSDKBasePath(t *testing.T) {
	h, s := routeHarness(t)
	table := map[string]bool{}
	for _, r := range s.routes {
		for _, m := range r.Methods {
			table[m+" "+r.Path] = true
		}
	}
	bases := 0
	for _, r := range s.routes {
		if strings.HasPrefix(r.Path, sdkBasePath+"/") {
			continue
		}
		bases++
		for _, m := range r.Methods {
			if !table[m+" "+sdkBasePath+r.Path] {
				t.Errorf("%s %s is not served under %s", m, r.Path, sdkBasePath)
			}
		}
	}
	if len(s.routes) != 2*bases {
		t.Errorf("%d routes for %d base routes: an alias is not of a base route", len(s.routes), bases)
	}
	// GET / lists the aliases.
	root := h.do("GET", "/db/", "", "").want(t, 200)
	listed := map[string]bool{}
	for _, r := range root.JSON["routes"].([]any) {
		listed[r.(map[string]any)["path"].(string)] = true
	}
	for _, p := range []string{"/db/gateway/fetch", "/db/health", "/db/", "/gateway/fetch"} {
		if !listed[p] {
			t.Errorf("GET / does not list %s", p)
		}
	}
	// The SDK's calls answer as the routes they alias.
	r := h.do("POST", "/db/gateway/fetch", "test", `{"table_name":"users","columns":"email","sort_by":{"field":"id","direction":"ascending"},"limit":1}`).want(t, 200)
	if rows := r.rows(t); len(rows) != 1 || rows[0]["email"] != "ada@example.com" {
		t.Errorf("/db/gateway/fetch: %s", r.Body)
	}
	h.do("PUT", "/db/gateway/insert", "test", `{"table_name":"users","insert_body":{"email":"db@example.com"}}`).want(t, 201)
	if r := h.do("GET", "/db/health", "", "").want(t, 200); r.JSON["status"] != "ok" {
		t.Errorf("/db/health: %s", r.Body)
	}
	if r := h.do("GET", "/db/ping", "", ""); string(r.Body) != "pong" {
		t.Errorf("/db/ping: %s", r.Body)
	}
	// Admin aliases keep the admin check.
	h.do("GET", "/db/admin/api-keys", "", "").wantCode(t, 401, gateway.CodeUnauthorized)
	// An alias counts and logs as the route it serves.
	for give, want := range map[string]string{"/db/gateway/fetch": "fetch", "/db/gateway/data": "fetch", "/db/query/sql": "query", "/db/health": ""} {
		if op, _ := gatewayOperation(canonicalRoute(give)); op != want {
			t.Errorf("operation of %s: got %q, want %q", give, op, want)
		}
	}
}
