package api

import (
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// delete serves DELETE|POST /gateway/delete (spec §3.5).
func (s *Server) delete(c *gin.Context) error {
	res, p, req, err := decoded(s, c, func(body []byte) (gateway.DeleteRequest, error) {
		req, err := gateway.DecodeDelete(body, s.opts.Limits)
		headerStripNulls(c, body, &req.StripNulls)
		return req, err
	})
	if err != nil {
		return err
	}
	if err := s.allowTable(c, p, "delete", req.Table); err != nil {
		return err
	}
	out, err := res.DB.Delete(c.Request.Context(), req)
	if err != nil {
		return err
	}
	s.invalidate(c.Request.Context(), res, req.Table)
	newSuccess("Data deleted successfully").
		raw("data", out.Rows).
		int("count", out.Affected).
		int("affected_rows", out.Affected).
		send(c, 200)
	return nil
}
