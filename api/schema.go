package api

import (
	"context"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// schemaTables serves GET /schema/tables.
func (s *Server) schemaTables(c *gin.Context) {
	s.schemaRoute(c, "Tables listed", false, func(ctx context.Context, db *postgres.DB, _, _ string) (any, error) {
		return db.Tables(ctx)
	})
}

// schemaColumns serves GET /schema/columns?table_name=&table_schema=.
func (s *Server) schemaColumns(c *gin.Context) {
	s.schemaRoute(c, "Columns listed", true, func(ctx context.Context, db *postgres.DB, schema, table string) (any, error) {
		return db.Columns(ctx, schema, table)
	})
}

// schemaConstraints serves GET /schema/constraints?table_name=&table_schema=.
func (s *Server) schemaConstraints(c *gin.Context) {
	s.schemaRoute(c, "Constraints listed", true, func(ctx context.Context, db *postgres.DB, schema, table string) (any, error) {
		return db.Constraints(ctx, schema, table)
	})
}

// schemaRoute is the shared body of the introspection routes: resolve and
// authenticate (management.read), read the optional table filter, list.
func (s *Server) schemaRoute(c *gin.Context, message string, filtered bool, list func(ctx context.Context, db *postgres.DB, schema, table string) (any, error)) {
	const op = "schema"
	res, p, ok := s.begin(c, op)
	if !ok || !s.authorize(c, p, auth.RightManagementRead) {
		return
	}
	var schema, table string
	var err error
	if filtered {
		if schema, table, err = schemaFilter(c); err != nil {
			writeError(c, s.log, op, err)
			return
		}
	}
	data, err := list(c.Request.Context(), res.DB, schema, table)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess(message).value("data", data).send(c, 200)
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
