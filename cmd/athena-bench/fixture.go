package main

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// benchSchema holds the bench's tables; the Athena servers expose it.
const benchSchema = "athena_bench"

// itemRows is how many rows athena_bench.items holds; reads pick ids in
// 1..itemRows.
const itemRows = 10000

// fixtureSQL creates the benchmark's own schema. It is idempotent: a second
// run finds the tables and the rows already there.
func fixtureSQL() []string {
	return []string{
		`create schema if not exists athena_bench`,
		`create table if not exists athena_bench.items (
		id bigint primary key,
		name text not null,
		price numeric(10,2),
		tags text[],
		created_at timestamptz not null default now()
	)`,
		`create table if not exists athena_bench.inserts (
		id bigserial primary key,
		name text not null,
		qty int,
		created_at timestamptz not null default now()
	)`,
		fmt.Sprintf(`delete from athena_bench.items where id not between 1 and %d`, itemRows),
		fmt.Sprintf(`insert into athena_bench.items (id, name, price, tags, created_at)
	 select g, 'item ' || g, (g %% 1000) / 10.0 + 0.99,
	        array['tag' || (g %% 7), 'tag' || (g %% 11)],
	        timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute'
	 from generate_series(1, %d) as g
	 on conflict (id) do nothing`, itemRows),
		`analyze athena_bench.items`,
	}
}

// setupFixture creates the tables and checks the row count.
func setupFixture(ctx context.Context, pool *pgxpool.Pool) error {
	for _, stmt := range fixtureSQL() {
		if _, err := pool.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("create fixture: %w", err)
		}
	}
	n, err := countRows(ctx, pool, "athena_bench.items")
	if err != nil {
		return err
	}
	if n != itemRows {
		return fmt.Errorf("athena_bench.items has %d rows, want %d", n, itemRows)
	}
	return nil
}

// resetInserts empties the insert target so each insert run starts at zero.
func resetInserts(ctx context.Context, pool *pgxpool.Pool) error {
	if _, err := pool.Exec(ctx, `truncate athena_bench.inserts restart identity`); err != nil {
		return fmt.Errorf("truncate inserts: %w", err)
	}
	return nil
}

// countRows counts a fixture table (the name is one of ours, never input).
func countRows(ctx context.Context, pool *pgxpool.Pool, table string) (int64, error) {
	var n int64
	if err := pool.QueryRow(ctx, "select count(*) from "+table).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s: %w", table, err)
	}
	return n, nil
}
