package api

import (
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// insert serves PUT|POST /gateway/insert (spec §3.3): one statement for a
// single row, a bulk array, or an upsert.
func (s *Server) insert(c *gin.Context) {
	const op = "insert"
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
	req, err := gateway.DecodeInsert(body, s.opts.Limits)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	res, err := db.Insert(c.Request.Context(), req)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Data inserted successfully").
		raw("data", res.Rows).
		int("count", res.Affected).
		send(c, 201)
}
