package api

import (
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// delete serves DELETE|POST /gateway/delete (spec §3.5).
func (s *Server) delete(c *gin.Context) {
	const op = "delete"
	res, p, req, ok := decoded(s, c, op, func(body []byte) (gateway.DeleteRequest, error) {
		return gateway.DecodeDelete(body, s.opts.Limits)
	})
	if !ok {
		return
	}
	if !s.allowTable(c, p, op, req.Table) {
		return
	}
	out, err := res.DB.Delete(c.Request.Context(), req)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	s.invalidate(c.Request.Context(), res, req.Table)
	newSuccess("Data deleted successfully").
		raw("data", out.Rows).
		int("count", out.Affected).
		int("affected_rows", out.Affected).
		send(c, 200)
}
