package api

import (
	"context"
	"encoding/json"
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
		{"GET", "/admin/api-key-grants", ""},
		{"POST", "/admin/api-key-grants", `{}`},
		{"DELETE", "/admin/api-key-grants", `{}`},
		{"GET", "/admin/api-key-rights", ""},
		{"POST", "/admin/api-key-rights", `{}`},
		{"PATCH", "/admin/api-key-rights/1", `{}`},
		{"DELETE", "/admin/api-key-rights/1", ""},
		{"GET", "/admin/rights/catalog", ""},
		{"GET", "/admin/api-key-config", ""},
		{"PUT", "/admin/api-key-config", `{"enforce_api_keys":false}`},
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

	// Grants (what /admin/api-key-rights did before it became the catalogue
	// of right definitions).
	e.do("POST", "/admin/api-key-grants", "", `{"public_id":"`+id+`","right":"orders.write"}`, adminHeader...).want(t, 201)
	e.do("POST", "/admin/api-key-grants", "", `{"api_key_id":"`+id+`","right":"orders.write"}`, adminHeader...).wantCode(t, 409, gateway.CodeUniqueViolation)
	e.do("POST", "/probe", "shop", `{"table_name":"orders","action":"insert"}`, "X-Athena-Key", plaintext).want(t, 200)
	var rowID int64
	if err := e.pool.QueryRow(context.Background(), "SELECT id FROM api_keys WHERE public_id = $1", id).Scan(&rowID); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/admin/api-key-grants?api_key_id="+itoa(rowID), "", "", adminHeader...).want(t, 200)
	if got := len(r.JSON["data"].([]any)); got != 2 {
		t.Fatalf("rights: got %d, want 2: %s", got, r.Body)
	}
	e.do("DELETE", "/admin/api-key-grants", "", `{"api_key_id":`+itoa(rowID)+`,"right":"orders.write"}`, adminHeader...).want(t, 200)
	e.do("DELETE", "/admin/api-key-grants", "", `{"public_id":"`+id+`","right":"orders.write"}`, adminHeader...).wantCode(t, 404, gateway.CodeNotFound)
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
	// The switch answers as enforce_api_keys; enforce is accepted as an
	// alias in requests.
	r = e.do("PUT", "/admin/api-key-config", "", `{"enforce":false,"fail_mode":"fail_open"}`, adminHeader...).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["enforce_api_keys"] != false || d["fail_mode"] != "fail_open" {
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
	if d := r.JSON["data"].(map[string]any); d["enforce_api_keys"] != false {
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
		{"right without key", "POST", "/admin/api-key-grants", `{"right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"right bad name", "POST", "/admin/api-key-grants", `{"public_id":"` + id + `","right":"users read"}`, 400, gateway.CodeInvalidValue},
		{"right unknown key", "POST", "/admin/api-key-grants", `{"public_id":"zzzzzzzzzzzz","right":"users.read"}`, 404, gateway.CodeNotFound},
		{"right unknown row id", "POST", "/admin/api-key-grants", `{"api_key_id":999999,"right":"users.read"}`, 404, gateway.CodeNotFound},
		{"right bad api_key_id", "POST", "/admin/api-key-grants", `{"api_key_id":true,"right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"right ids disagree", "POST", "/admin/api-key-grants", `{"public_id":"` + id + `","api_key_id":"zzzz","right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"right injected id", "POST", "/admin/api-key-grants", `{"public_id":"x' OR '1'='1","right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"list grants bad id", "GET", "/admin/api-key-grants?public_id=X-Y", "", 400, gateway.CodeInvalidValue},
		{"definitions by key", "GET", "/admin/api-key-rights?public_id=" + id, "", 400, gateway.CodeInvalidValue},
		{"old grant body on definitions", "POST", "/admin/api-key-rights", `{"public_id":"` + id + `","right":"users.read"}`, 400, gateway.CodeInvalidValue},
		{"definition without name", "POST", "/admin/api-key-rights", `{"description":"x"}`, 400, gateway.CodeInvalidValue},
		{"definition bad name", "POST", "/admin/api-key-rights", `{"name":"users read"}`, 400, gateway.CodeInvalidValue},
		{"definition unknown field", "POST", "/admin/api-key-rights", `{"name":"users.read","nmae":"x"}`, 400, gateway.CodeInvalidJSON},
		{"definition patch empty", "PATCH", "/admin/api-key-rights/users.read", `{}`, 400, gateway.CodeInvalidValue},
		{"definition patch unknown", "PATCH", "/admin/api-key-rights/999999", `{"description":"x"}`, 404, gateway.CodeNotFound},
		{"definition delete unknown", "DELETE", "/admin/api-key-rights/nobody.read", "", 404, gateway.CodeNotFound},
		{"definition delete bad ref", "DELETE", "/admin/api-key-rights/x';--", "", 400, gateway.CodeInvalidValue},
		{"patch bad rights", "PATCH", "/admin/api-keys/" + id, `{"rights":["users read"]}`, 400, gateway.CodeInvalidValue},
		{"delete unknown record id", "DELETE", "/admin/api-keys/999999", "", 404, gateway.CodeNotFound},
		{"config aliases disagree", "PUT", "/admin/api-key-config", `{"enforce_api_keys":true,"enforce":false}`, 400, gateway.CodeInvalidValue},
		{"config bad fail mode", "PUT", "/admin/api-key-config", `{"fail_mode":"fail_sideways"}`, 400, gateway.CodeInvalidValue},
		{"config empty", "PUT", "/admin/api-key-config", `{}`, 400, gateway.CodeInvalidValue},
		{"config enforce not bool", "PUT", "/admin/api-key-config", `{"enforce":"yes"}`, 400, gateway.CodeInvalidJSON},
		{"config enforce_api_keys not bool", "PUT", "/admin/api-key-config", `{"enforce_api_keys":"yes"}`, 400, gateway.CodeInvalidJSON},
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

// cliHeaders are the headers the SDK's CLI sends the admin key in
// (gatewayAdminRequest in src/cli/gateway-admin.ts).
var cliHeaders = []string{"X-Athena-Key", testAdminKey, "apikey", testAdminKey}

// TestAdminKeysAsTheSDKUsesThem: POST /admin/api-keys answers
// {api_key, record}, where the SDK's createGatewayApiKey reads them, and
// a key is changed and revoked by its record id (the public id still
// works).
func TestAdminKeysAsTheSDKUsesThem(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{AdminKey: testAdminKey})
	e.setEnforce(t, true)
	// The body createGatewayApiKey sends (undefined fields are dropped by
	// JSON.stringify).
	r := e.do("POST", "/admin/api-keys", "", `{"client_name":"shop","description":"orders","expires_at":"2099-01-01T00:00:00Z","name":"app","rights":["gateway.query","orders.read"]}`, cliHeaders...).want(t, 201)
	data := r.JSON["data"].(map[string]any)
	plaintext, _ := data["api_key"].(string)
	rec, ok := data["record"].(map[string]any)
	if !ok {
		t.Fatalf("no data.record: %s", r.Body)
	}
	for _, f := range []string{"id", "public_id", "name", "description", "client_name", "expires_at", "is_active", "last_used_at", "created_at", "updated_at", "rights"} {
		if _, ok := rec[f]; !ok {
			t.Errorf("record lacks %s: %s", f, r.Body)
		}
	}
	pid, _ := rec["public_id"].(string)
	if !strings.HasPrefix(plaintext, "ath_"+pid+".") || rec["name"] != "app" || rec["client_name"] != "shop" || rec["is_active"] != true {
		t.Fatalf("create: %s", r.Body)
	}
	if rights := rec["rights"].([]any); len(rights) != 2 || rights[0] != "gateway.query" {
		t.Fatalf("record rights: %v", rights)
	}
	if data["public_id"] != pid { // the flat fields earlier clients read stay
		t.Errorf("data.public_id: %v, want %s", data["public_id"], pid)
	}
	recordID := rec["id"].(json.Number).String()
	e.do("POST", "/probe", "shop", `{"table_name":"orders","action":"fetch"}`, "X-Athena-Key", plaintext).want(t, 200)

	// PATCH by record id: rights[] replaces the grants.
	r = e.do("PATCH", "/admin/api-keys/"+recordID, "", `{"rights":["orders.write"]}`, cliHeaders...).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["public_id"] != pid || len(d["rights"].([]any)) != 1 {
		t.Fatalf("patch by record id: %s", r.Body)
	}
	e.do("POST", "/probe", "shop", `{"table_name":"orders","action":"fetch"}`, "X-Athena-Key", plaintext).wantCode(t, 403, gateway.CodeForbidden)
	e.do("POST", "/probe", "shop", `{"table_name":"orders","action":"insert"}`, "X-Athena-Key", plaintext).want(t, 200)
	e.do("PATCH", "/admin/api-keys/"+pid, "", `{"rights":[]}`, cliHeaders...).want(t, 200)
	e.do("POST", "/probe", "shop", `{"table_name":"orders","action":"insert"}`, "X-Athena-Key", plaintext).wantCode(t, 403, gateway.CodeForbidden)

	// DELETE by record id revokes.
	r = e.do("DELETE", "/admin/api-keys/"+recordID, "", "", cliHeaders...).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["public_id"] != pid || d["is_active"] != false {
		t.Fatalf("delete by record id: %s", r.Body)
	}
	e.do("POST", "/probe", "shop", `{}`, "X-Athena-Key", plaintext).wantCode(t, 401, gateway.CodeUnauthorized)

	// The list the CLI reads (data is the array).
	r = e.do("GET", "/admin/api-keys", "", "", cliHeaders...).want(t, 200)
	if list := r.JSON["data"].([]any); len(list) != 1 || list[0].(map[string]any)["public_id"] != pid {
		t.Fatalf("list: %s", r.Body)
	}
}

// TestAdminRightDefinitions: /admin/api-key-rights is the catalogue of
// right definitions the SDK's CLI keeps ("rights create", "rights list"),
// /admin/rights/catalog lists it with the server's own rights, and a
// definition grants nothing.
func TestAdminRightDefinitions(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{AdminKey: testAdminKey})
	e.setEnforce(t, true)
	// createGatewayApiKeyRight's body.
	r := e.do("POST", "/admin/api-key-rights", "", `{"description":"Run /gateway/query","name":"gateway.query"}`, cliHeaders...).want(t, 201)
	d := r.JSON["data"].(map[string]any)
	if d["name"] != "gateway.query" || d["description"] != "Run /gateway/query" || d["id"] == nil || d["created_at"] == nil {
		t.Fatalf("create right: %s", r.Body)
	}
	id := d["id"].(json.Number).String()
	e.do("POST", "/admin/api-key-rights", "", `{"name":"gateway.query"}`, cliHeaders...).wantCode(t, 409, gateway.CodeUniqueViolation)
	e.do("POST", "/admin/api-key-rights", "", `{"name":"orders.read"}`, cliHeaders...).want(t, 201)

	// listGatewayApiKeyRights reads data as the array of {name, description, id}.
	r = e.do("GET", "/admin/api-key-rights", "", "", cliHeaders...).want(t, 200)
	list := r.JSON["data"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["name"] != "gateway.query" || list[1].(map[string]any)["description"] != nil {
		t.Fatalf("list rights: %s", r.Body)
	}

	// listGatewayRightsCatalog reads RightsCatalogData.
	r = e.do("GET", "/admin/rights/catalog", "", "", cliHeaders...).want(t, 200)
	cat := r.JSON["data"].(map[string]any)
	native := cat["nativeRights"].([]any)
	dynamic := cat["dynamicApiKeyRights"].([]any)
	counts := cat["counts"].(map[string]any)
	if len(dynamic) != 2 || dynamic[0].(map[string]any)["key"] != "gateway.query" || dynamic[0].(map[string]any)["id"] == nil {
		t.Fatalf("catalog dynamic rights: %s", r.Body)
	}
	if counts["total"] != json.Number(strconv.Itoa(len(native)+2)) || cat["apiKeyRightsStatus"] == nil {
		t.Fatalf("catalog counts: %s", r.Body)
	}
	keys := map[string]bool{}
	for _, n := range native {
		m := n.(map[string]any)
		keys[m["key"].(string)] = true
		if m["source"] != "gateway" || m["kind"] == nil || m["description"] == nil {
			t.Errorf("native right %v lacks source, kind or description", m)
		}
	}
	for _, k := range []string{auth.RightQuery, auth.RightRPC, auth.RightManagementRead, auth.RightPipelinesRun, "gateway.read", "*"} {
		if !keys[k] {
			t.Errorf("catalog lacks native right %s: %s", k, r.Body)
		}
	}

	// A definition grants nothing: a key without the right is still refused.
	plain, _ := e.newKey(t, "", "orders.read")
	e.do("POST", "/probe", "shop", `{"right":"gateway.query"}`, "X-Athena-Key", plain).wantCode(t, 403, gateway.CodeForbidden)

	// PATCH and DELETE by id (the MCP server's update/delete) or by name.
	r = e.do("PATCH", "/admin/api-key-rights/"+id, "", `{"name":"gateway.rpc.execute","description":""}`, cliHeaders...).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["name"] != "gateway.rpc.execute" || d["description"] != nil {
		t.Fatalf("patch right: %s", r.Body)
	}
	e.do("PATCH", "/admin/api-key-rights/"+id, "", `{"name":"orders.read"}`, cliHeaders...).wantCode(t, 409, gateway.CodeUniqueViolation)
	e.do("DELETE", "/admin/api-key-rights/orders.read", "", "", cliHeaders...).want(t, 200)
	e.do("DELETE", "/admin/api-key-rights/"+id, "", "", cliHeaders...).want(t, 200)
	e.do("DELETE", "/admin/api-key-rights/"+id, "", "", cliHeaders...).wantCode(t, 404, gateway.CodeNotFound)
	r = e.do("GET", "/admin/api-key-rights", "", "", cliHeaders...).want(t, 200)
	if list := r.JSON["data"].([]any); len(list) != 0 {
		t.Fatalf("after deletes: %s", r.Body)
	}
}

// TestAdminKeyConfigEnforceAPIKeys: PUT /admin/api-key-config and
// /admin/api-key-clients/{client} take {enforce_api_keys, fail_mode} (the
// SDK tools' body) and every answer names the switch enforce_api_keys; GET
// answers {global, clients}.
func TestAdminKeyConfigEnforceAPIKeys(t *testing.T) {
	e := newKeyEnv(t, nil, auth.Options{AdminKey: testAdminKey})
	r := e.do("PUT", "/admin/api-key-config", "", `{"enforce_api_keys":true}`, cliHeaders...).want(t, 200)
	d := r.JSON["data"].(map[string]any)
	if g := d["global"].(map[string]any); g["enforce_api_keys"] != true || g["fail_mode"] != "fail_closed" || g["updated_at"] == nil {
		t.Fatalf("put config: %s", r.Body)
	}
	e.do("POST", "/probe", "shop", `{}`).wantCode(t, 401, gateway.CodeUnauthorized)

	r = e.do("PUT", "/admin/api-key-clients/shop", "", `{"enforce_api_keys":false}`, cliHeaders...).want(t, 200)
	if d := r.JSON["data"].(map[string]any); d["client_name"] != "shop" || d["enforce_api_keys"] != false {
		t.Fatalf("put client: %s", r.Body)
	}
	e.do("POST", "/probe", "shop", `{}`).want(t, 200)
	e.do("POST", "/probe", "other", `{}`).wantCode(t, 401, gateway.CodeUnauthorized)

	r = e.do("GET", "/admin/api-key-config", "", "", cliHeaders...).want(t, 200)
	d = r.JSON["data"].(map[string]any)
	clients := d["clients"].([]any)
	if d["global"].(map[string]any)["enforce_api_keys"] != true || d["enforce_api_keys"] != true || len(clients) != 1 ||
		clients[0].(map[string]any)["enforce_api_keys"] != false {
		t.Fatalf("get config: %s", r.Body)
	}
	if strings.Contains(string(r.Body), `"enforce"`) {
		t.Errorf("answer still names the switch enforce: %s", r.Body)
	}
	r = e.do("GET", "/admin/api-key-clients", "", "", cliHeaders...).want(t, 200)
	if list := r.JSON["data"].([]any); list[0].(map[string]any)["enforce_api_keys"] != false {
		t.Fatalf("list clients: %s", r.Body)
	}
	// The old spelling still works.
	e.do("PUT", "/admin/api-key-clients/shop", "", `{"enforce":true}`, cliHeaders...).want(t, 200)
	e.do("POST", "/probe", "shop", `{}`).wantCode(t, 401, gateway.CodeUnauthorized)
}
