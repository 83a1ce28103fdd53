package gateway

import (
	"strconv"
	"strings"
	"testing"
)

func TestDecodeTransaction(t *testing.T) {
	body := `{"idempotency_key":"k-1","operations":[
	  {"id":"a","kind":"insert","payload":{"table_name":"users","insert_body":{"email":"x@y"}}},
	  {"id":"b","kind":"FETCH","payload":{"table_name":"users","columns":"id,email","conditions":[{"eq_column":"email","eq_value":"x@y"}]}},
	  {"kind":"update","payload":{"table_name":"users","update_body":{"name":"X"},"conditions":[{"operator":"eq","column":"email","value":"x@y"}]}},
	  {"id":7,"kind":"delete","payload":{"table_name":"public.users","resource_id":1}}
	],"options":{"read_only":false,"isolation_level":"REPEATABLE_READ"}}`
	tru := true
	req, err := DecodeTransaction([]byte(body), &tru, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if req.IdempotencyKey != "k-1" || req.Options.Isolation != IsolationRepeatableRead || req.Options.ReadOnly {
		t.Errorf("got key %q options %+v", req.IdempotencyKey, req.Options)
	}
	wantIDs := []string{"a", "b", "3", "7"}
	wantKinds := []OpKind{OpInsert, OpFetch, OpUpdate, OpDelete}
	if len(req.Ops) != 4 {
		t.Fatalf("got %d ops, want 4", len(req.Ops))
	}
	for i, op := range req.Ops {
		if op.ID != wantIDs[i] || op.Kind != wantKinds[i] {
			t.Errorf("op %d: got %s/%s, want %s/%s", i, op.ID, op.Kind, wantIDs[i], wantKinds[i])
		}
	}
	if req.Ops[0].Insert == nil || req.Ops[0].Table().Name != "users" || !req.Ops[0].Writes() {
		t.Errorf("insert op: %+v", req.Ops[0])
	}
	if f := req.Ops[1].Fetch; f == nil || len(f.Conditions) != 1 || !f.StripNulls || req.Ops[1].Writes() {
		t.Errorf("fetch op: %+v", req.Ops[1])
	}
	if u := req.Ops[2].Update; u == nil || !u.StripNulls {
		t.Errorf("update op (X-Strip-Nulls applies): %+v", req.Ops[2])
	}
	if d := req.Ops[3].Delete; d == nil || d.Table != (TableRef{Schema: "public", Name: "users"}) {
		t.Errorf("delete op: %+v", req.Ops[3])
	}

	none, err := DecodeTransaction([]byte(`{"idempotency_key":null,"operations":[{"kind":"fetch","payload":{"table_name":"t"}}],"options":{"isolation_level":null}}`), nil, Limits{})
	if err != nil || none.IdempotencyKey != "" || none.Options != (TransactionOptions{}) {
		t.Errorf("nulls: got %+v, %v", none, err)
	}

	// The options object db.transaction() sends (src/gateway/transaction.ts).
	sdk, err := DecodeTransaction([]byte(`{"idempotency_key":null,"operations":[{"id":"op_1","kind":"fetch","payload":{"table_name":"t"}}],"options":{"deferrable":true,"isolation_level":"serializable","read_only":true}}`), nil, Limits{})
	if want := (TransactionOptions{ReadOnly: true, Isolation: IsolationSerializable, Deferrable: true}); err != nil || sdk.Options != want {
		t.Errorf("sdk options: got %+v, %v; want %+v", sdk.Options, err, want)
	}
}

func TestDecodeTransactionErrors(t *testing.T) {
	many := make([]string, DefaultMaxTransactionOps+1)
	for i := range many {
		many[i] = `{"kind":"fetch","payload":{"table_name":"t"}}`
	}
	for _, tc := range []struct {
		name, give string
		code       Code
		want       string
	}{
		{"not json", `{"operations":`, CodeInvalidJSON, "malformed"},
		{"no operations", `{}`, CodeInvalidTransactionPayload, "operations is required"},
		{"operations not array", `{"operations":{}}`, CodeInvalidTransactionPayload, "must be an array"},
		{"empty", `{"operations":[]}`, CodeInvalidTransactionPayload, "at least one"},
		{"too many", `{"operations":[` + strings.Join(many, ",") + `]}`, CodeInvalidTransactionPayload, "at most " + strconv.Itoa(DefaultMaxTransactionOps)},
		{"op not object", `{"operations":[1]}`, CodeInvalidTransactionPayload, "operation 1 must be an object"},
		{"no kind", `{"operations":[{"id":"a","payload":{}}]}`, CodeInvalidTransactionPayload, "operation 1 (a): kind is required"},
		{"bad kind", `{"operations":[{"id":"a","kind":"query","payload":{}}]}`, CodeInvalidTransactionPayload, `operation 1 (a): unknown kind "query"`},
		{"no payload", `{"operations":[{"id":"a","kind":"fetch"}]}`, CodeInvalidTransactionPayload, "operation 1 (a): payload is required"},
		{"bad payload names op", `{"operations":[{"id":"a","kind":"fetch","payload":{"table_name":"t"}},{"id":"b","kind":"insert","payload":{"table_name":"t"}}]}`,
			CodeInvalidInsertPayload, "operation 2 (b): insert_body is required"},
		{"unfiltered update", `{"operations":[{"id":"u","kind":"update","payload":{"table_name":"t","update_body":{"a":1}}}]}`,
			CodeInvalidUpdatePayload, "operation 1 (u): update without conditions"},
		{"bad table", `{"operations":[{"id":"x","kind":"delete","payload":{"table_name":"t; drop","resource_id":1}}]}`,
			CodeInvalidDeletePayload, "operation 1 (x):"},
		{"duplicate id", `{"operations":[{"id":"a","kind":"fetch","payload":{"table_name":"t"}},{"id":"a","kind":"fetch","payload":{"table_name":"t"}}]}`,
			CodeInvalidTransactionPayload, `operation 2 (a): id "a" is already used by operation 1`},
		{"id object", `{"operations":[{"id":{},"kind":"fetch","payload":{"table_name":"t"}}]}`, CodeInvalidTransactionPayload, "id must be a string"},
		{"bad isolation", `{"operations":[{"kind":"fetch","payload":{"table_name":"t"}}],"options":{"isolation_level":"snapshot"}}`,
			CodeInvalidTransactionPayload, "isolation_level"},
		{"unknown option", `{"operations":[{"kind":"fetch","payload":{"table_name":"t"}}],"options":{"readonly":true}}`,
			CodeInvalidTransactionPayload, `unknown option "readonly"`},
		{"deferrable not bool", `{"operations":[{"kind":"fetch","payload":{"table_name":"t"}}],"options":{"deferrable":1}}`,
			CodeInvalidTransactionPayload, `"deferrable" must be a boolean`},
		{"read_only not bool", `{"operations":[{"kind":"fetch","payload":{"table_name":"t"}}],"options":{"read_only":"yes"}}`,
			CodeInvalidTransactionPayload, "read_only"},
		{"long key", `{"idempotency_key":"` + strings.Repeat("k", MaxIdempotencyKeyLen+1) + `","operations":[{"kind":"fetch","payload":{"table_name":"t"}}]}`,
			CodeInvalidTransactionPayload, "idempotency_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeTransaction([]byte(tc.give), nil, Limits{})
			checkErr(t, err, tc.code, tc.want)
		})
	}
}
