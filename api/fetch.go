package api

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"

	"github.com/cespare/xxhash/v2"
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// fetch serves POST /gateway/fetch and /gateway/data (spec §3.2).
func (s *Server) fetch(c *gin.Context) {
	const op = "fetch"
	var body []byte // kept for the cache key
	res, p, req, ok := decoded(s, c, op, func(b []byte) (gateway.FetchRequest, error) {
		body = b
		return gateway.DecodeFetch(b, stripNullsHeader(c), s.opts.Limits)
	})
	if !ok {
		return
	}
	if !s.allowTable(c, p, op, req.Table) {
		return
	}
	out, err := res.DB.Fetch(c.Request.Context(), req)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	var grouped []gateway.Group
	if req.Post != nil {
		if grouped, err = postProcess(out.Rows, *req.Post); err != nil {
			writeError(c, s.log, op, err)
			return
		}
	}
	n := countRows(out.Rows)
	w := newSuccess("Fetched "+strconv.FormatInt(n, 10)+" rows").
		raw("data", out.Rows).
		str("cache_key", cacheKey(res.Scope, body))
	if out.Count != nil {
		w = w.int("count", *out.Count)
	}
	if req.Post != nil {
		w = w.value("post_processing", map[string]any{"grouped": grouped})
	}
	w.send(c, 200)
}

// postProcess decodes the rows (only when grouping was asked for) and groups
// them in the domain.
func postProcess(rows []byte, p gateway.PostProcessing) ([]gateway.Group, error) {
	var decoded []map[string]any
	dec := json.NewDecoder(bytes.NewReader(rows))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		return nil, gateway.Errorf(gateway.CodeInternal, "decode rows for post-processing: %v", err)
	}
	return gateway.PostProcess(decoded, p)
}

// cacheKey identifies a read: the client and the exact request body. The
// read cache (a later issue) will key on the normalised request instead.
func cacheKey(client string, body []byte) string {
	d := xxhash.New()
	_, _ = d.WriteString(client)
	_, _ = d.Write([]byte{0})
	_, _ = d.Write(body)
	var b [8]byte
	sum := d.Sum64()
	for i := 7; i >= 0; i-- {
		b[i] = byte(sum)
		sum >>= 8
	}
	return hex.EncodeToString(b[:])
}
