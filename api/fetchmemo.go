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
	m  map[string]*memoEntry
}

type memoEntry struct {
	req gateway.FetchRequest
	// repeated is set once the body has come again (a memo hit): only then
	// is an uncached read's normalised form worth computing (api/fetch.go).
	repeated atomic.Bool
	normMu   sync.Once
	norm     []byte
	normOK   bool
}

const (
	fetchMemoEntries = 1024
	fetchMemoMaxBody = 2048
)

// key is the memo key for body under the strip-nulls header value.
func memoKey(body []byte, stripNulls *bool) (string, bool) {
	if len(body) > fetchMemoMaxBody {
		return "", false
	}
	prefix := "-"
	if stripNulls != nil {
		prefix = "f"
		if *stripNulls {
			prefix = "t"
		}
	}
	return prefix + string(body), true
}

func (m *fetchMemo) get(key string) *memoEntry {
	m.mu.RLock()
	e := m.m[key]
	m.mu.RUnlock()
	return e
}

func (m *fetchMemo) put(key string, e *memoEntry) {
	m.mu.Lock()
	if m.m == nil || len(m.m) >= fetchMemoEntries {
		m.m = make(map[string]*memoEntry, fetchMemoEntries)
	}
	m.m[key] = e
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

// decodeFetch decodes body through the memo.
func (s *Server) decodeFetch(body []byte, stripNulls *bool) (*memoEntry, error) {
	key, memo := memoKey(body, stripNulls)
	if memo {
		if e := s.fetchMemo.get(key); e != nil {
			if !e.repeated.Load() { // one store, not one per hit
				e.repeated.Store(true)
			}
			return e, nil
		}
	}
	req, err := gateway.DecodeFetch(body, stripNulls, s.opts.Limits)
	if err != nil {
		return nil, err // errors are not remembered: they are cheap to redo and rare
	}
	e := &memoEntry{req: req}
	if memo {
		s.fetchMemo.put(key, e)
	}
	return e, nil
}
