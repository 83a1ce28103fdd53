package api

import (
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// insert serves PUT|POST /gateway/insert (spec §3.3): one statement for a
// single row, a bulk array, or an upsert.
func (s *Server) insert(c *gin.Context) {
	const op = "insert"
	res, p, req, ok := decoded(s, c, op, func(body []byte) (gateway.InsertRequest, error) {
		return gateway.DecodeInsert(body, s.opts.Limits)
	})
	if !ok {
		return
	}
	if !s.allowTable(c, p, op, req.Table) {
		return
	}
	out, err := res.DB.Insert(c.Request.Context(), req)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	s.invalidate(c.Request.Context(), res, req.Table)
	newSuccess("Data inserted successfully").
		raw("data", out.Rows).
		int("count", out.Affected).
		send(c, 201)
}
