package postgres

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/athena-gateway/athena/gateway"
)

func TestInsert(t *testing.T) {
	e := fixtureDB(t)
	ctx := ctxT(t)

	t.Run("single returning star", func(t *testing.T) {
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Returning: gateway.Selection{Star: true},
			Rows: []map[string]any{{"email": "dan@x.io", "name": "dan", "age": num("41"), "tags": []any{"x", "y"}, "meta": map[string]any{"a": []any{num("1")}}}}})
		if err != nil {
			t.Fatal(err)
		}
		rows := decodeRows(t, res.Rows)
		if res.Affected != 1 || len(rows) != 1 || rows[0]["name"] != "dan" || rows[0]["active"] != true {
			t.Fatalf("got %d %s", res.Affected, res.Rows)
		}
		if fmt.Sprint(rows[0]["tags"]) != "[x y]" || fmt.Sprint(rows[0]["meta"]) != "map[a:[1]]" {
			t.Fatalf("got tags %v meta %v", rows[0]["tags"], rows[0]["meta"])
		}
	})
	t.Run("bulk homogeneous returning columns", func(t *testing.T) {
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Returning: cols("email", "age"),
			Rows: []map[string]any{
				{"email": "e1@x.io", "age": num("1"), "meta": "just a string", "tags": []any{"q"}},
				{"email": "e2@x.io", "age": "2", "meta": map[string]any{"o": true}, "tags": nil},
			}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Affected != 2 || compact(res.Rows) != `[{"email":"e1@x.io","age":1},{"email":"e2@x.io","age":2}]` {
			t.Fatalf("got %d %s", res.Affected, res.Rows)
		}
	})
	t.Run("missing keys take DEFAULT", func(t *testing.T) {
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Returning: cols("email", "active"),
			Rows: []map[string]any{{"email": "d1@x.io", "active": false}, {"email": "d2@x.io"}}})
		if err != nil {
			t.Fatal(err)
		}
		if compact(res.Rows) != `[{"email":"d1@x.io","active":false},{"email":"d2@x.io","active":true}]` {
			t.Fatalf("got %s", res.Rows)
		}
	})
	t.Run("default_to_null", func(t *testing.T) {
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Returning: cols("email", "active"), DefaultToNull: true,
			Rows: []map[string]any{{"email": "n1@x.io", "active": false}, {"email": "n2@x.io"}}})
		if err != nil {
			t.Fatal(err)
		}
		if compact(res.Rows) != `[{"email":"n1@x.io","active":false},{"email":"n2@x.io","active":null}]` {
			t.Fatalf("got %s", res.Rows)
		}
	})
	t.Run("upsert with update body", func(t *testing.T) {
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Returning: cols("id", "name"),
			Rows:       []map[string]any{{"email": "alice@x.io", "name": "ignored"}},
			OnConflict: []string{"email"}, Action: gateway.ConflictDoUpdate,
			UpdateBody: map[string]any{"name": "alice2"}})
		if err != nil {
			t.Fatal(err)
		}
		if compact(res.Rows) != `[{"id":1,"name":"alice2"}]` || res.Affected != 1 {
			t.Fatalf("got %s", res.Rows)
		}
	})
	t.Run("upsert from excluded, bulk", func(t *testing.T) {
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Returning: cols("email", "name"),
			Rows:       []map[string]any{{"email": "alice@x.io", "name": "alice3"}, {"email": "new@x.io", "name": "new"}},
			OnConflict: []string{"email"}, Action: gateway.ConflictDoUpdate})
		if err != nil {
			t.Fatal(err)
		}
		if compact(res.Rows) != `[{"email":"alice@x.io","name":"alice3"},{"email":"new@x.io","name":"new"}]` {
			t.Fatalf("got %s", res.Rows)
		}
	})
	t.Run("do nothing counts only inserted", func(t *testing.T) {
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Returning: cols("email"),
			Rows:       []map[string]any{{"email": "bob@x.io"}, {"email": "fresh@x.io"}},
			OnConflict: []string{"email"}, Action: gateway.ConflictDoNothing})
		if err != nil {
			t.Fatal(err)
		}
		if res.Affected != 1 || compact(res.Rows) != `[{"email":"fresh@x.io"}]` {
			t.Fatalf("got %d %s", res.Affected, res.Rows)
		}
	})
	t.Run("head returns only the count", func(t *testing.T) {
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Head: true,
			Rows: []map[string]any{{"email": "h1@x.io"}, {"email": "h2@x.io"}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Affected != 2 || compact(res.Rows) != `[]` {
			t.Fatalf("got %d %s", res.Affected, res.Rows)
		}
	})
	t.Run("only defaults", func(t *testing.T) {
		e.exec(t, "CREATE TABLE defaults_only (id serial PRIMARY KEY, at timestamptz DEFAULT now())")
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("defaults_only"), Returning: cols("id"),
			Rows: []map[string]any{{}, {}}})
		if err != nil {
			t.Fatal(err)
		}
		if compact(res.Rows) != `[{"id":1},{"id":2}]` {
			t.Fatalf("got %s", res.Rows)
		}
	})
	t.Run("injection in values stays data", func(t *testing.T) {
		evil := `'); DROP TABLE users; --`
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Returning: cols("name"),
			Rows: []map[string]any{{"email": "evil@x.io", "name": evil}}})
		if err != nil || compact(res.Rows) != `[{"name":"'); DROP TABLE users; --"}]` {
			t.Fatalf("got %s, %v", res.Rows, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		_, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{{"ghost": 1}}})
		wantCode(t, err, gateway.CodeUnknownColumn)
		_, err = e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users")})
		wantCode(t, err, gateway.CodeInvalidInsertPayload)
		_, err = e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("nope"), Rows: []map[string]any{{"a": 1}}})
		wantCode(t, err, gateway.CodeUnknownTable)
	})
}

// TestValueBinding checks that values sent as text reach typed columns
// correctly through both insert paths and through conditions.
func TestValueBinding(t *testing.T) {
	e := testDB(t)
	e.exec(t, `CREATE TABLE typed (id int PRIMARY KEY, n numeric, u uuid, ts timestamptz, b boolean, j jsonb, d date, a int[], big bigint)`)
	row := map[string]any{"id": num("1"), "n": num("12345678901234567890.123456789"), "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
		"ts": "2024-06-01T12:30:00.123456Z", "b": true, "j": map[string]any{"x": []any{num("1"), "two"}}, "d": "2024-06-01",
		"a": []any{num("1"), num("2")}, "big": num("9007199254740993")}
	want := `[{"id":1,"n":12345678901234567890.123456789,"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","ts":"2024-06-01T12:30:00.123456+00:00","b":true,"j":{"x":[1,"two"]},"d":"2024-06-01","a":[1,2],"big":9007199254740993}]`
	for _, bulk := range []bool{false, true} {
		t.Run(fmt.Sprintf("bulk=%v", bulk), func(t *testing.T) {
			e.exec(t, "TRUNCATE typed")
			rows := []map[string]any{row}
			if bulk {
				second := map[string]any{}
				for k, v := range row {
					second[k] = v
				}
				second["id"] = num("2")
				rows = append(rows, second)
			}
			if _, err := e.db.Insert(ctxT(t), gateway.InsertRequest{Table: tbl("typed"), Rows: rows}); err != nil {
				t.Fatal(err)
			}
			conds := []gateway.Condition{}
			for _, c := range []string{"n", "u", "ts", "b", "j", "d", "a", "big"} {
				conds = append(conds, leaf(c, gateway.OpEq, row[c]))
			}
			conds = append(conds, leaf("id", gateway.OpEq, num("1")))
			conds = append(conds, gateway.Condition{Column: "ts", Op: gateway.OpGt, Value: "2024-06-01", ValueCast: "timestamptz"})
			res, err := e.db.Fetch(ctxT(t), gateway.FetchRequest{Table: tbl("typed"), Conditions: conds})
			if err != nil {
				t.Fatal(err)
			}
			if compact(res.Rows) != want {
				t.Fatalf("got  %s\nwant %s", res.Rows, want)
			}
		})
	}
}

func TestInsertBulkBeyondParameterLimit(t *testing.T) {
	e := testDB(t)
	var colDefs []string
	for i := range 15 {
		colDefs = append(colDefs, fmt.Sprintf("c%d int DEFAULT %d", i, 100+i))
	}
	e.exec(t, "CREATE TABLE wide (id serial PRIMARY KEY, "+strings.Join(colDefs, ", ")+")")
	const n = 5000 // 5000 rows × 15 values = 75000 > 65535 parameters
	for _, mixed := range []bool{false, true} {
		t.Run(fmt.Sprintf("mixed_keys=%v", mixed), func(t *testing.T) {
			e.exec(t, "TRUNCATE wide RESTART IDENTITY")
			rows := make([]map[string]any, n)
			for i := range rows {
				r := map[string]any{}
				for c := range 15 {
					r[fmt.Sprintf("c%d", c)] = num(fmt.Sprint(i))
				}
				if mixed && i%2 == 1 {
					delete(r, "c14") // forces VALUES with DEFAULT, split into chunks
				}
				rows[i] = r
			}
			res, err := e.db.Insert(ctxT(t), gateway.InsertRequest{Table: tbl("wide"), Rows: rows, Returning: cols("id", "c14")})
			if err != nil {
				t.Fatal(err)
			}
			got := decodeRows(t, res.Rows)
			if res.Affected != n || len(got) != n {
				t.Fatalf("got affected %d rows %d, want %d", res.Affected, len(got), n)
			}
			if mixed && (fmt.Sprint(got[1]["c14"]) != "114" || fmt.Sprint(got[4998]["c14"]) != "4998") {
				t.Fatalf("got c14 %v/%v", got[1]["c14"], got[4998]["c14"])
			}
			if fmt.Sprint(got[n-1]["id"]) != fmt.Sprint(n) {
				t.Fatalf("rows out of order: last id %v", got[n-1]["id"])
			}
		})
	}
	t.Run("chunks are atomic", func(t *testing.T) {
		e.exec(t, "TRUNCATE wide RESTART IDENTITY")
		rows := make([]map[string]any, n)
		for i := range rows {
			r := map[string]any{}
			for c := range 15 {
				r[fmt.Sprintf("c%d", c)] = num(fmt.Sprint(i))
			}
			if i%2 == 1 {
				delete(r, "c14")
			}
			rows[i] = r
		}
		rows[n-1]["c0"] = "not a number" // fails in the last chunk
		_, err := e.db.Insert(ctxT(t), gateway.InsertRequest{Table: tbl("wide"), Rows: rows})
		wantCode(t, err, gateway.CodeInvalidValue)
		res, err := e.db.Fetch(ctxT(t), gateway.FetchRequest{Table: tbl("wide"), Count: gateway.CountExact, Head: true})
		if err != nil || *res.Count != 0 {
			t.Fatalf("got count %v err %v, want 0 (earlier chunks rolled back)", res.Count, err)
		}
	})
}

func TestUpdate(t *testing.T) {
	e := fixtureDB(t)
	ctx := ctxT(t)
	res, err := e.db.Update(ctx, gateway.UpdateRequest{Table: tbl("users"), Set: map[string]any{"age": num("31"), "name": nil},
		Conditions: []gateway.Condition{leaf("email", gateway.OpLike, "alice%")}, Returning: cols("id", "age", "name")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Affected != 1 || compact(res.Rows) != `[{"id":1,"age":31,"name":null}]` {
		t.Fatalf("got %d %s", res.Affected, res.Rows)
	}
	res, err = e.db.Update(ctx, gateway.UpdateRequest{Table: tbl("users"), Set: map[string]any{"age": num("5")},
		Conditions: []gateway.Condition{leaf("id", gateway.OpEq, num("3"))}, Returning: cols("id", "name", "age"), StripNulls: true})
	if err != nil || compact(res.Rows) != `[{"id":3,"age":5}]` {
		t.Fatalf("strip nulls: got %s %v", res.Rows, err)
	}
	_, err = e.db.Update(ctx, gateway.UpdateRequest{Table: tbl("users"), Set: map[string]any{"age": num("1")}})
	wantCode(t, err, gateway.CodeInvalidUpdatePayload)
	res, err = e.db.Update(ctx, gateway.UpdateRequest{Table: tbl("users"), Set: map[string]any{"score": num("1")}, AllowUnfiltered: true})
	if err != nil || res.Affected != 3 {
		t.Fatalf("unfiltered: got %d %v", res.Affected, err)
	}
	_, err = e.db.Update(ctx, gateway.UpdateRequest{Table: tbl("users"), Set: map[string]any{"age": num("-1")}, AllowUnfiltered: true})
	wantCode(t, err, gateway.CodeConstraintViolation)
	_, err = e.db.Update(ctx, gateway.UpdateRequest{Table: tbl("users"), Set: map[string]any{"ghost": 1}, AllowUnfiltered: true})
	wantCode(t, err, gateway.CodeUnknownColumn)
}

func TestDelete(t *testing.T) {
	e := fixtureDB(t)
	ctx := ctxT(t)
	res, err := e.db.Delete(ctx, gateway.DeleteRequest{Table: tbl("comments"), ResourceID: num("2"), Returning: cols("id", "body")})
	if err != nil || res.Affected != 1 || compact(res.Rows) != `[{"id":2,"body":"meh"}]` {
		t.Fatalf("by pk: got %s %v", res.Rows, err)
	}
	// resource_id AND conditions: no row matches both.
	res, err = e.db.Delete(ctx, gateway.DeleteRequest{Table: tbl("comments"), ResourceID: "1",
		Conditions: []gateway.Condition{leaf("body", gateway.OpEq, "other")}})
	if err != nil || res.Affected != 0 {
		t.Fatalf("pk+cond: got %d %v", res.Affected, err)
	}
	res, err = e.db.Delete(ctx, gateway.DeleteRequest{Table: tbl("comments"), Conditions: []gateway.Condition{leaf("post_id", gateway.OpEq, num("1"))}})
	if err != nil || res.Affected != 1 {
		t.Fatalf("by condition: got %d %v", res.Affected, err)
	}
	_, err = e.db.Delete(ctx, gateway.DeleteRequest{Table: tbl("comments")})
	wantCode(t, err, gateway.CodeInvalidDeletePayload)

	e.exec(t, "CREATE TABLE keyed (resource_id text, id int); CREATE TABLE plain_ids (id int, v text); CREATE TABLE nokey (v text)")
	e.exec(t, "INSERT INTO keyed VALUES ('r1', 1), ('r2', 2); INSERT INTO plain_ids VALUES (7, 'x'), (8, 'y'); INSERT INTO nokey VALUES ('z')")
	res, err = e.db.Delete(ctx, gateway.DeleteRequest{Table: tbl("keyed"), ResourceID: "r2", Returning: cols("id")})
	if err != nil || compact(res.Rows) != `[{"id":2}]` {
		t.Fatalf("resource_id column: got %s %v", res.Rows, err)
	}
	res, err = e.db.Delete(ctx, gateway.DeleteRequest{Table: tbl("plain_ids"), ResourceID: num("8"), Returning: cols("v")})
	if err != nil || compact(res.Rows) != `[{"v":"y"}]` {
		t.Fatalf("id column: got %s %v", res.Rows, err)
	}
	_, err = e.db.Delete(ctx, gateway.DeleteRequest{Table: tbl("nokey"), ResourceID: "z"})
	wantCode(t, err, gateway.CodeInvalidDeletePayload)
	_, err = e.db.Delete(ctx, gateway.DeleteRequest{Table: tbl("users"), ResourceID: num("1")})
	ge := wantCode(t, err, gateway.CodeForeignKeyViolation)
	if ge.Details["constraint"] != "posts_author_id_fkey" {
		t.Fatalf("got details %v", ge.Details)
	}
	// Spec §1.4: a foreign-key violation is a 400; only duplicates are 409.
	if !slices.Contains([]int{400}, ge.Code.Status()) {
		t.Fatalf("got status %d", ge.Code.Status())
	}
}
