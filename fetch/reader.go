// Package fetch is the read path of POST /gateway/fetch in one place: plan
// the fetch once (postgres.FetchPlan: statements, relations read, embeds),
// then cache → single flight → PostgreSQL → post-processing → the rendered
// success envelope. The transport calls Reader.Read once and writes the
// answer's bytes; it never sees SQL, pgx or the cache's key material.
package fetch

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// Reader answers fetches. The zero value (no cache) reads every time; it
// is a small value, safe to copy and for concurrent use.
type Reader struct {
	// Cache is the read cache; nil caches nothing (every answer is Bypass).
	Cache *cache.Cache
}

// Input is one fetch to answer.
type Input struct {
	// Scope identifies the database for the cache (api.Resolution.Scope).
	Scope string
	// DB runs the fetch.
	DB *postgres.DB
	// Request is the decoded request; it is only read.
	Request *gateway.FetchRequest
	// Normalised is the request in its normalised form (equal bytes, equal
	// answer for equal data): the cache key and the plan memo key. Nil
	// means it could not be computed: the read is then neither cached nor
	// its plan remembered.
	Normalised []byte
	// Body is the raw request body: it stands in for the normalised request
	// in the cache_key of a read the cache does not keep.
	Body []byte
	// NoCache is the caller's Cache-Control: no-cache.
	NoCache bool
	// Shape, when not nil, is the shape Request was bound from
	// (gateway.FetchShape): without a Normalised form, the plan is then
	// found by shape (postgres.DB.PlanFetchShape).
	Shape *gateway.FetchShape
}

// Answer is a rendered fetch response.
type Answer struct {
	// Body is the whole success envelope. It may be shared with the cache
	// and other readers: write it, never modify it.
	Body []byte
	// Outcome says how it was answered (X-Athena-Cache-Outcome).
	Outcome cache.Outcome
}

// Read answers in: the plan is built (or found in the DB's plan memo)
// once, its relations key the cache, and only a cache miss runs it.
//
// A fetch that cannot be planned (unknown table or column, bad embed) still
// goes through the cache's flight as a load that fails: errors are never
// stored, and each failing read counts as a load, as it did when
// validation happened inside the load.
func (r Reader) Read(ctx context.Context, in Input) (Answer, error) {
	var plan *postgres.FetchPlan
	var planErr error
	if in.Normalised == nil && in.Shape != nil {
		plan, planErr = in.DB.PlanFetchShape(ctx, in.Request, in.Shape)
	} else {
		plan, planErr = in.DB.PlanFetch(ctx, in.Request, in.Normalised)
	}
	read := cache.Read{Scope: in.Scope, Request: in.Body, NoCache: in.NoCache}
	if in.Normalised != nil && !in.NoCache && r.Cache.Enabled(in.Scope) {
		read.Request = in.Normalised
		switch {
		case planErr != nil:
			// No relations to key by; the load reports the error.
			read.Cacheable = true
		case !plan.Tables.Opaque:
			read.Tables, read.Cacheable = plan.Tables.Names, true
		}
	}
	body, outcome, err := r.Cache.Do(ctx, read, func(ctx context.Context, key cache.Key) ([]byte, error) {
		if planErr != nil {
			return nil, planErr
		}
		return render(ctx, in.DB, plan, in.Request.Post, key)
	})
	if err != nil {
		return Answer{}, err
	}
	return Answer{Body: body, Outcome: outcome}, nil
}

// The envelope is {"status":"success","message":"Fetched N rows","data":
// <rows>,"cache_key":"…"[,"count":N][,"post_processing":…]}. N is known only
// once the rows are in, so the rows are appended after room for the
// longest prefix and the prefix is written right-aligned in front of them:
// the rows are copied once, from the connection's buffer into the answer.
const (
	prefixHead = `{"status":"success","message":"Fetched `
	prefixTail = ` rows","data":`
	prefixRoom = len(prefixHead) + 20 + len(prefixTail) // 20: the longest int64
	// initialCap fits a typical short answer without growing; a bigger
	// one grows once, to its exact size (postgres.ReadFetch).
	initialCap = 1024
)

// render runs plan and renders the whole success envelope.
func render(ctx context.Context, db *postgres.DB, plan *postgres.FetchPlan, post *gateway.PostProcessing, key cache.Key) ([]byte, error) {
	buf, count, err := db.ReadFetch(ctx, plan, make([]byte, prefixRoom, initialCap))
	if err != nil {
		return nil, err
	}
	rows := buf[prefixRoom:]
	var processed []byte
	if post != nil {
		grouped, err := PostProcess(rows, *post)
		if err != nil {
			return nil, err
		}
		// As encoding/json renders it (HTML-escaped), like every
		// post_processing answer so far.
		if processed, err = json.Marshal(map[string]any{"grouped": grouped}); err != nil {
			processed = []byte("null")
		}
	}

	var head [prefixRoom]byte
	h := append(head[:0], prefixHead...)
	h = strconv.AppendInt(h, gateway.CountJSONArray(rows), 10)
	h = append(h, prefixTail...)
	start := prefixRoom - len(h)
	copy(buf[start:], h)

	var hexKey [16]byte
	hexKeyOf(&hexKey, key)
	buf = append(buf, `,"cache_key":"`...)
	buf = append(buf, hexKey[:]...)
	buf = append(buf, '"')
	if count != nil {
		buf = append(buf, `,"count":`...)
		buf = strconv.AppendInt(buf, *count, 10)
	}
	if processed != nil {
		buf = append(buf, `,"post_processing":`...)
		buf = append(buf, processed...)
	}
	buf = append(buf, '}')
	return buf[start:], nil
}

// hexKeyOf writes key.String() without allocating.
func hexKeyOf(dst *[16]byte, k cache.Key) {
	const digits = "0123456789abcdef"
	for i := range 8 {
		dst[2*i], dst[2*i+1] = digits[k[i]>>4], digits[k[i]&0xf]
	}
}

// PostProcess decodes the rows (only when grouping was asked for) and groups
// them in the domain.
func PostProcess(rows []byte, p gateway.PostProcessing) ([]gateway.Group, error) {
	var decoded []map[string]any
	dec := json.NewDecoder(bytes.NewReader(rows))
	dec.UseNumber()
	if err := dec.Decode(&decoded); err != nil {
		return nil, gateway.Errorf(gateway.CodeInternal, "decode rows for post-processing: %v", err)
	}
	return gateway.PostProcess(decoded, p)
}
