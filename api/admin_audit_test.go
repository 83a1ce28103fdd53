package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/telemetry"
)

// newAuditHarness is the control-plane harness with everything the admin
// surface has in production: the key store on the logging database, the
// audit trail written through a running LogWriter (flushed by GET
// /admin/audit, never by waiting), and its reader.
func newAuditHarness(t *testing.T) *harness {
	t.Helper()
	h := newControlPlaneHarness(t)
	cp := h.reg.ControlPlane()
	keys := postgres.NewKeyStore(cp)
	a := auth.New(keys, auth.Options{AdminKey: testAdminKey})
	t.Cleanup(a.Close)
	w := telemetry.NewLogWriter(postgres.NewLogStore(cp), telemetry.LogOptions{FlushInterval: time.Hour, Retention: -1}, nil, nil)
	w.Start()
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	deps := registryDeps(h.reg, a)
	deps.APIKeys = keys
	deps.Audit = postgres.NewAuditStore(cp)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.engine = New(deps, Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Audit: w}, log)
	return h
}

// auditRows is GET /admin/audit with query, as decoded rows.
func auditRows(t *testing.T, h *harness, query string) []map[string]any {
	t.Helper()
	r := h.do("GET", "/admin/audit"+query, "", "").want(t, 200)
	list, ok := r.JSON["data"].([]any)
	if !ok {
		t.Fatalf("GET /admin/audit%s: data is not a list: %s", query, r.Body)
	}
	out := make([]map[string]any, len(list))
	for i, v := range list {
		out[i] = v.(map[string]any)
	}
	return out
}

// jsonField reads a nested field of a decoded before/after document.
func jsonField(doc any, key string) any {
	m, _ := doc.(map[string]any)
	return m[key]
}

// TestAdminAuditEveryMutation: each admin mutation, sent with the body the
// SDK's tools send, adds exactly one audit row naming the actor, the
// action, the target, the request id and the record before and after; a
// refused mutation adds none.
func TestAdminAuditEveryMutation(t *testing.T) {
	h := newAuditHarness(t)
	u, _ := pgx.ParseConfig(testDatabaseURL())
	shopURI := "postgres://" + u.User + ":topsecret@" + net.JoinHostPort(u.Host, "5432") + "/" + u.Database + "?sslmode=disable&search_path=" + h.schema

	seen := 0
	var keyID, keyRecord string
	steps := []struct {
		name, method, path, body string
		status                   int
		action, target           string
		before, after            bool
		check                    func(t *testing.T, row map[string]any)
	}{
		{"client create", "POST", "/admin/clients", `{"client_name":"shop","pg_uri":"` + shopURI + `"}`, 201, "client.create", "client:shop", false, true, nil},
		{"client patch", "PATCH", "/admin/clients/shop", `{"metadata":{"team":"b"}}`, 200, "client.update", "client:shop", true, true, nil},
		{"client freeze", "PUT", "/admin/clients/shop/freeze", ``, 200, "client.freeze", "client:shop", true, true, func(t *testing.T, row map[string]any) {
			if jsonField(row["before"], "is_frozen") != false || jsonField(row["after"], "is_frozen") != true {
				t.Errorf("freeze before/after: %v → %v", row["before"], row["after"])
			}
		}},
		{"client thaw", "PUT", "/admin/clients/shop/freeze", `{"frozen":false}`, 200, "client.unfreeze", "client:shop", true, true, nil},
		{"host route put", "PUT", "/admin/routes/acme", `{"client_name":"shop"}`, 200, "host_route.put", "host_route:acme", false, true, nil},
		{"host route delete", "DELETE", "/admin/routes/acme", ``, 200, "host_route.delete", "host_route:acme", true, false, nil},
		{"key create", "POST", "/admin/api-keys", `{"name":"app","rights":["gateway.query"]}`, 201, "api_key.create", "", false, true, nil},
		{"key patch by record id", "PATCH", "/admin/api-keys/{record}", `{"name":"app2","rights":["orders.read"]}`, 200, "api_key.update", "", true, true, func(t *testing.T, row map[string]any) {
			if jsonField(row["before"], "name") != "app" || jsonField(row["after"], "name") != "app2" {
				t.Errorf("patch before/after: %v → %v", row["before"], row["after"])
			}
		}},
		{"grant", "POST", "/admin/api-key-grants", `{"public_id":"{key}","right":"orders.write"}`, 201, "api_key.grant", "", true, true, func(t *testing.T, row map[string]any) {
			if got := jsonField(row["after"], "rights"); len(got.([]any)) != 2 {
				t.Errorf("grant after: rights %v, want 2", got)
			}
		}},
		{"ungrant", "DELETE", "/admin/api-key-grants", `{"public_id":"{key}","right":"orders.write"}`, 200, "api_key.ungrant", "", true, true, nil},
		{"right create", "POST", "/admin/api-key-rights", `{"description":"Run /gateway/query","name":"gateway.query"}`, 201, "api_key_right.create", "api_key_right:gateway.query", false, true, nil},
		{"right patch", "PATCH", "/admin/api-key-rights/gateway.query", `{"description":"raw SQL"}`, 200, "api_key_right.update", "api_key_right:gateway.query", true, true, nil},
		{"right delete", "DELETE", "/admin/api-key-rights/gateway.query", ``, 200, "api_key_right.delete", "api_key_right:gateway.query", true, false, nil},
		{"config", "PUT", "/admin/api-key-config", `{"enforce_api_keys":false,"fail_mode":"fail_open"}`, 200, "api_key_config.update", "api_key_config", true, true, func(t *testing.T, row map[string]any) {
			if jsonField(row["before"], "fail_mode") != "fail_closed" || jsonField(row["after"], "fail_mode") != "fail_open" {
				t.Errorf("config before/after: %v → %v", row["before"], row["after"])
			}
		}},
		{"client override put", "PUT", "/admin/api-key-clients/shop", `{"enforce_api_keys":true}`, 200, "api_key_client.put", "api_key_client:shop", false, true, nil},
		{"client override delete", "DELETE", "/admin/api-key-clients/shop", ``, 200, "api_key_client.delete", "api_key_client:shop", true, false, nil},
		{"key revoke by public id", "DELETE", "/admin/api-keys/{key}", ``, 200, "api_key.revoke", "", true, true, func(t *testing.T, row map[string]any) {
			if jsonField(row["before"], "is_active") != true || jsonField(row["after"], "is_active") != false {
				t.Errorf("revoke before/after: %v → %v", row["before"], row["after"])
			}
		}},
		{"client delete", "DELETE", "/admin/clients/shop", ``, 200, "client.delete", "client:shop", true, false, nil},
	}
	for _, st := range steps {
		path := strings.NewReplacer("{key}", keyID, "{record}", keyRecord).Replace(st.path)
		body := strings.NewReplacer("{key}", keyID).Replace(st.body)
		reqID := "audit-" + strings.ReplaceAll(st.name, " ", "-")
		r := h.do(st.method, path, "", body, "X-Request-Id", reqID).want(t, st.status)
		if st.action == "api_key.create" {
			rec := r.JSON["data"].(map[string]any)["record"].(map[string]any)
			keyID = rec["public_id"].(string)
			keyRecord = rec["id"].(json.Number).String()
		}
		target := st.target
		if target == "" {
			target = "api_key:" + keyID
		}
		rows := auditRows(t, h, "?limit=1000")
		if len(rows) != seen+1 {
			t.Fatalf("%s: %d audit rows, want %d", st.name, len(rows), seen+1)
		}
		seen++
		row := rows[0]
		if row["action"] != st.action || row["target"] != target || row["actor"] != "admin" || row["request_id"] != reqID || row["created_at"] == nil {
			t.Errorf("%s: row %v, want action %s target %s actor admin request %s", st.name, row, st.action, target, reqID)
		}
		if got := row["before"] != nil; got != st.before {
			t.Errorf("%s: before %v, want present=%v", st.name, row["before"], st.before)
		}
		if got := row["after"] != nil; got != st.after {
			t.Errorf("%s: after %v, want present=%v", st.name, row["after"], st.after)
		}
		if st.check != nil {
			st.check(t, row)
		}
	}
	// Secrets never reach the trail: the client's password and the key's
	// salt, hash or plaintext.
	r := h.do("GET", "/admin/audit?limit=1000", "", "").want(t, 200)
	for _, leak := range []string{"topsecret", "salt", "hash", "ath_"} {
		if strings.Contains(string(r.Body), leak) {
			t.Errorf("audit trail contains %q: %s", leak, r.Body)
		}
	}

	// Refused mutations write nothing.
	h.do("PATCH", "/admin/api-keys/"+keyID, "", `{"is_active":true}`).want(t, 400) // constraint_violation is 400 (spec §1.4: only duplicates are 409)
	h.do("POST", "/admin/api-key-rights", "", `{"name":"bad right"}`).want(t, 400)
	h.do("DELETE", "/admin/clients/nobody", "", "").want(t, 404)
	if rows := auditRows(t, h, "?limit=1000"); len(rows) != seen {
		t.Fatalf("after refusals: %d audit rows, want %d", len(rows), seen)
	}
}

// TestAdminAuditPaging: GET /admin/audit pages newest first with limit and
// offset, filters by action, target and actor, refuses bad paging, and is
// admin-only.
func TestAdminAuditPaging(t *testing.T) {
	h := newAuditHarness(t)
	for i := 0; i < 5; i++ {
		h.do("POST", "/admin/api-key-rights", "", `{"name":"r`+strconv.Itoa(i)+`.read"}`).want(t, 201)
	}
	h.do("PUT", "/admin/api-key-config", "", `{"enforce":false}`).want(t, 200)

	all := auditRows(t, h, "")
	if len(all) != 6 || all[0]["action"] != "api_key_config.update" || all[5]["target"] != "api_key_right:r0.read" {
		t.Fatalf("all rows, newest first: %v", all)
	}
	var got []any
	for off := 0; off < 6; off += 2 {
		page := auditRows(t, h, "?limit=2&offset="+strconv.Itoa(off))
		if len(page) != 2 {
			t.Fatalf("page at %d: %d rows, want 2", off, len(page))
		}
		for _, row := range page {
			got = append(got, row["id"])
		}
	}
	for i, row := range all {
		if got[i] != row["id"] {
			t.Fatalf("paged ids %v, want %v in order", got, all)
		}
	}
	if page := auditRows(t, h, "?limit=2&offset=6"); len(page) != 0 {
		t.Fatalf("past the end: %v", page)
	}
	if rows := auditRows(t, h, "?action=api_key_right.create"); len(rows) != 5 {
		t.Fatalf("action filter: %d rows, want 5", len(rows))
	}
	if rows := auditRows(t, h, "?target=api_key_right:r3.read"); len(rows) != 1 || rows[0]["target"] != "api_key_right:r3.read" {
		t.Fatalf("target filter: %v", rows)
	}
	if rows := auditRows(t, h, "?actor=someone-else"); len(rows) != 0 {
		t.Fatalf("actor filter: %v", rows)
	}
	r := h.do("GET", "/admin/audit?limit=3&offset=1", "", "").want(t, 200)
	if r.JSON["limit"] != json.Number("3") || r.JSON["offset"] != json.Number("1") {
		t.Errorf("paging echo: %s", r.Body)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?offset=-1"} {
		h.do("GET", "/admin/audit"+q, "", "").wantCode(t, 400, gateway.CodeInvalidValue)
	}
	h.adminKey = ""
	h.do("GET", "/admin/audit", "", "").wantCode(t, 401, gateway.CodeUnauthorized)
}
