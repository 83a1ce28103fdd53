package api

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
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
	ctx := c.Request.Context()
	// Uncached reads still answer a cache_key identifying the read: the
	// raw body stands in for the normalised request.
	r := cache.Read{Scope: res.Scope, Request: body, NoCache: noCache(c)}
	if !r.NoCache && s.cache.Enabled(res.Scope) {
		// Tables resolve from cached metadata; an error (unknown table, bad
		// embed) is left for the fetch itself to report, uncached.
		norm, normOK := entry.normalised()
		if t, err := res.DB.FetchTables(ctx, req); normOK && err == nil && !t.Opaque {
			r.Request, r.Tables, r.Cacheable = norm, t.Names, true
		}
	}
	answer, outcome, err := s.cache.Do(ctx, r, func(ctx context.Context, key cache.Key) ([]byte, error) {
		return fetchBody(ctx, res.DB, req, key.String())
	})
	if err != nil {
		return err
	}
	c.Header("X-Athena-Cached", strconv.FormatBool(outcome.Hit()))
	c.Header("X-Athena-Cache-Outcome", string(outcome))
	c.Data(200, "application/json; charset=utf-8", answer)
	return nil
}

// fetchBody runs the fetch and renders the whole success envelope.
func fetchBody(ctx context.Context, db *postgres.DB, req gateway.FetchRequest, key string) ([]byte, error) {
	out, err := db.Fetch(ctx, req)
	if err != nil {
		return nil, err
	}
	var grouped []gateway.Group
	if req.Post != nil {
		if grouped, err = postProcess(out.Rows, *req.Post); err != nil {
			return nil, err
		}
	}
	n := countRows(out.Rows)
	w := newSuccess("Fetched "+strconv.FormatInt(n, 10)+" rows").
		raw("data", out.Rows).
		str("cache_key", key)
	if out.Count != nil {
		w = w.int("count", *out.Count)
	}
	if req.Post != nil {
		w = w.value("post_processing", map[string]any{"grouped": grouped})
	}
	return w.bytes(), nil
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
