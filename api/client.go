package api

import (
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/postgres"
)

// clientDB resolves the X-Athena-Client header to a database (spec §1.1).
func (s *Server) clientDB(c *gin.Context) (*postgres.DB, string, error) {
	name := strings.TrimSpace(c.GetHeader("X-Athena-Client"))
	db, err := s.clients.Lookup(name)
	return db, name, err
}

// stripNullsHeader reads X-Strip-Nulls; nil when absent or unparsable.
func stripNullsHeader(c *gin.Context) *bool {
	v := strings.TrimSpace(c.GetHeader("X-Strip-Nulls"))
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil
	}
	return &b
}
