package api

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

var adminHeader = []string{"X-Athena-Admin-Key", testAdminKey}

func TestAdminRoutesGuard(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{AdminKey: testAdminKey})
	tenant, _ := e.newKey(t, "", "*")
	routes := []struct{ method, path, body string }{
		{"GET", "/admin/api-keys", ""},
		{"POST", "/admin/api-keys", `{}`},
		{"DELETE", "/admin/api-keys/abc", ""},
		{"PATCH", "/admin/api-keys/abc", `{}`},
		{"GET", "/admin/api-key-rights", ""},
		{"POST", "/admin/api-key-rights", `{}`},
		{"DELETE", "/admin/api-key-rights", `{}`},
		{"GET", "/admin/api-key-config", ""},
		{"PUT", "/admin/api-key-config", `{"enforce":false}`},
		{"GET", "/admin/api-key-clients", ""},
		{"PUT", "/admin/api-key-clients/x", `{}`},
		{"DELETE", "/admin/api-key-clients/x", ""},
		{"GET", "/clients", ""},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			e.do(rt.method, rt.path, "", rt.body).wantCode(t, 401, gateway.CodeUnauthorized)
			e.do(rt.method, rt.path, "", rt.body, "X-Athena-Key", tenant).wantCode(t, 403, gateway.CodeForbidden)
			e.do(rt.method, rt.path, "", rt.body, "Authorization", "Bearer "+tenant).wantCode(t, 403, gateway.CodeForbidden)
			e.do(rt.method, rt.path, "", rt.body, "X-Athena-Key", "ath_garbage").wantCode(t, 401, gateway.CodeUnauthorized)
			e.do(rt.method, rt.path, "", rt.body, "X-Athena-Admin-Key", testAdminKey+"x").wantCode(t, 401, gateway.CodeUnauthorized)
			for _, h := range [][]string{adminHeader, {"apikey", testAdminKey}, {"x-api-key", testAdminKey}, {"X-Athena-Key", testAdminKey}, {"Authorization", "Bearer " + testAdminKey}} {
				if r := e.do(rt.method, rt.path, "", rt.body, h...); r.Status == 401 || r.Status == 403 {
					t.Fatalf("admin key in %s refused: %d %s", h[0], r.Status, r.Body)
				}
			}
		})
	}

	// No admin key configured: refused for everyone, never open.
	closed := newKeyEnv(t, e.pool, auth.Options{})
	closed.do("GET", "/admin/api-keys", "", "").wantCode(t, 401, gateway.CodeUnauthorized)
	closed.do("GET", "/admin/api-keys", "", "", adminHeader...).wantCode(t, 403, gateway.CodeForbidden)
	closed.do("GET", "/admin/api-keys", "", "", "X-Athena-Admin-Key", "").wantCode(t, 401, gateway.CodeUnauthorized)
	closed.do("GET", "/clients", "", "", "apikey", tenant).wantCode(t, 403, gateway.CodeForbidden)
}

func TestAdminKeyLifecycle(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{AdminKey: testAdminKey})
	e.setEnforce(t, true)

	// Create: 201, plaintext once, secret material never.
	r := e.do("POST", "/admin/api-keys", "", `{"name":"orders app","client_name":"shop","rights":["orders.read"],"expires_in":"720h"}`, adminHeader...).want(t, 201)
	data, _ := r.JSON["data"].(map[string]any)
	plaintext, _ := data["api_key"].(string)
	id, _ := data["public_id"].(string)
	if !strings.HasPrefix(plaintext, "ath_"+id+".") || data["client_name"] != "shop" || data["expires_at"] == nil {
		t.Fatalf("create: got %s", r.Body)
	}
	for _, leak := range []string{"salt", "hash"} {
		if strings.Contains(string(r.Body), leak) {
			t.Fatalf("create answer mentions %s: %s", leak, r.Body)
		}
	}
	e.do("POST", "/probe", "shop", `{"table_name":"orders","action":"fetch"}`, "X-Athena-Key", plaintext).want(t, 200)

	r = e.do("GET", "/admin/api-keys", "", "", adminHeader...).want(t, 200)
	secret := plaintext[strings.Index(plaintext, ".")+1:]
	if strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), "salt") || !strings.Contains(string(r.Body), id) {
		t.Fatalf("list: got %s", r.Body)
	}

	// Rights.
	e.do("POST", "/admin/api-key-rights", "", `{"public_id":"`+id+`","right":"orders.write"}`, adminHeader...).want(t, 201)
	e.do("POST", "/admin/api-key-rights", "", `{"api_key_id":"`+id+`","right":"orders.write"}`, adminHeader...).wantCode(t, 409, gateway.CodeUniqueViolation)
	e.do("POST", "/probe", "shop", `{"table_name":"orders","action":"insert"}`, "X-Athena-Key", plaintext).want(t, 200)
	var rowID int64
	if err := e.pool.QueryRow(context.Background(), "SELECT id FROM api_keys WHERE public_id = $1", id).Scan(&rowID); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/admin/api-key-rights?api_key_id="+itoa(rowID), "", "", adminHeader...).want(t, 200)
	if got := len(r.JSON["data"].([]any)); got != 2 {
		t.Fatalf("rights: got %d, want 2: %s", got, r.Body)
	}
	e.do("DELETE", "/admin/api-key-rights", "", `{"api_key_id":`+itoa(rowID)+`,"right":"orders.write"}`, adminHeader...).want(t, 200)
	e.do("DELETE", "/admin/api-key-rights", "", `{"public_id":"`+id+`","right":"orders.write"}`, adminHeader...).wantCode(t, 404, gateway.CodeNotFound)
	e.do("POST", "/probe", "shop", `{"table_name":"orders","action":"insert"}`, "X-Athena-Key", plaintext).wantCode(t, 403, gateway.CodeForbidden)

	// Deactivate, reactivate, expire, clear expiry.
	e.do("PATCH", "/admin/api-keys/"+id, "", `{"is_active":false,"name":"paused"}`, adminHeader...).want(t, 200)
	e.do("POST", "/probe", "shop", `{}`, "X-Athena-Key", plaintext).wantCode(t, 401, gateway.CodeUnauthorized)
	r = e.do("PATCH", "/admin/api-keys/"+id, "", `{"is_active":true,"expires_at":null}`, adminHeader...).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["expires_at"] != nil || d["name"] != "paused" || d["is_active"] != true {
		t.Fatalf("patch: got %s", r.Body)
	}
	e.do("POST", "/probe", "shop", `{}`, "X-Athena-Key", plaintext).want(t, 200)

	// Revoke: final.
	e.do("DELETE", "/admin/api-keys/"+id, "", "", adminHeader...).want(t, 200)
	e.do("POST", "/probe", "shop", `{}`, "X-Athena-Key", plaintext).wantCode(t, 401, gateway.CodeUnauthorized)
	e.do("PATCH", "/admin/api-keys/"+id, "", `{"is_active":true}`, adminHeader...).wantCode(t, 400, gateway.CodeConstraintViolation)
	e.do("DELETE", "/admin/api-keys/zzzzzzzzzzzz", "", "", adminHeader...).wantCode(t, 404, gateway.CodeNotFound)

	// Global and per-client configuration.
	r = e.do("PUT", "/admin/api-key-config", "", `{"enforce":false,"fail_mode":"fail_open"}`, adminHeader...).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["enforce"] != false || d["fail_mode"] != "fail_open" {
		t.Fatalf("config: got %s", r.Body)
	}
	e.do("POST", "/probe", "app", `{}`).want(t, 200) // takes effect at once in this process
	e.do("PUT", "/admin/api-key-clients/locked", "", `{"enforce":true}`, adminHeader...).want(t, 200)
	e.do("POST", "/probe", "locked", `{}`).wantCode(t, 401, gateway.CodeUnauthorized)
	r = e.do("GET", "/admin/api-key-clients", "", "", adminHeader...).want(t, 200)
	if list := r.JSON["data"].([]any); len(list) != 1 || list[0].(map[string]any)["client_name"] != "locked" {
		t.Fatalf("client overrides: got %s", r.Body)
	}
	e.do("DELETE", "/admin/api-key-clients/locked", "", "", adminHeader...).want(t, 200)
	e.do("DELETE", "/admin/api-key-clients/locked", "", "", adminHeader...).wantCode(t, 404, gateway.CodeNotFound)
	e.do("POST", "/probe", "locked", `{}`).want(t, 200)
	r = e.do("GET", "/admin/api-key-config", "", "", adminHeader...).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["enforce"] != false {
		t.Fatalf("config: got %s", r.Body)
	}
}

func TestAdminKeyValidation(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{AdminKey: testAdminKey})
	_, k := e.newKey(t, "")
	id := k.PublicID
	tests := []struct {
		name, method, path, body string
		status                   int
		code                     gateway.Code
	}{
		{"bad json", "POST", "/admin/api-keys", `{`, 400, gateway.CodeInvalidJSON},
		{"unknown field", "POST", "/admin/api-keys", `{"nmae":"x"}`, 400, gateway.CodeInvalidJSON},
		{"bad right", "POST", "/admin/api-keys", `{"rights":["users.read; DROP TABLE api_keys"]}`, 400, gateway.CodeInvalidValue},
		{"long right", "POST", "/admin/api-keys", `{"rights":["` + strings.Repeat("a", 129) + `"]}`, 400, gateway.CodeInvalidValue},
		{"bad client", "POST", "/admin/api-keys", `{"client_name":"x'; DROP TABLE api_keys; --"}`, 400, gateway.CodeInvalidValue},
		{"bad expires_at", "POST", "/admin/api-keys", `{"expires_at":"tomorrow"}`, 400, gateway.CodeInvalidValue},
		{"past expires_at", "POST", "/admin/api-keys", `{"expires_at":"2001-01-01T00:00:00Z"}`, 400, gateway.CodeInvalidValue},
		{"negative expires_in", "POST", "/admin/api-keys", `{"expires_in":"-1h"}`, 400, gateway.CodeInvalidValue},
		{"both expiries", "POST", "/admin/api-keys", `{"expires_in":"1h","expires_at":"2099-01-01T00:00:00Z"}`, 400, gateway.CodeInvalidValue},
		{"bad key id in path", "DELETE", "/admin/api-keys/x'%20OR%201=1", "", 400, gateway.CodeInvalidValue},
		{"empty patch", "PATCH", "/admin/api-keys/" + id, `{}`, 400, gateway.CodeInvalidValue},
		{"patch bad expiry", "PATCH", "/admin/api-keys/" + id, `{"expires_at":5}`, 400, gateway.CodeInvalidValue},
		{"patch unknown key", "PATCH", "/admin/api-keys/zzzzzzzzzzzz", `{"name":"x"}`, 404, gateway.CodeNotFound},
		{"right without key", "POST", "/admin/api-key-rights", `{"right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"right bad name", "POST", "/admin/api-key-rights", `{"public_id":"` + id + `","right":"users read"}`, 400, gateway.CodeInvalidValue},
		{"right unknown key", "POST", "/admin/api-key-rights", `{"public_id":"zzzzzzzzzzzz","right":"users.read"}`, 404, gateway.CodeNotFound},
		{"right unknown row id", "POST", "/admin/api-key-rights", `{"api_key_id":999999,"right":"users.read"}`, 404, gateway.CodeNotFound},
		{"right bad api_key_id", "POST", "/admin/api-key-rights", `{"api_key_id":true,"right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"right ids disagree", "POST", "/admin/api-key-rights", `{"public_id":"` + id + `","api_key_id":"zzzz","right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"right injected id", "POST", "/admin/api-key-rights", `{"public_id":"x' OR '1'='1","right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"list rights bad id", "GET", "/admin/api-key-rights?public_id=X-Y", "", 400, gateway.CodeInvalidValue},
		{"config bad fail mode", "PUT", "/admin/api-key-config", `{"fail_mode":"fail_sideways"}`, 400, gateway.CodeInvalidValue},
		{"config empty", "PUT", "/admin/api-key-config", `{}`, 400, gateway.CodeInvalidValue},
		{"config enforce not bool", "PUT", "/admin/api-key-config", `{"enforce":"yes"}`, 400, gateway.CodeInvalidJSON},
		{"client injected name", "PUT", "/admin/api-key-clients/x';DROP%20TABLE%20api_keys;--", `{"enforce":true}`, 400, gateway.CodeInvalidValue},
		{"client bad fail mode", "PUT", "/admin/api-key-clients/shop", `{"fail_mode":"open"}`, 400, gateway.CodeInvalidValue},
		{"client delete bad name", "DELETE", "/admin/api-key-clients/-x", "", 400, gateway.CodeInvalidValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.do(tt.method, tt.path, "", tt.body, adminHeader...).wantCode(t, tt.status, tt.code)
		})
	}
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM api_keys").Scan(&n); err != nil || n != 1 {
		t.Fatalf("api_keys after refusals: %d rows, %v; want 1", n, err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
