package api

import (
	"context"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// The introspection routes (/schema/tables, /schema/columns,
// /schema/constraints) over postgres/introspect.go.

// introspectTables serves GET /schema/tables.
func (s *Server) introspectTables(c *gin.Context) error {
	return s.introspect(c, "Tables listed", false, func(ctx context.Context, db *postgres.DB, _, _ string) (any, error) {
		return db.Tables(ctx)
	})
}

// introspectColumns serves GET /schema/columns?table_name=&table_schema=.
func (s *Server) introspectColumns(c *gin.Context) error {
	return s.introspect(c, "Columns listed", true, func(ctx context.Context, db *postgres.DB, schema, table string) (any, error) {
		return db.Columns(ctx, schema, table)
	})
}

// introspectConstraints serves GET /schema/constraints?table_name=&table_schema=.
func (s *Server) introspectConstraints(c *gin.Context) error {
	return s.introspect(c, "Constraints listed", true, func(ctx context.Context, db *postgres.DB, schema, table string) (any, error) {
		return db.Constraints(ctx, schema, table)
	})
}

// introspect is the shared body of the introspection routes: resolve and
// authenticate (management.read), read the optional table filter, list.
func (s *Server) introspect(c *gin.Context, message string, filtered bool, list func(ctx context.Context, db *postgres.DB, schema, table string) (any, error)) error {
	res, p, err := s.begin(c)
	if err != nil {
		return err
	}
	if err := s.authorize(p, auth.RightManagementRead); err != nil {
		return err
	}
	var schema, table string
	if filtered {
		if schema, table, err = schemaFilter(c); err != nil {
			return err
		}
	}
	data, err := list(c.Request.Context(), res.DB, schema, table)
	if err != nil {
		return err
	}
	newSuccess(message).value("data", data).send(c, 200)
	return nil
}

// schemaFilter reads table_name (optionally schema-qualified) and
// table_schema, validating both as identifiers.
func schemaFilter(c *gin.Context) (schema, table string, err error) {
	table = strings.TrimSpace(c.Query("table_name"))
	schema = strings.TrimSpace(c.Query("table_schema"))
	if table == "" {
		if schema != "" && !gateway.ValidIdentifier(schema) {
			return "", "", gateway.Errorf(gateway.CodeInvalidFetchPayload, "invalid schema name %q", schema)
		}
		return schema, "", nil
	}
	ref, err := gateway.ParseTableRef(table, schema, gateway.CodeInvalidFetchPayload)
	if err != nil {
		return "", "", err
	}
	return ref.Schema, ref.Name, nil
}
