package api

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// schemaTables serves GET /schema/tables.
func (s *Server) schemaTables(c *gin.Context) {
	const op = "schema"
	res, p, ok := s.begin(c, op)
	if !ok || !s.authorize(c, p, auth.RightManagementRead) {
		return
	}
	db := res.DB
	tables, err := db.Tables(c.Request.Context())
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Tables listed").value("data", tables).send(c, 200)
}

// schemaColumns serves GET /schema/columns?table_name=&table_schema=.
func (s *Server) schemaColumns(c *gin.Context) {
	const op = "schema"
	res, p, ok := s.begin(c, op)
	if !ok || !s.authorize(c, p, auth.RightManagementRead) {
		return
	}
	db := res.DB
	schema, table, err := schemaFilter(c)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	cols, err := db.Columns(c.Request.Context(), schema, table)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Columns listed").value("data", cols).send(c, 200)
}

// schemaConstraints serves GET /schema/constraints?table_name=&table_schema=.
func (s *Server) schemaConstraints(c *gin.Context) {
	const op = "schema"
	res, p, ok := s.begin(c, op)
	if !ok || !s.authorize(c, p, auth.RightManagementRead) {
		return
	}
	db := res.DB
	schema, table, err := schemaFilter(c)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	cons, err := db.Constraints(c.Request.Context(), schema, table)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Constraints listed").value("data", cons).send(c, 200)
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
