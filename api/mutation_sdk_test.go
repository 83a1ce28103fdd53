package api

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/gateway"
)

// The payloads in this file are the ones @xylex-group/athena 5.x sends
// (src/client/fluent/table-builder.ts: update/delete carry sort_by, limit,
// offset, current_page, page_size; src/gateway/serialize-update.ts sends
// update_body as `data`), byte for byte where it matters.

// openCond is the condition the SDK sends for .eq("status", "open"): both
// the modern and the legacy shape in one object.
const openCond = `{"operator":"eq","column":"status","value":"open","eq_column":"status","eq_value":"open"}`

// boundFixture: six open tasks whose ranks are not in id order, so a bound
// that were dropped (or applied in the wrong order) changes other rows.
const boundFixture = `
CREATE TABLE tasks (id bigserial PRIMARY KEY, status text NOT NULL, rank int NOT NULL, note text);
INSERT INTO tasks (status, rank) VALUES ('open',5),('open',3),('open',6),('open',1),('open',4),('open',2),('done',0);
CREATE TABLE tags (tag text, n int);
INSERT INTO tags VALUES ('a',5),('a',3),('a',6),('a',1),('a',4),('a',2);
CREATE VIEW open_tasks AS SELECT id, status, rank, note FROM tasks WHERE status = 'open';`

// ranksWhere returns the sorted ranks of tasks whose note is note.
func ranksWhere(t *testing.T, h *harness, table, col, note string) []string {
	t.Helper()
	r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"`+table+`","columns":"`+col+`","conditions":[{"operator":"eq","column":"note","value":"`+note+`"}]}`).want(t, 200)
	var out []string
	for _, row := range r.rows(t) {
		out = append(out, num(row[col]))
	}
	sort.Strings(out)
	return out
}

func rowsCol(t *testing.T, r response, col string) []string {
	t.Helper()
	var out []string
	for _, row := range r.rows(t) {
		out = append(out, num(row[col]))
	}
	sort.Strings(out)
	return out
}

// TestBoundedUpdate: .update(…).eq(…).order(…).limit(1) and .range(a, b)
// change exactly the rows of that window, in one statement, and return them.
func TestBoundedUpdate(t *testing.T) {
	h := newHarness(t)
	h.exec(t, boundFixture)

	// .update({note:"first"}).eq("status","open").order("rank").limit(1)
	r := h.do("POST", "/gateway/update", "test", `{"table_name":"tasks","data":{"note":"first"},"conditions":[`+openCond+`],"strip_nulls":true,"sort_by":{"field":"rank","direction":"ascending"},"limit":1}`,
		"X-Strip-Nulls", "true").want(t, 200)
	if got := rowsCol(t, r, "rank"); strings.Join(got, ",") != "1" || num(r.JSON["affected_rows"]) != "1" || num(r.JSON["count"]) != "1" {
		t.Fatalf("limit 1: returned ranks %v, affected %v; want [1], 1: %s", got, r.JSON["affected_rows"], r.Body)
	}
	if got := ranksWhere(t, h, "tasks", "rank", "first"); strings.Join(got, ",") != "1" {
		t.Errorf("limit 1: rows changed have ranks %v, want only [1]", got)
	}

	// .order("rank", {ascending:false}).range(1, 2): offset 1, limit 2.
	r = h.do("POST", "/gateway/update", "test", `{"table_name":"tasks","data":{"note":"range"},"conditions":[`+openCond+`],"strip_nulls":true,"sort_by":{"field":"rank","direction":"descending"},"limit":2,"offset":1}`).want(t, 200)
	if got := rowsCol(t, r, "rank"); strings.Join(got, ",") != "4,5" {
		t.Errorf("range(1,2) desc: returned ranks %v, want [4 5]: %s", got, r.Body)
	}
	if got := ranksWhere(t, h, "tasks", "rank", "range"); strings.Join(got, ",") != "4,5" {
		t.Errorf("range(1,2) desc: rows changed have ranks %v, want [4 5]", got)
	}

	// .pageSize(2).currentPage(3) without order: pages by primary key, so
	// page 3 of the six open tasks is ids 5 and 6.
	r = h.do("POST", "/gateway/update", "test", `{"table_name":"tasks","data":{"note":"page"},"conditions":[`+openCond+`],"strip_nulls":true,"current_page":3,"page_size":2,"total_pages":3,"columns":"id"}`).want(t, 200)
	if got := rowsCol(t, r, "id"); strings.Join(got, ",") != "5,6" {
		t.Errorf("page 3 of 2: returned ids %v, want [5 6]: %s", got, r.Body)
	}

	// A table without a primary key is bounded by row address.
	r = h.do("POST", "/gateway/update", "test", `{"table_name":"tags","data":{"tag":"low"},"conditions":[{"operator":"eq","column":"tag","value":"a"}],"sort_by":{"field":"n","direction":"ascending"},"limit":2}`).want(t, 200)
	if got := rowsCol(t, r, "n"); strings.Join(got, ",") != "1,2" || num(r.JSON["affected_rows"]) != "2" {
		t.Errorf("no primary key: returned n %v, affected %v; want [1 2], 2", got, r.JSON["affected_rows"])
	}
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"tags","conditions":[{"operator":"eq","column":"tag","value":"low"}],"count":"exact","head":true}`).want(t, 200)
	if num(r.JSON["count"]) != "2" {
		t.Errorf("no primary key: %v rows changed, want 2", r.JSON["count"])
	}

	// Inside a transaction the same payload is bounded the same way.
	tx := `{"idempotency_key":null,"operations":[{"id":"u","kind":"update","payload":{"table_name":"tasks","data":{"note":"tx"},"conditions":[` + openCond + `],"strip_nulls":true,"sort_by":{"field":"rank","direction":"descending"},"limit":1}}],"options":{"read_only":false,"isolation_level":null,"deferrable":false}}`
	r = h.do("POST", "/gateway/transaction", "test", tx).want(t, 200)
	if res := txResults(t, r); num(res[0]["count"]) != "1" {
		t.Errorf("bounded update in a transaction: count %v, want 1: %s", res[0]["count"], r.Body)
	}
	if got := ranksWhere(t, h, "tasks", "rank", "tx"); strings.Join(got, ",") != "6" {
		t.Errorf("bounded update in a transaction changed ranks %v, want [6]", got)
	}
}

// TestBoundedDelete: the same bounds on delete remove exactly that window.
func TestBoundedDelete(t *testing.T) {
	h := newHarness(t)
	h.exec(t, boundFixture)
	left := func() string {
		r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"tasks","columns":"rank","conditions":[`+openCond+`]}`).want(t, 200)
		return strings.Join(rowsCol(t, r, "rank"), ",")
	}

	// .delete().eq("status","open").order("rank",{ascending:false}).limit(1)
	r := h.do("DELETE", "/gateway/delete", "test", `{"table_name":"tasks","conditions":[`+openCond+`],"sort_by":{"field":"rank","direction":"descending"},"limit":1}`).want(t, 200)
	if got := rowsCol(t, r, "rank"); strings.Join(got, ",") != "6" || num(r.JSON["affected_rows"]) != "1" {
		t.Fatalf("delete limit 1: returned ranks %v, affected %v; want [6], 1: %s", got, r.JSON["affected_rows"], r.Body)
	}
	if got := left(); got != "1,2,3,4,5" {
		t.Errorf("after delete limit 1: open ranks %s, want 1,2,3,4,5", got)
	}

	// .order("rank").range(1, 2): ranks 2 and 3 go.
	r = h.do("DELETE", "/gateway/delete", "test", `{"table_name":"tasks","conditions":[`+openCond+`],"sort_by":{"field":"rank","direction":"ascending"},"offset":1,"limit":2}`).want(t, 200)
	if got := rowsCol(t, r, "rank"); strings.Join(got, ",") != "2,3" {
		t.Errorf("delete range(1,2): returned ranks %v, want [2 3]", got)
	}
	if got := left(); got != "1,4,5" {
		t.Errorf("after delete range: open ranks %s, want 1,4,5", got)
	}

	// No primary key.
	r = h.do("POST", "/gateway/delete", "test", `{"table_name":"tags","conditions":[{"operator":"eq","column":"tag","value":"a"}],"sort_by":{"field":"n","direction":"descending"},"limit":2}`).want(t, 200)
	if got := rowsCol(t, r, "n"); strings.Join(got, ",") != "5,6" {
		t.Errorf("delete without primary key: returned n %v, want [5 6]", got)
	}
	r = h.do("POST", "/gateway/fetch", "test", `{"table_name":"tags","count":"exact","head":true}`).want(t, 200)
	if num(r.JSON["count"]) != "4" {
		t.Errorf("delete without primary key: %v rows left, want 4", r.JSON["count"])
	}
}

// TestBoundRefusedNotIgnored: a field that would narrow the rows but cannot
// is a 400, and nothing is written.
func TestBoundRefusedNotIgnored(t *testing.T) {
	h := newHarness(t)
	h.exec(t, boundFixture)
	tests := []struct {
		name, method, path, body string
		code                     gateway.Code
	}{
		{"update sort_by without limit", "POST", "/gateway/update", `{"table_name":"tasks","data":{"note":"x"},"conditions":[` + openCond + `],"sort_by":{"field":"rank","direction":"ascending"}}`, gateway.CodeInvalidUpdatePayload},
		{"delete sort_by without limit", "DELETE", "/gateway/delete", `{"table_name":"tasks","conditions":[` + openCond + `],"sort_by":{"field":"rank","direction":"ascending"}}`, gateway.CodeInvalidDeletePayload},
		{"update current_page without size", "POST", "/gateway/update", `{"table_name":"tasks","data":{"note":"x"},"conditions":[` + openCond + `],"current_page":2}`, gateway.CodeInvalidUpdatePayload},
		{"update negative limit", "POST", "/gateway/update", `{"table_name":"tasks","data":{"note":"x"},"conditions":[` + openCond + `],"limit":-1}`, gateway.CodeInvalidUpdatePayload},
		{"view without a key", "POST", "/gateway/update", `{"table_name":"open_tasks","data":{"note":"x"},"conditions":[` + openCond + `],"limit":1}`, gateway.CodeInvalidUpdatePayload},
		{"delete view without a key", "POST", "/gateway/delete", `{"table_name":"open_tasks","conditions":[` + openCond + `],"limit":1}`, gateway.CodeInvalidDeletePayload},
	}
	for _, tt := range tests {
		r := h.do(tt.method, tt.path, "test", tt.body).want(t, 400)
		if r.code() != string(tt.code) {
			t.Errorf("%s: code %q, want %q: %s", tt.name, r.code(), tt.code, r.Body)
		}
	}
	r := h.do("POST", "/gateway/fetch", "test", `{"table_name":"tasks","count":"exact","head":true,"conditions":[{"operator":"is","column":"note","value":null}]}`).want(t, 200)
	if num(r.JSON["count"]) != "7" {
		t.Errorf("a refused request wrote rows: %v untouched, want 7", r.JSON["count"])
	}
}

// TestTransactionDeferrable: db.transaction() sends options.deferrable on
// every call (src/gateway/transaction.ts); it is accepted and reaches BEGIN.
// A view reporting the transaction's own settings shows what PostgreSQL ran.
func TestTransactionDeferrable(t *testing.T) {
	h := newHarness(t)
	h.exec(t, `CREATE VIEW tx_mode AS SELECT current_setting('transaction_deferrable') AS deferrable,
	  current_setting('transaction_isolation') AS isolation, current_setting('transaction_read_only') AS read_only`)
	mode := func(options string) map[string]any {
		t.Helper()
		body := `{"idempotency_key":null,"operations":[{"id":"op_1","kind":"fetch","payload":{"table_name":"tx_mode","columns":"*","strip_nulls":true}}],"options":` + options + `}`
		r := h.do("POST", "/gateway/transaction", "test", body).want(t, 200)
		rows, _ := txResults(t, r)[0]["data"].([]any)
		if len(rows) != 1 {
			t.Fatalf("%s: got %s", options, r.Body)
		}
		return rows[0].(map[string]any)
	}
	// What the SDK sends for db.transaction(fn) with no options.
	if m := mode(`{"deferrable":false,"isolation_level":null,"read_only":false}`); m["deferrable"] != "off" || m["read_only"] != "off" {
		t.Errorf("default options: got %v, want deferrable off, read_only off", m)
	}
	// {isolationLevel:"serializable", readOnly:true, deferrable:true}
	m := mode(`{"deferrable":true,"isolation_level":"serializable","read_only":true}`)
	if m["deferrable"] != "on" || m["isolation"] != "serializable" || m["read_only"] != "on" {
		t.Errorf("serializable read only deferrable: got %v", m)
	}
	// Outside SERIALIZABLE READ ONLY PostgreSQL accepts DEFERRABLE and gives
	// it no effect; so does Athena (no 400).
	if m := mode(`{"deferrable":true,"isolation_level":"read_committed","read_only":false}`); m["isolation"] != "read committed" {
		t.Errorf("deferrable read committed: got %v", m)
	}
	h.do("POST", "/gateway/transaction", "test", `{"operations":[{"kind":"fetch","payload":{"table_name":"tx_mode"}}],"options":{"deferrable":"maybe"}}`).
		wantCode(t, 400, gateway.CodeInvalidTransactionPayload)
}

// TestInsertOneObjectAnswersOneRow: .insert(obj) and .upsert(obj) answer
// data as that row (null when a conflict skipped it); arrays stay arrays
// (spec §3.3). Payloads as src/client/fluent/table-builder.ts builds them.
func TestInsertOneObjectAnswersOneRow(t *testing.T) {
	h := newHarness(t)
	r := h.do("PUT", "/gateway/insert", "test", `{"insert_body":{"email":"one@x","name":"One"},"table_name":"users","columns":"*"}`).want(t, 201)
	row, ok := r.JSON["data"].(map[string]any)
	if !ok || row["email"] != "one@x" || row["name"] != "One" || num(r.JSON["count"]) != "1" {
		t.Fatalf("insert(object): data %T %v, want the row object: %s", r.JSON["data"], r.JSON["data"], r.Body)
	}
	// A one-element array stays an array.
	r = h.do("PUT", "/gateway/insert", "test", `{"insert_body":[{"email":"arr@x"}],"table_name":"users","columns":"email"}`).want(t, 201)
	if rows := r.rows(t); len(rows) != 1 || rows[0]["email"] != "arr@x" {
		t.Errorf("insert([object]): got %s, want a one-row array", r.Body)
	}
	// upsert(obj, {updateBody:{}}) skipped by the conflict: data null.
	r = h.do("PUT", "/gateway/insert", "test", `{"insert_body":{"email":"one@x","name":"Skipped"},"table_name":"users","update_body":{},"columns":"*","on_conflict":"email"}`).want(t, 201)
	if r.JSON["data"] != nil || num(r.JSON["count"]) != "0" {
		t.Errorf("skipped by a conflict: data %v count %v, want null 0: %s", r.JSON["data"], r.JSON["count"], r.Body)
	}
	if _, present := r.JSON["data"]; !present {
		t.Errorf("skipped by a conflict: data missing, want null: %s", r.Body)
	}
	// In a transaction an insert op answers what its route answers.
	r = h.do("POST", "/gateway/transaction", "test", `{"idempotency_key":null,"operations":[{"id":"op_1","kind":"insert","payload":{"insert_body":{"email":"txone@x"},"table_name":"users","columns":"email"}},{"id":"op_2","kind":"insert","payload":{"insert_body":[{"email":"txarr@x"}],"table_name":"users","columns":"email"}}],"options":{"deferrable":false,"isolation_level":null,"read_only":false}}`).want(t, 200)
	res := txResults(t, r)
	if one, _ := res[0]["data"].(map[string]any); one["email"] != "txone@x" {
		t.Errorf("transaction insert(object): data %v, want the row object", res[0]["data"])
	}
	if arr, _ := res[1]["data"].([]any); len(arr) != 1 {
		t.Errorf("transaction insert([object]): data %v, want a one-row array", res[1]["data"])
	}
}

// TestUpsertMerges: upsert(row, {onConflict}) without updateBody merges the
// inserted columns into the existing row (spec §3.3); updateBody {} does
// nothing; a non-empty updateBody sets exactly its values.
func TestUpsertMerges(t *testing.T) {
	h := newHarness(t)
	// upsert({email, name, age}, {onConflict:"email"}) on Ada's row.
	r := h.do("PUT", "/gateway/insert", "test", `{"insert_body":{"email":"ada@example.com","name":"Ada L","age":37},"table_name":"users","columns":"*","on_conflict":"email"}`).want(t, 201)
	row, _ := r.JSON["data"].(map[string]any)
	if row == nil || num(row["id"]) != "1" || row["name"] != "Ada L" || num(row["age"]) != "37" || num(r.JSON["count"]) != "1" {
		t.Fatalf("merge: got %s, want Ada (id 1) with name Ada L, age 37", r.Body)
	}
	// Columns not sent keep their values: only name is merged.
	r = h.do("PUT", "/gateway/insert", "test", `{"insert_body":[{"email":"ada@example.com","name":"Ada M"},{"email":"new@example.com","name":"New"}],"table_name":"users","columns":"*","on_conflict":["email"]}`).want(t, 201)
	rows := r.rows(t)
	if len(rows) != 2 || rows[0]["name"] != "Ada M" || num(rows[0]["age"]) != "37" || rows[1]["name"] != "New" {
		t.Errorf("merge array: got %s, want Ada M (age kept 37) and New", r.Body)
	}
	// Only the conflict column inserted: nothing to merge, DO NOTHING.
	r = h.do("PUT", "/gateway/insert", "test", `{"insert_body":{"email":"ada@example.com"},"table_name":"users","columns":"*","on_conflict":"email"}`).want(t, 201)
	if r.JSON["data"] != nil || num(r.JSON["count"]) != "0" {
		t.Errorf("merge with only the key: got %s, want data null, count 0", r.Body)
	}
	// updateBody {}: do nothing, the row keeps its values.
	h.do("PUT", "/gateway/insert", "test", `{"insert_body":{"email":"ada@example.com","name":"Ignored"},"table_name":"users","update_body":{},"columns":"*","on_conflict":"email"}`).want(t, 201)
	// updateBody {age: 40}: only age changes, the inserted name is not merged.
	r = h.do("PUT", "/gateway/insert", "test", `{"insert_body":{"email":"ada@example.com","name":"Ignored"},"table_name":"users","update_body":{"age":40},"columns":"*","on_conflict":"email"}`).want(t, 201)
	if row, _ := r.JSON["data"].(map[string]any); row == nil || row["name"] != "Ada M" || num(row["age"]) != "40" {
		t.Errorf("update_body: got %s, want name Ada M, age 40", r.Body)
	}
}

// TestStripNullsOnEveryRoute: X-Strip-Nulls: true (the SDK's default
// header) drops null fields from the rows insert, update, delete and rpc
// return, as it does on fetch; false keeps them.
func TestStripNullsOnEveryRoute(t *testing.T) {
	h := newHarness(t)
	h.exec(t, `CREATE FUNCTION users_by_email(p_email text) RETURNS SETOF users LANGUAGE sql STABLE AS $$ SELECT * FROM users WHERE email = p_email $$`)
	strip := func(t *testing.T, name string, data any, wantStripped bool) {
		t.Helper()
		var rows []any
		switch d := data.(type) {
		case []any:
			rows = d
		case map[string]any:
			rows = []any{d}
		}
		if len(rows) == 0 {
			t.Fatalf("%s: no rows in %v", name, data)
		}
		for _, r := range rows {
			_, hasAge := r.(map[string]any)["age"]
			if hasAge == wantStripped {
				t.Errorf("%s: row %v; age present %v, want %v", name, r, hasAge, !wantStripped)
			}
		}
	}
	for _, on := range []bool{true, false} {
		hdr := strconv.FormatBool(on)
		email := "strip-" + hdr + "@x"
		r := h.do("PUT", "/gateway/insert", "test", `{"insert_body":{"email":"`+email+`","age":null},"table_name":"users","columns":"*"}`, "X-Strip-Nulls", hdr).want(t, 201)
		strip(t, "insert "+hdr, r.JSON["data"], on)
		cond := `{"operator":"eq","column":"email","value":"` + email + `","eq_column":"email","eq_value":"` + email + `"}`
		r = h.do("POST", "/gateway/update", "test", `{"table_name":"users","data":{"name":"S"},"conditions":[`+cond+`]}`, "X-Strip-Nulls", hdr).want(t, 200)
		strip(t, "update "+hdr, r.JSON["data"], on)
		r = h.do("POST", "/rpc/users_by_email?p_email="+email, "test", "", "X-Strip-Nulls", hdr).want(t, 200)
		strip(t, "rpc "+hdr, r.JSON["data"], on)
		r = h.do("DELETE", "/gateway/delete", "test", `{"table_name":"users","conditions":[`+cond+`]}`, "X-Strip-Nulls", hdr).want(t, 200)
		strip(t, "delete "+hdr, r.JSON["data"], on)
	}
	// The body's strip_nulls wins over the header.
	r := h.do("PUT", "/gateway/insert", "test", `{"insert_body":{"email":"body@x"},"table_name":"users","strip_nulls":false}`, "X-Strip-Nulls", "true").want(t, 201)
	strip(t, "insert body false, header true", r.JSON["data"], false)
}

// TestBoundedWriteUnderConcurrentChange: the row a bound would choose is
// changed by another transaction so that it no longer matches, while the
// bounded write waits for its lock. The write must then take the next
// matching row and leave the changed one alone: the choice is re-checked
// after the lock (postgres/bound.go), not taken from a stale snapshot.
func TestBoundedWriteUnderConcurrentChange(t *testing.T) {
	for _, tc := range []struct{ name, method, path, body string }{
		{"update", "POST", "/gateway/update", `{"table_name":"tasks","data":{"note":"picked"},"conditions":[` + openCond + `],"sort_by":{"field":"rank","direction":"ascending"},"limit":1}`},
		{"delete", "DELETE", "/gateway/delete", `{"table_name":"tasks","conditions":[` + openCond + `],"sort_by":{"field":"rank","direction":"ascending"},"limit":1}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.exec(t, boundFixture)
			ctx := context.Background()
			other, err := pgx.Connect(ctx, testDatabaseURL())
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close(ctx)
			watch, err := pgx.Connect(ctx, testDatabaseURL())
			if err != nil {
				t.Fatal(err)
			}
			defer watch.Close(ctx)
			tx, err := other.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tx.Rollback(ctx) }()
			if _, err := tx.Exec(ctx, "UPDATE "+pgx.Identifier{h.schema, "tasks"}.Sanitize()+" SET status = 'done' WHERE rank = 1"); err != nil {
				t.Fatal(err)
			}
			done := make(chan response, 1)
			go func() { done <- h.do(tc.method, tc.path, "test", tc.body) }()
			// Commit only once the bounded write waits for the row lock.
			deadline := time.Now().Add(15 * time.Second)
			for {
				var waiting int
				err := watch.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
				  AND query LIKE '%' || $1 || '%' AND query LIKE '%IN (SELECT%'`, h.schema).Scan(&waiting)
				if err != nil {
					t.Fatal(err)
				}
				if waiting > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the bounded write never waited for the locked row")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			r := <-done
			r.want(t, 200)
			if got := rowsCol(t, r, "rank"); strings.Join(got, ",") != "2" {
				t.Errorf("wrote ranks %v, want [2] (rank 1 stopped matching before the lock was granted): %s", got, r.Body)
			}
			var status string
			var note *string
			if err := watch.QueryRow(ctx, "SELECT status, note FROM "+pgx.Identifier{h.schema, "tasks"}.Sanitize()+" WHERE rank = 1").Scan(&status, &note); err != nil {
				t.Fatalf("rank 1 is gone: %v", err)
			}
			if status != "done" || note != nil {
				t.Errorf("rank 1: status %q note %v, want done and untouched", status, note)
			}
		})
	}
}
