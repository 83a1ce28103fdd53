// Package postgrestest holds test helpers over the logging database that
// tests of several packages share.
package postgrestest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// StatsLines renders client_statistics and client_table_statistics as
// sorted "client [table operation] total/successful/failed/cached" lines,
// for comparing the statistics with what the logs say in one assertion.
func StatsLines(t testing.TB, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
SELECT client_name, total_requests, successful_requests, failed_requests, cached_requests FROM client_statistics
UNION ALL
SELECT client_name || ' ' || table_name || ' ' || operation, total_requests, successful_requests, failed_requests, cached_requests FROM client_table_statistics`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		var n [4]int64
		if err := rows.Scan(&name, &n[0], &n[1], &n[2], &n[3]); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s %d/%d/%d/%d", name, n[0], n[1], n[2], n[3]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
