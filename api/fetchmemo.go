package api

import (
	"sync"
	"sync/atomic"

	"github.com/athena-gateway/athena/gateway"
)

// fetchMemo remembers decoded fetch requests by their exact bytes (and the
// X-Strip-Nulls header, the only other decoding input). Decoding is a pure
// function of those, so a repeated body — a dashboard polling, a hot read
// the cache answers — skips the JSON parsing and grammar work, and its
// normalised cache form is computed once. Entries are immutable and shared:
// nothing downstream mutates a FetchRequest.
//
// The memo is bounded in entries and body size; when full it starts over,
// which keeps it cheap and its memory predictable (at most
// fetchMemoEntries × fetchMemoMaxBody bytes of keys).
type fetchMemo struct {
	mu sync.RWMutex
	// m holds one map per X-Strip-Nulls value (absent, false, true), keyed
	// by the body, so a lookup converts the body without allocating.
	m [3]map[string]*memoEntry
	n int // entries over all three maps
}

type memoEntry struct {
	req gateway.FetchRequest
	// repeated is set once the body has come again (a memo hit): only then
	// is an uncached read's normalised form worth computing (api/fetch.go).
	repeated atomic.Bool
	normMu   sync.Once
	norm     []byte
	normOK   bool
	// shape is the FetchShape req was bound from (nil when decoded in
	// full): its plan is found by shape.
	shape *gateway.FetchShape
}

const (
	fetchMemoEntries = 1024
	fetchMemoMaxBody = 2048
)

// variant is the index of the map for the strip-nulls header value.
func variant(stripNulls *bool) int {
	switch {
	case stripNulls == nil:
		return 0
	case *stripNulls:
		return 2
	}
	return 1
}

func (m *fetchMemo) get(v int, body []byte) *memoEntry {
	m.mu.RLock()
	e := m.m[v][string(body)] // no allocation: the conversion is only a lookup
	m.mu.RUnlock()
	return e
}

func (m *fetchMemo) put(v int, body []byte, e *memoEntry) {
	m.mu.Lock()
	if m.n >= fetchMemoEntries {
		m.m, m.n = [3]map[string]*memoEntry{}, 0
	}
	if m.m[v] == nil {
		m.m[v] = make(map[string]*memoEntry)
	}
	if _, ok := m.m[v][string(body)]; !ok {
		m.n++
	}
	m.m[v][string(body)] = e
	m.mu.Unlock()
}

// normalised returns the entry's cache form, computed on first use.
func (e *memoEntry) normalised() ([]byte, bool) {
	e.normMu.Do(func() {
		if b, ok := normalisedFetch(e.req); ok {
			e.norm, e.normOK = b, true
		}
	})
	return e.norm, e.normOK
}

// decodeFetch decodes body through the memo, then through the shape memo
// (a body that differs from a remembered one only in its condition values,
// see gateway.ScanFetchShape), else in full.
func (s *Server) decodeFetch(body []byte, stripNulls *bool) (*memoEntry, error) {
	v, memo := variant(stripNulls), len(body) <= fetchMemoMaxBody
	if !memo {
		req, err := gateway.DecodeFetch(body, stripNulls, s.opts.Limits)
		if err != nil {
			return nil, err
		}
		return &memoEntry{req: req}, nil
	}
	if e := s.fetchMemo.get(v, body); e != nil {
		if !e.repeated.Load() { // one store, not one per hit
			e.repeated.Store(true)
		}
		return e, nil
	}
	var sc gateway.ShapeScan
	var keyBuf [fetchMemoMaxBody]byte
	key, shaped := gateway.ScanFetchShape(body, keyBuf[:0], &sc)
	if shaped {
		if f, known := s.fetchShapes.get(v, key); f != nil {
			// Not remembered by its bytes: a body of a known shape is
			// cheap to bind again, and its values are likely new.
			return &memoEntry{req: f.Bind(body, sc.Slots()), shape: f}, nil
		} else if known {
			shaped = false // this shape has no FetchShape: decode in full
		}
	}
	req, err := gateway.DecodeFetch(body, stripNulls, s.opts.Limits)
	if err != nil {
		return nil, err // errors are not remembered: they are cheap to redo and rare
	}
	e := &memoEntry{req: req}
	s.fetchMemo.put(v, body, e)
	if shaped {
		s.fetchShapes.put(v, key, gateway.NewFetchShape(body, &sc, req, stripNulls, s.opts.Limits))
	}
	return e, nil
}

// shapeMemo remembers FetchShapes by shape key, per X-Strip-Nulls value; a
// nil entry remembers a shape that has none, so its bodies are not probed
// again. Bounded like fetchMemo: when full it starts over.
type shapeMemo struct {
	mu sync.RWMutex
	m  [3]map[string]*gateway.FetchShape
	n  int
}

const shapeMemoEntries = 256

func (m *shapeMemo) get(v int, key []byte) (f *gateway.FetchShape, known bool) {
	m.mu.RLock()
	f, known = m.m[v][string(key)] // no allocation: the conversion is only a lookup
	m.mu.RUnlock()
	return f, known
}

func (m *shapeMemo) put(v int, key []byte, f *gateway.FetchShape) {
	m.mu.Lock()
	if m.n >= shapeMemoEntries {
		m.m, m.n = [3]map[string]*gateway.FetchShape{}, 0
	}
	if m.m[v] == nil {
		m.m[v] = make(map[string]*gateway.FetchShape)
	}
	if _, ok := m.m[v][string(key)]; !ok {
		m.n++
	}
	m.m[v][string(key)] = f
	m.mu.Unlock()
}
