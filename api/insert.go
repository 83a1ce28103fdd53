package api

import (
	"encoding/json"
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// insert serves PUT|POST /gateway/insert (spec §3.3): one statement for a
// single row, a bulk array, or an upsert. data is the row object when
// insert_body was one object, the row array when it was an array.
func (s *Server) insert(c *gin.Context) error {
	res, p, req, err := decoded(s, c, func(body []byte) (gateway.InsertRequest, error) {
		req, err := gateway.DecodeInsert(body, s.opts.Limits)
		headerStripNulls(c, body, &req.StripNulls)
		return req, err
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
	data, err := insertData(req, out.Rows)
	if err != nil {
		return err
	}
	newSuccess("Data inserted successfully").
		raw("data", data).
		int("count", out.Affected).
		send(c, 201)
	return nil
}

// insertData is an insert's data as the route and a transaction answer it:
// the returned rows, or for a one-object insert_body the one row (null when
// a conflict skipped it).
func insertData(req gateway.InsertRequest, rows json.RawMessage) (json.RawMessage, error) {
	if !req.Single {
		return rows, nil
	}
	row, err := gateway.SingleRow(rows)
	if err != nil {
		return nil, fmt.Errorf("inserted row: %w", err)
	}
	return row, nil
}
