package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// txResults decodes data.results of a committed transaction.
func txResults(t *testing.T, r response) []map[string]any {
	t.Helper()
	data, _ := r.JSON["data"].(map[string]any)
	if data["committed"] != true {
		t.Fatalf("not committed: %s", r.Body)
	}
	raw, _ := data["results"].([]any)
	out := make([]map[string]any, len(raw))
	for i, v := range raw {
		out[i], _ = v.(map[string]any)
	}
	return out
}

// errDetails returns data.details of an error envelope.
func errDetails(r response) map[string]any {
	data, _ := r.JSON["data"].(map[string]any)
	d, _ := data["details"].(map[string]any)
	return d
}

func (h *harness) userCount(t *testing.T, email string) int {
	t.Helper()
	r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","conditions":[{"eq_column":"email","eq_value":"`+email+`"}]}`, "Cache-Control", "no-cache").want(t, 200)
	return len(r.rows(t))
}

func TestTransactionRouteCommits(t *testing.T) {
	h := newHarness(t)
	body := `{"operations":[
	  {"id":"a","kind":"insert","payload":{"table_name":"users","insert_body":{"email":"tx@example.com","name":"Tx"},"columns":"email,name"}},
	  {"id":"b","kind":"update","payload":{"table_name":"users","update_body":{"age":40},"conditions":[{"eq_column":"email","eq_value":"tx@example.com"}],"columns":"age"}},
	  {"id":"c","kind":"fetch","payload":{"table_name":"users","columns":"email,age","conditions":[{"eq_column":"email","eq_value":"tx@example.com"}],"count":"exact"}},
	  {"id":"d","kind":"delete","payload":{"table_name":"comments","conditions":[{"eq_column":"body","eq_value":"third"}],"columns":"body"}},
	  {"id":"e","kind":"fetch","payload":{"table_name":"posts","columns":"status","group_by":"status"}}
	]}`
	r := h.do("POST", "/gateway/transaction", "test", body).want(t, 200)
	if r.JSON["status"] != "success" || r.JSON["message"] != "Transaction committed" {
		t.Errorf("envelope: %s", r.Body)
	}
	res := txResults(t, r)
	want := []struct{ id, data, count string }{
		{"a", `{"email":"tx@example.com","name":"Tx"}`, "1"}, // one object in, one row out, as on the route
		{"b", `[{"age":40}]`, "1"},
		{"c", `[{"age":40,"email":"tx@example.com"}]`, "1"}, // keys sorted by the re-encoding here
		{"d", `[{"body":"third"}]`, "1"},
		{"e", "", "null"},
	}
	if len(res) != len(want) {
		t.Fatalf("got %d results, want %d: %s", len(res), len(want), r.Body)
	}
	for i, w := range want {
		got := res[i]
		data, _ := json.Marshal(got["data"])
		if got["id"] != w.id || got["ok"] != true || got["error"] != nil || num(got["count"]) != w.count || (w.data != "" && string(data) != w.data) {
			t.Errorf("result %d: got %v (data %s), want id %s data %s count %s", i, got, data, w.id, w.data, w.count)
		}
	}
	if pp, _ := res[4]["post_processing"].(map[string]any); pp == nil || pp["grouped"] == nil {
		t.Errorf("fetch with group_by: got %v, want post_processing.grouped", res[4])
	}
	if n := h.userCount(t, "tx@example.com"); n != 1 {
		t.Errorf("committed insert: got %d rows, want 1", n)
	}
}

func TestTransactionRouteRollsBack(t *testing.T) {
	h := newHarness(t)
	body := `{"operations":[
	  {"id":"a","kind":"insert","payload":{"table_name":"users","insert_body":{"email":"rb@example.com"}}},
	  {"id":"b","kind":"fetch","payload":{"table_name":"users"}},
	  {"id":"c","kind":"insert","payload":{"table_name":"users","insert_body":{"email":"ada@example.com"}}}
	]}`
	r := h.do("POST", "/gateway/transaction", "test", body).wantCode(t, 409, gateway.CodeUniqueViolation)
	d := errDetails(r)
	if d["operation_id"] != "c" || num(d["operation_index"]) != "2" || d["committed"] != false || d["sqlstate"] != "23505" {
		t.Errorf("details: got %v, want operation c, index 2, committed false, sqlstate 23505", d)
	}
	if msg, _ := r.JSON["message"].(string); !strings.HasPrefix(msg, "operation 3 (c): ") {
		t.Errorf("message: got %q, want it to name operation 3 (c)", msg)
	}
	if e, _ := r.JSON["error"].(string); !strings.Contains(e, `duplicate key value violates unique constraint "users_email_key"`) {
		t.Errorf("error: got %q, want PostgreSQL's wording", e)
	}
	if data, _ := r.JSON["data"].(map[string]any); data["operation"] != "transaction" {
		t.Errorf("data.operation: got %v, want transaction", data["operation"])
	}
	if n := h.userCount(t, "rb@example.com"); n != 0 {
		t.Errorf("operation 1's insert is visible after the rollback: %d rows", n)
	}
}

func TestTransactionRouteOptions(t *testing.T) {
	h := newHarness(t)
	ro := `{"options":{"read_only":true},"operations":[{"id":"w","kind":"insert","payload":{"table_name":"users","insert_body":{"email":"ro@example.com"}}}]}`
	r := h.do("POST", "/gateway/transaction", "test", ro).want(t, 400)
	if d := errDetails(r); d["sqlstate"] != "25006" || d["operation_id"] != "w" {
		t.Errorf("read-only write: got %s, want sqlstate 25006 for operation w", r.Body)
	}
	ser := `{"options":{"isolation_level":"serializable","read_only":true},"operations":[{"kind":"fetch","payload":{"table_name":"users","count":"exact","head":true}}]}`
	r = h.do("POST", "/gateway/transaction", "test", ser).want(t, 200)
	if res := txResults(t, r); num(res[0]["count"]) != "3" || res[0]["id"] != "1" {
		t.Errorf("serializable read: got %v, want id 1 count 3", res[0])
	}
}

func TestTransactionRouteBadPayloads(t *testing.T) {
	h := newHarness(t)
	many := make([]string, gateway.DefaultMaxTransactionOps+1)
	for i := range many {
		many[i] = `{"kind":"fetch","payload":{"table_name":"users"}}`
	}
	for _, tc := range []struct {
		name, give string
		status     int
		code       gateway.Code
		want       string
	}{
		{"names the op", `{"operations":[{"id":"a","kind":"fetch","payload":{"table_name":"users"}},{"id":"b","kind":"update","payload":{"table_name":"users","update_body":{"name":"x"}}}]}`,
			400, gateway.CodeInvalidUpdatePayload, "operation 2 (b): update without conditions"},
		{"too many", `{"operations":[` + strings.Join(many, ",") + `]}`, 400, gateway.CodeInvalidTransactionPayload, "at most 100"},
		{"malformed", `{"operations":[`, 400, gateway.CodeInvalidJSON, "malformed"},
		{"unknown table", `{"operations":[{"id":"x","kind":"fetch","payload":{"table_name":"nope"}}]}`, 404, gateway.CodeUnknownTable, "operation 1 (x): "},
		{"unknown column", `{"operations":[{"id":"x","kind":"insert","payload":{"table_name":"users","insert_body":{"nope":1}}}]}`, 400, gateway.CodeUnknownColumn, "operation 1 (x): "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/gateway/transaction", "test", tc.give).wantCode(t, tc.status, tc.code)
			if msg, _ := r.JSON["message"].(string); !strings.Contains(msg, tc.want) {
				t.Errorf("message: got %q, want it to contain %q", msg, tc.want)
			}
		})
	}
}

// TestTransactionRouteIdempotentInMemory: without a logging database a
// repeated key is answered from the process's own store.
func TestTransactionRouteIdempotentInMemory(t *testing.T) {
	testIdempotency(t, newHarness(t))
}

// TestTransactionRouteIdempotentControlPlane: with a logging database the
// answer is kept in gateway_transactions.
func TestTransactionRouteIdempotentControlPlane(t *testing.T) {
	h := newControlPlaneHarness(t)
	h.adminKey = "" // a tenant request; the admin key is not needed
	testIdempotency(t, h)
	var n int
	if err := h.reg.ControlPlane().QueryRow(context.Background(),
		`SELECT count(*) FROM gateway_transactions WHERE idempotency_key = 'idem-1' AND response IS NOT NULL`).Scan(&n); err != nil || n != 1 {
		t.Errorf("stored results: got %d (%v), want 1", n, err)
	}
}

func testIdempotency(t *testing.T, h *harness) {
	t.Helper()
	body := `{"idempotency_key":"idem-1","operations":[{"id":"a","kind":"insert","payload":{"table_name":"users","insert_body":{"email":"idem@example.com"},"columns":"id,email"}}]}`
	first := h.do("POST", "/gateway/transaction", "test", body).want(t, 200)
	again := h.do("POST", "/gateway/transaction", "test", body).want(t, 200)
	if string(again.Body) != string(first.Body) {
		t.Errorf("replay: got %s, want %s", again.Body, first.Body)
	}
	if again.Header.Get("Idempotent-Replayed") != "true" || first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("Idempotent-Replayed: first %q, replay %q", first.Header.Get("Idempotent-Replayed"), again.Header.Get("Idempotent-Replayed"))
	}
	if n := h.userCount(t, "idem@example.com"); n != 1 {
		t.Errorf("rows after a replay: got %d, want 1 (the transaction ran twice)", n)
	}
	other := strings.Replace(body, "idem@example.com", "other@example.com", 1)
	h.do("POST", "/gateway/transaction", "test", other).wantCode(t, 409, gateway.CodeIdempotencyConflict)

	// A failed transaction keeps no answer: the same key may be retried.
	failing := `{"idempotency_key":"idem-2","operations":[{"kind":"insert","payload":{"table_name":"users","insert_body":{"email":"ada@example.com"}}}]}`
	h.do("POST", "/gateway/transaction", "test", failing).want(t, 409)
	h.do("POST", "/gateway/transaction", "test", failing).wantCode(t, 409, gateway.CodeUniqueViolation)
}

// TestTransactionRouteConcurrentKey: concurrent requests with one key run
// the transaction once; the others are replays or 409 while it runs.
func TestTransactionRouteConcurrentKey(t *testing.T) {
	h := newHarness(t)
	body := `{"idempotency_key":"race","operations":[{"kind":"insert","payload":{"table_name":"users","insert_body":{"email":"race@example.com"}}}]}`
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.do("POST", "/gateway/transaction", "test", body).Status
		}()
	}
	wg.Wait()
	for _, s := range statuses {
		if s != 200 && s != 409 {
			t.Errorf("statuses: got %v, want 200 or 409 each", statuses)
			break
		}
	}
	if n := h.userCount(t, "race@example.com"); n != 1 {
		t.Errorf("rows: got %d, want 1", n)
	}
}

// TestTransactionRouteAuthorizesEveryOp: each operation's table right is
// checked before anything runs.
func TestTransactionRouteAuthorizesEveryOp(t *testing.T) {
	h := newControlPlaneHarness(t)
	ctx := context.Background()
	store := postgres.NewKeyStore(h.reg.ControlPlane())
	a := auth.New(store, auth.Options{AdminKey: testAdminKey})
	t.Cleanup(a.Close)
	on := true
	if _, err := store.SetConfig(ctx, &on, nil); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h.engine = New(withKeys(registryDeps(h.reg, a), store), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, log)
	h.adminKey = ""
	_, key, err := store.CreateKey(ctx, postgres.NewKey{Name: "t", ClientName: "test", Rights: []string{"users.read", "users.write", "comments.read"}})
	if err != nil {
		t.Fatal(err)
	}
	op := func(id, kind, table, payload string) string {
		return fmt.Sprintf(`{"id":%q,"kind":%q,"payload":{"table_name":%q%s}}`, id, kind, table, payload)
	}
	ins := op("a", "insert", "users", `,"insert_body":{"email":"auth@example.com"}`)
	for _, tc := range []struct {
		name, ops string
		status    int
		right     string
	}{
		{"all allowed", ins + "," + op("b", "fetch", "comments", ""), 200, ""},
		{"write without right", op("a", "fetch", "users", "") + "," + op("b", "update", "comments", `,"update_body":{"body":"x"},"allow_unfiltered":true`), 403, "comments.write"},
		{"delete without right", ins + "," + op("c", "delete", "users", `,"resource_id":1`), 403, "users.delete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			email := strings.ReplaceAll(tc.name, " ", "-") + "@example.com"
			ops := strings.Replace(tc.ops, "auth@example.com", email, 1)
			r := h.do("POST", "/gateway/transaction", "test", `{"operations":[`+ops+`]}`, "X-Athena-Key", key).want(t, tc.status)
			if tc.status != 403 {
				return
			}
			if d := errDetails(r); d["right"] != tc.right || d["operation_index"] == nil {
				t.Errorf("details: got %v, want right %s and the operation", d, tc.right)
			}
			if msg, _ := r.JSON["message"].(string); !strings.HasPrefix(msg, "operation ") {
				t.Errorf("message: got %q, want it to name the operation", msg)
			}
			if strings.Contains(ops, email) {
				if got := countEmail(t, h, email); got != 0 {
					t.Errorf("a refused transaction ran: %d rows", got)
				}
			}
		})
	}
}

// countEmail counts users by email with the admin key (the tenant key of
// the test may lack the right).
func countEmail(t *testing.T, h *harness, email string) int {
	t.Helper()
	r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"users","conditions":[{"eq_column":"email","eq_value":"`+email+`"}]}`,
		"X-Athena-Admin-Key", testAdminKey, "Cache-Control", "no-cache").want(t, 200)
	return len(r.rows(t))
}

// TestTransactionRouteInvalidatesReadCache: a committed transaction makes
// cached reads of the tables it wrote unreachable.
func TestTransactionRouteInvalidatesReadCache(t *testing.T) {
	h := newHarness(t)
	c, err := cache.New(cache.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	h.engine = New(registryDeps(h.reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Cache: c}, slog.New(slog.DiscardHandler))
	read := `{"table_name":"users","columns":"name","conditions":[{"eq_column":"id","eq_value":1}]}`
	h.do("POST", "/gateway/fetch", "test", read).want(t, 200)
	if r := h.do("POST", "/gateway/fetch", "test", read).want(t, 200); r.Header.Get("X-Athena-Cache-Outcome") != string(cache.HitLocal) {
		t.Fatalf("second read: outcome %q, want a hit", r.Header.Get("X-Athena-Cache-Outcome"))
	}
	h.do("POST", "/gateway/transaction", "test", `{"operations":[{"kind":"update","payload":{"table_name":"users","update_body":{"name":"Ada L"},"conditions":[{"eq_column":"id","eq_value":1}]}}]}`).want(t, 200)
	r := h.do("POST", "/gateway/fetch", "test", read).want(t, 200)
	if rows := r.rows(t); len(rows) != 1 || rows[0]["name"] != "Ada L" {
		t.Errorf("read after the transaction: got %s (outcome %s), want the new name", r.Body, r.Header.Get("X-Athena-Cache-Outcome"))
	}
}
