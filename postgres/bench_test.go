package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/athena-gateway/athena/gateway"
)

// The pairs below measure the gateway path against the least a hand-written
// pgx handler would do for the same result; compare their ns/op.

func benchUsers(b *testing.B) *testEnv {
	e := fixtureDB(b)
	e.exec(b, "INSERT INTO users (email, name, age) SELECT 'u' || g || '@x.io', 'user ' || g, g % 90 FROM generate_series(1, 10000) g")
	return e
}

// BenchmarkFetchByPK is db.Fetch of one row by primary key.
func BenchmarkFetchByPK(b *testing.B) {
	e := benchUsers(b)
	ctx := context.Background()
	req := gateway.FetchRequest{Table: tbl("users"), Selection: cols("id", "email", "name", "age"),
		Conditions: []gateway.Condition{leaf("id", gateway.OpEq, json.Number("4242"))}}
	if _, err := e.db.Fetch(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res, err := e.db.Fetch(ctx, req)
		if err != nil || len(res.Rows) < 10 {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirectPgx is the baseline: pool.QueryRow of the same row,
// rendered to JSON by PostgreSQL the same way.
func BenchmarkDirectPgx(b *testing.B) {
	e := benchUsers(b)
	ctx := context.Background()
	const q = `SELECT coalesce(json_agg(t), '[]') FROM (SELECT id, email, name, age FROM users WHERE id = $1) t`
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		var rows []byte
		if err := e.pool.QueryRow(ctx, q, 4242).Scan(&rows); err != nil {
			b.Fatal(err)
		}
	}
}

func benchRows(n int, prefix string) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = map[string]any{"email": fmt.Sprintf("%s%d@x.io", prefix, i), "name": "bulk", "age": json.Number("33")}
	}
	return rows
}

// BenchmarkInsert1000Bulk inserts 1,000 rows in one request.
func BenchmarkInsert1000Bulk(b *testing.B) {
	e := fixtureDB(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		res, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Rows: benchRows(1000, fmt.Sprintf("b%d_", i)), Head: true})
		if err != nil || res.Affected != 1000 {
			b.Fatal(err)
		}
	}
}

// BenchmarkInsert1000Single inserts the same 1,000 rows one request each.
func BenchmarkInsert1000Single(b *testing.B) {
	e := fixtureDB(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		for _, r := range benchRows(1000, fmt.Sprintf("s%d_", i)) {
			if _, err := e.db.Insert(ctx, gateway.InsertRequest{Table: tbl("users"), Rows: []map[string]any{r}, Head: true}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
