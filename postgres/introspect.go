package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// TableInfo is one relation listed by GET /schema/tables.
type TableInfo struct {
	Schema string `json:"table_schema" db:"table_schema"`
	Name   string `json:"table_name" db:"table_name"`
	// Type is "table", "view", "materialized view" or "foreign table".
	Type string `json:"table_type" db:"table_type"`
}

// ColumnInfo is one column listed by GET /schema/columns. IsNullable is
// "YES" or "NO", as in information_schema.columns.
type ColumnInfo struct {
	TableSchema     string  `json:"table_schema" db:"table_schema"`
	TableName       string  `json:"table_name" db:"table_name"`
	ColumnName      string  `json:"column_name" db:"column_name"`
	DataType        string  `json:"data_type" db:"data_type"`
	IsNullable      string  `json:"is_nullable" db:"is_nullable"`
	ColumnDefault   *string `json:"column_default" db:"column_default"`
	OrdinalPosition int     `json:"ordinal_position" db:"ordinal_position"`
}

// ConstraintInfo is one constraint listed by GET /schema/constraints.
// ConstraintType is PRIMARY KEY, FOREIGN KEY, UNIQUE, CHECK or EXCLUDE;
// the foreign_* fields are set for foreign keys only.
type ConstraintInfo struct {
	TableSchema        string   `json:"table_schema" db:"table_schema"`
	TableName          string   `json:"table_name" db:"table_name"`
	ConstraintName     string   `json:"constraint_name" db:"constraint_name"`
	ConstraintType     string   `json:"constraint_type" db:"constraint_type"`
	Columns            []string `json:"columns" db:"columns"`
	ForeignTableSchema *string  `json:"foreign_table_schema,omitempty" db:"foreign_table_schema"`
	ForeignTableName   *string  `json:"foreign_table_name,omitempty" db:"foreign_table_name"`
	ForeignColumns     []string `json:"foreign_columns,omitempty" db:"foreign_columns"`
	Definition         string   `json:"definition" db:"definition"`
}

// userSchemas excludes PostgreSQL's own schemas from listings.
const userSchemas = `n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp\_%'`

const tablesQuery = `
SELECT n.nspname AS table_schema, c.relname AS table_name,
  CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                 WHEN 'f' THEN 'foreign table' ELSE 'table' END AS table_type
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ` + userSchemas + `
ORDER BY 1, 2`

// Tables lists the tables and views of every non-system schema.
func (db *DB) Tables(ctx context.Context) ([]TableInfo, error) {
	var out []TableInfo
	err := db.queryRows(ctx, tablesQuery, nil, func(rows pgx.Rows) error {
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[TableInfo])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	return nonNil(out), nil
}

const columnsQuery = `
SELECT n.nspname AS table_schema, c.relname AS table_name, a.attname AS column_name,
  format_type(a.atttypid, a.atttypmod) AS data_type,
  CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END AS is_nullable,
  pg_get_expr(d.adbin, d.adrelid) AS column_default,
  a.attnum::int AS ordinal_position
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attnum > 0 AND NOT a.attisdropped
  AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND ` + userSchemas + `
  AND ($1 = '' OR n.nspname = $1) AND ($2 = '' OR c.relname = $2)
ORDER BY 1, 2, a.attnum`

// Columns lists columns; table "" means every table, schema "" every
// non-system schema.
func (db *DB) Columns(ctx context.Context, schema, table string) ([]ColumnInfo, error) {
	var out []ColumnInfo
	err := db.queryRows(ctx, columnsQuery, []any{schema, table}, func(rows pgx.Rows) error {
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[ColumnInfo])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list columns: %w", err)
	}
	return nonNil(out), nil
}

const constraintsQuery = `
SELECT n.nspname AS table_schema, c.relname AS table_name, k.conname AS constraint_name,
  CASE k.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'f' THEN 'FOREIGN KEY' WHEN 'u' THEN 'UNIQUE'
                 WHEN 'c' THEN 'CHECK' WHEN 'x' THEN 'EXCLUDE' ELSE 'TRIGGER' END AS constraint_type,
  coalesce((SELECT array_agg(a.attname ORDER BY u.ord)
            FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum), '{}') AS columns,
  rn.nspname AS foreign_table_schema, rc.relname AS foreign_table_name,
  (SELECT array_agg(a.attname ORDER BY u.ord)
   FROM unnest(k.confkey) WITH ORDINALITY AS u(attnum, ord)
   JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum) AS foreign_columns,
  pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_class rc ON rc.oid = k.confrelid
LEFT JOIN pg_namespace rn ON rn.oid = rc.relnamespace
WHERE ` + userSchemas + `
  AND ($1 = '' OR n.nspname = $1) AND ($2 = '' OR c.relname = $2)
ORDER BY 1, 2, 3`

// Constraints lists table constraints with the same filters as Columns.
func (db *DB) Constraints(ctx context.Context, schema, table string) ([]ConstraintInfo, error) {
	var out []ConstraintInfo
	err := db.queryRows(ctx, constraintsQuery, []any{schema, table}, func(rows pgx.Rows) error {
		var err error
		out, err = pgx.CollectRows(rows, pgx.RowToStructByName[ConstraintInfo])
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list constraints: %w", err)
	}
	return nonNil(out), nil
}

// nonNil makes empty listings encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
