package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

// migrationFiles are the logging database's schema, in order
// (NNN_name.sql, tern format: up above "---- create above / drop below ----").
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationVersionTable records which migrations ran.
const migrationVersionTable = "athena_schema_version"

// Migrate brings the logging database up to date. It is idempotent and safe
// to run from several processes at once: tern serialises migrators with a
// PostgreSQL advisory lock and each migration runs in its own transaction.
func Migrate(ctx context.Context, pool *pgxpool.Pool) (from, to int32, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), migrationVersionTable)
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	if err := m.LoadMigrations(sub); err != nil {
		return 0, 0, fmt.Errorf("migrate: load: %w", err)
	}
	if from, err = m.GetCurrentVersion(ctx); err != nil {
		return 0, 0, fmt.Errorf("migrate: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return from, 0, fmt.Errorf("migrate: %w", err)
	}
	to, err = m.GetCurrentVersion(ctx)
	if err != nil {
		return from, 0, fmt.Errorf("migrate: %w", err)
	}
	return from, to, nil
}
