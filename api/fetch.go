package api

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/fetch"
	"github.com/athena-gateway/athena/gateway"
)

// fetch serves POST /gateway/fetch and /gateway/data (spec §3.2). The whole
// response body is what the read cache stores, so a hit is one write of
// bytes; X-Athena-Cached and X-Athena-Cache-Outcome say how it was
// answered.
func (s *Server) fetch(c *gin.Context) error {
	res, p, err := s.begin(c)
	if err != nil {
		return err
	}
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	entry, err := s.decodeFetch(body, stripNullsHeader(c))
	if err != nil {
		return err
	}
	req := entry.req
	if err := s.allowTable(c, p, "fetch", req.Table); err != nil {
		return err
	}
	// The normalised form keys the cache and the DB's plan memo (nil when it
	// cannot be encoded: not cached). A read the cache will not keep whose
	// body is new skips it: encoding costs about as much as planning, and a
	// body seen once (ids that vary per request) would never reuse the plan.
	// A repeated body has it computed once, in its memo entry.
	nc := noCache(c)
	var norm []byte
	if (!nc && s.cache.Enabled(res.Scope)) || entry.repeated.Load() {
		norm, _ = entry.normalised()
	}
	answer, err := fetch.Reader{Cache: s.cache}.Read(c.Request.Context(), fetch.Input{
		Scope: res.Scope, DB: res.DB, Request: &entry.req,
		Normalised: norm, Body: body, NoCache: nc, Shape: entry.shape,
	})
	if err != nil {
		return err
	}
	c.Header("X-Athena-Cached", strconv.FormatBool(answer.Outcome.Hit()))
	c.Header("X-Athena-Cache-Outcome", string(answer.Outcome))
	c.Data(200, "application/json; charset=utf-8", answer.Body)
	return nil
}

// normalisedFetch is the cache's view of a request: the decoded request
// re-encoded as JSON. Decoding already settled everything that shapes the
// answer (aliases such as sortBy/sort_by, columns vs select, the
// strip_nulls body/header precedence, paging from current_page, the limit
// cap), so two bodies meaning the same read share an entry, and nothing
// outside the decoded request (besides the database scope and the data)
// can change the answer. Every field is exported and map keys are sorted,
// so the encoding is deterministic.
func normalisedFetch(req gateway.FetchRequest) ([]byte, bool) {
	b, err := json.Marshal(req)
	return b, err == nil
}

// noCache reports Cache-Control: no-cache (or no-store, or the HTTP/1.0
// Pragma: no-cache): the read goes to the database and is not stored.
func noCache(c *gin.Context) bool {
	for _, h := range [...]string{"Cache-Control", "Pragma"} {
		for _, v := range c.Request.Header.Values(h) {
			for d := range strings.SplitSeq(v, ",") {
				d = strings.TrimSpace(d)
				if strings.EqualFold(d, "no-cache") || strings.EqualFold(d, "no-store") {
					return true
				}
			}
		}
	}
	return false
}
