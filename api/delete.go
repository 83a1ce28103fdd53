package api

import (
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// delete serves DELETE|POST /gateway/delete (spec §3.5).
func (s *Server) delete(c *gin.Context) {
	const op = "delete"
	db, _, err := s.clientDB(c)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	body, err := s.readBody(c)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	req, err := gateway.DecodeDelete(body, s.opts.Limits)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	res, err := db.Delete(c.Request.Context(), req)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Data deleted successfully").
		raw("data", res.Rows).
		int("count", res.Affected).
		int("affected_rows", res.Affected).
		send(c, 200)
}
