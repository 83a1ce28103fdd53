package api

import (
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// insert serves PUT|POST /gateway/insert (spec §3.3): one statement for a
// single row, a bulk array, or an upsert.
func (s *Server) insert(c *gin.Context) error {
	res, p, req, err := decoded(s, c, func(body []byte) (gateway.InsertRequest, error) {
		return gateway.DecodeInsert(body, s.opts.Limits)
	})
	if err != nil {
		return err
	}
	if err := s.allowTable(c, p, "insert", req.Table); err != nil {
		return err
	}
	out, err := res.DB.Insert(c.Request.Context(), req)
	if err != nil {
		return err
	}
	s.invalidate(c.Request.Context(), res, req.Table)
	newSuccess("Data inserted successfully").
		raw("data", out.Rows).
		int("count", out.Affected).
		send(c, 201)
	return nil
}
