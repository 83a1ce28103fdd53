package api

import (
	"encoding/json"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// update serves POST /gateway/update (spec §3.4).
func (s *Server) update(c *gin.Context) error {
	res, p, req, err := decoded(s, c, func(body []byte) (gateway.UpdateRequest, error) {
		req, err := gateway.DecodeUpdate(body, s.opts.Limits)
		headerStripNulls(c, body, &req.StripNulls)
		return req, err
	})
	if err != nil {
		return err
	}
	if err := s.allowTable(c, p, "update", req.Table); err != nil {
		return err
	}
	out, err := res.DB.Update(c.Request.Context(), req)
	if err != nil {
		return err
	}
	s.invalidate(c.Request.Context(), res, req.Table)
	newSuccess("Data updated successfully").
		raw("data", out.Rows).
		int("count", out.Affected).
		int("affected_rows", out.Affected).
		send(c, 200)
	return nil
}

// bodyHasKey reports whether the JSON object body has a top-level key; used
// where the body must win over a header.
func bodyHasKey(body []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}
