package gateway

import (
	"bytes"
	"encoding/json"
	"encoding/json/jsontext"
	"errors"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// The request path decodes every body, so JSON reading here is built on the
// streaming jsontext reader instead of encoding/json's reflection: a body's
// top-level fields are sliced out of the original bytes (no copies) and
// values decode straight into plain Go values. Numbers stay json.Number so
// they reach PostgreSQL exactly as sent.

// readOptions keep encoding/json's leniency: a repeated key takes the last
// value and invalid UTF-8 is replaced rather than refused.
var readOptions = []jsontext.Options{jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true)}

// reader is a pooled decoder with its byte source: decoding a body takes
// several readers, and a fresh jsontext.Decoder costs a handful of
// allocations.
type reader struct {
	*jsontext.Decoder
	src bytes.Reader
}

var readerPool = sync.Pool{New: func() any {
	r := &reader{}
	r.Decoder = jsontext.NewDecoder(&r.src, readOptions...)
	return r
}}

// newReader returns a pooled reader over raw; give it back with release.
func newReader(raw []byte) *reader {
	r := readerPool.Get().(*reader)
	r.src.Reset(raw)
	r.Reset(&r.src, readOptions...)
	return r
}

// release returns r to the pool. Nothing read from it may be used after
// (readMembers slices the caller's bytes, never the decoder's buffer).
func (r *reader) release() {
	r.src.Reset(nil)
	readerPool.Put(r)
}

// malformed turns a reader error into the client-facing invalid_json error.
func malformed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return Errorf(CodeInvalidJSON, "malformed JSON: unexpected end of input")
	}
	msg := strings.TrimPrefix(err.Error(), "jsontext: ")
	return Errorf(CodeInvalidJSON, "malformed JSON: %s", msg)
}

// readMembers calls fn for each member of the object at the reader's
// position, with the member's raw bytes sliced from src.
func readMembers(dec *reader, src []byte, fn func(key string, raw json.RawMessage)) error {
	if _, err := dec.ReadToken(); err != nil { // '{'
		return malformed(err)
	}
	for dec.PeekKind() != '}' {
		if dec.PeekKind() == 0 {
			_, err := dec.ReadToken()
			return malformed(err)
		}
		tok, err := dec.ReadToken()
		if err != nil {
			return malformed(err)
		}
		key := tok.String()
		val, err := dec.ReadValue()
		if err != nil {
			return malformed(err)
		}
		end := int(dec.InputOffset())
		fn(key, src[end-len(val):end:end])
	}
	if _, err := dec.ReadToken(); err != nil { // '}'
		return malformed(err)
	}
	return nil
}

// expectEnd checks that nothing but whitespace follows the value just read.
func expectEnd(dec *reader, what string) error {
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return Errorf(CodeInvalidJSON, "malformed JSON: unexpected data after the %s", what)
	}
	return nil
}

// readAny decodes the value at the reader's position.
func readAny(dec *reader) (any, error) {
	switch dec.PeekKind() {
	case '{':
		if _, err := dec.ReadToken(); err != nil {
			return nil, malformed(err)
		}
		m := map[string]any{}
		for dec.PeekKind() != '}' {
			if dec.PeekKind() == 0 {
				_, err := dec.ReadToken()
				return nil, malformed(err)
			}
			tok, err := dec.ReadToken()
			if err != nil {
				return nil, malformed(err)
			}
			key := tok.String() // a token is void after the next read
			v, err := readAny(dec)
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, malformed(err)
		}
		return m, nil
	case '[':
		if _, err := dec.ReadToken(); err != nil {
			return nil, malformed(err)
		}
		a := []any{}
		for dec.PeekKind() != ']' {
			if dec.PeekKind() == 0 {
				_, err := dec.ReadToken()
				return nil, malformed(err)
			}
			v, err := readAny(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := dec.ReadToken(); err != nil {
			return nil, malformed(err)
		}
		return a, nil
	}
	tok, err := dec.ReadToken()
	if err != nil {
		return nil, malformed(err)
	}
	switch tok.Kind() {
	case '"':
		return tok.String(), nil
	case '0':
		return json.Number(tok.String()), nil
	case 't':
		return true, nil
	case 'f':
		return false, nil
	case 'n':
		return nil, nil
	}
	return nil, Errorf(CodeInvalidJSON, "malformed JSON: unexpected %s", tok.Kind())
}

// scalar decodes the common simple literals (plain strings, numbers, true,
// false, null) without a reader; ok is false for anything else.
func scalar(raw []byte) (v any, ok bool) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return nil, false
	}
	switch t[0] {
	case '"':
		if len(t) < 2 || t[len(t)-1] != '"' {
			return nil, false
		}
		in := t[1 : len(t)-1]
		for _, c := range in {
			if c == '"' || c == '\\' || c < 0x20 {
				return nil, false
			}
		}
		if !utf8.Valid(in) {
			return nil, false
		}
		return string(in), true
	case 't':
		return true, string(t) == "true"
	case 'f':
		return false, string(t) == "false"
	case 'n':
		return nil, string(t) == "null"
	}
	if t[0] == '-' || (t[0] >= '0' && t[0] <= '9') {
		if validNumber(t) {
			return json.Number(string(t)), true
		}
	}
	return nil, false
}

// validNumber reports whether b is exactly one JSON number.
func validNumber(b []byte) bool {
	i := 0
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

// CountJSONArray counts the elements of a JSON array without decoding it:
// the read path and RPC answers count PostgreSQL's json_agg output this way.
func CountJSONArray(arr []byte) int64 {
	var n int64
	depth, inStr, esc, seen := 0, false, false, false
	for _, ch := range arr {
		if inStr {
			switch {
			case esc:
				esc = false
			case ch == '\\':
				esc = true
			case ch == '"':
				inStr = false
			}
			continue
		}
		switch ch {
		case '"':
			inStr = true
			if depth == 1 && !seen {
				seen = true
				n++
			}
		case '[', '{':
			if depth == 1 && !seen {
				seen = true
				n++
			}
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 1 {
				seen = false
			}
		case ' ', '\t', '\n', '\r':
		default:
			if depth == 1 && !seen {
				seen = true
				n++
			}
		}
	}
	return n
}
