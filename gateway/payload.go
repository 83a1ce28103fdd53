package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// payload is a decoded request body: the top-level object's members kept
// raw, so each field is decoded (with json.Number) only when asked for and
// its type errors carry the operation's own code.
//
// Strict bodies (spec §1.4): every lookup records the names asked for,
// present or not, so the decoder itself is the list of known fields. After
// a decoder ran, a present field it never asked for is refused
// (decodeStrict), with the closest asked-for name as a suggestion. A field
// a decoder starts reading is known from then on, with nothing to list
// elsewhere; a field accepted without effect is named with accept.
type payload struct {
	fields map[string]json.RawMessage
	code   Code      // the operation's payload code, for wrong field types
	asked  *askedLog // the names looked up; nil in a zero payload
}

// askedLog holds the field names a decoder looked up; buf spares the
// allocations of a growing slice for the usual few dozen names.
type askedLog struct {
	names []string
	buf   [32]string
}

// decodeStrict decodes body as one JSON object, reads it with read, and
// refuses it when it has a top-level field read never asked for.
//
// When read fails, it stopped early and has not asked for every name it
// knows, so an unasked field may yet be a good one: only a field that is a
// near miss of a name read did ask for ("condtions" for "conditions") is
// reported instead of read's error, because that typo is the likely cause
// ("update without conditions is refused").
func decodeStrict[T any](body []byte, code Code, read func(payload) (T, error)) (T, error) {
	var zero T
	p, err := decodePayload(body, code)
	if err != nil {
		return zero, err
	}
	v, err := read(p)
	if err != nil {
		if typos := p.nearMisses(); len(typos) > 0 {
			return zero, UnknownFields(code, typos, p.asked.names)
		}
		return zero, err
	}
	if err := p.unknownFields(); err != nil {
		return zero, err
	}
	return v, nil
}

// nearMisses returns the unasked fields of p that have a suggestion among
// the names asked for so far.
func (p payload) nearMisses() []string {
	var out []string
	for k := range p.fields {
		if !slices.Contains(p.asked.names, k) && Suggest(k, p.asked.names) != "" {
			out = append(out, k)
		}
	}
	return out
}

// accept marks names as known fields that have no effect here (the SDK
// sends them for other servers or for itself).
func (p payload) accept(names ...string) {
	if p.asked != nil {
		p.asked.names = append(p.asked.names, names...)
	}
}

// unknownFields refuses the fields of p that no lookup asked for.
func (p payload) unknownFields() error {
	var unknown []string
	for k := range p.fields {
		if p.asked == nil || !slices.Contains(p.asked.names, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	var known []string
	if p.asked != nil {
		known = p.asked.names
	}
	return UnknownFields(p.code, unknown, known)
}

// decodePayload checks that body is exactly one JSON object. Syntax errors
// and non-object bodies are CodeInvalidJSON whatever the operation.
func decodePayload(body []byte, code Code) (payload, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return payload{}, Errorf(CodeInvalidJSON, "request body is empty; expected a JSON object")
	}
	if trimmed[0] != '{' {
		return payload{}, Errorf(CodeInvalidJSON, "request body must be a JSON object")
	}
	fields := make(map[string]json.RawMessage, 8)
	dec := newReader(trimmed)
	defer dec.release()
	if err := readMembers(dec, trimmed, func(k string, v json.RawMessage) { fields[k] = v }); err != nil {
		return payload{}, err
	}
	if err := expectEnd(dec, "top-level object"); err != nil {
		return payload{}, err
	}
	asked := &askedLog{}
	asked.names = asked.buf[:0]
	return payload{fields: fields, code: code, asked: asked}, nil
}

// jsonErrText words a decoding error without Go type names.
func jsonErrText(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return fmt.Sprintf("%s (at byte %d)", syn.Error(), syn.Offset)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "unexpected end of input"
	}
	return err.Error()
}

// decodeJSON decodes raw into plain Go values, keeping numbers exact.
func decodeJSON(raw []byte) (any, error) {
	if v, ok := scalar(raw); ok {
		return v, nil
	}
	dec := newReader(raw)
	defer dec.release()
	v, err := readAny(dec)
	if err != nil {
		return nil, err
	}
	if err := expectEnd(dec, "value"); err != nil {
		return nil, err
	}
	return v, nil
}

// isNull reports whether raw is absent or the JSON literal null: SDKs send
// null for "not set", so both mean the same.
func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// raw returns the first of names present with a non-null value. Every one
// of names is recorded as asked for, so an alias that loses to an earlier
// name is still a known field.
func (p payload) raw(names ...string) (string, json.RawMessage) {
	p.accept(names...)
	for _, n := range names {
		if r, ok := p.fields[n]; ok && !isNull(r) {
			return n, r
		}
	}
	return "", nil
}

// has reports whether any of names is present and not null.
func (p payload) has(names ...string) bool {
	n, _ := p.raw(names...)
	return n != ""
}

// value decodes the first present field of names; nil when absent.
func (p payload) value(names ...string) (string, any, error) {
	n, r := p.raw(names...)
	if n == "" {
		return "", nil, nil
	}
	v, err := decodeJSON(r)
	return n, v, err
}

// str returns a string field ("" when absent); other types are refused.
func (p payload) str(names ...string) (string, error) {
	n, v, err := p.value(names...)
	if err != nil || n == "" {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", Errorf(p.code, "field %q must be a string, got %s", n, jsonKind(v))
	}
	return s, nil
}

// boolean returns a boolean field. The strings "true" and "false" are
// accepted because some SDKs forward query-string values untouched.
func (p payload) boolean(name string) (val, present bool, err error) {
	n, v, err := p.value(name)
	if err != nil || n == "" {
		return false, false, err
	}
	b, ok := asBool(v)
	if !ok {
		return false, false, Errorf(p.code, "field %q must be a boolean, got %s", n, jsonKind(v))
	}
	return b, true, nil
}

// asBool accepts a JSON boolean or the strings "true"/"false".
func asBool(v any) (bool, bool) {
	switch t := v.(type) {
	case bool:
		return t, true
	case string:
		switch strings.ToLower(strings.TrimSpace(t)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// nonNegInt returns an integer field that must be >= 0 (nil when absent).
// Numeric strings are accepted: query-string style SDKs send "10".
func (p payload) nonNegInt(names ...string) (*int64, error) {
	n, v, err := p.value(names...)
	if err != nil || n == "" {
		return nil, err
	}
	i, ok := asInt(v)
	if !ok || i < 0 {
		return nil, Errorf(p.code, "field %q must be a non-negative integer, got %s", n, jsonShort(v))
	}
	return &i, nil
}

// asInt accepts a JSON integer or a string holding one.
func asInt(v any) (int64, bool) {
	var s string
	switch t := v.(type) {
	case json.Number:
		s = t.String()
	case string:
		s = strings.TrimSpace(t)
	default:
		return 0, false
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, false
	}
	return i, true
}

// count decodes the `count` field: "exact", "planned", "estimated", or true
// (exact). false, null and "" mean no count.
func (p payload) count() (CountMode, error) {
	n, v, err := p.value("count")
	if err != nil || n == "" {
		return CountNone, err
	}
	switch t := v.(type) {
	case bool:
		if t {
			return CountExact, nil
		}
		return CountNone, nil
	case string:
		return parseCountMode(t, p.code)
	}
	return CountNone, Errorf(p.code, "field \"count\" must be \"exact\", \"planned\" or \"estimated\", got %s", jsonShort(v))
}

// parseCountMode maps the count words; case does not matter.
func parseCountMode(s string, code Code) (CountMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return CountNone, nil
	case "exact", "true":
		return CountExact, nil
	case "planned":
		return CountPlanned, nil
	case "estimated":
		return CountEstimated, nil
	}
	return CountNone, Errorf(code, "count must be \"exact\", \"planned\" or \"estimated\", got %q", s)
}

// table decodes table_name (or alias names) with schema_name into a TableRef.
func (p payload) table(names ...string) (TableRef, error) {
	name, err := p.str(names...)
	if err != nil {
		return TableRef{}, err
	}
	schema, err := p.str("schema_name")
	if err != nil {
		return TableRef{}, err
	}
	return ParseTableRef(name, schema, p.code)
}

// object decodes an object-valued field; absent → nil, other types refused.
func (p payload) object(names ...string) (string, map[string]any, error) {
	n, v, err := p.value(names...)
	if err != nil || n == "" {
		return "", nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "", nil, Errorf(p.code, "field %q must be an object, got %s", n, jsonKind(v))
	}
	return n, m, nil
}

// checkKeys validates every key of an object that will become a column name.
func checkKeys(m map[string]any, code Code, where string) error {
	for k := range m {
		if !ValidIdentifier(k) {
			return Errorf(code, "invalid column name %q in %s", k, where)
		}
	}
	return nil
}

// jsonKind names the JSON type of a decoded value for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// jsonShort renders a decoded value briefly for messages.
func jsonShort(v any) string {
	switch t := v.(type) {
	case string:
		return strconv.Quote(clip(t))
	case json.Number:
		return clip(t.String())
	case nil, bool:
		return fmt.Sprint(t)
	}
	return jsonKind(v)
}

// clip shortens user text echoed in messages so errors stay readable.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// member is one key/value of a JSON object, in document order.
type member struct {
	Key   string
	Value json.RawMessage
}

// orderedObject returns the members of a JSON object in document order;
// ok is false when raw is not an object. Order matters where it becomes
// output order (select) or statement text (where), which must be stable.
func orderedObject(raw json.RawMessage) (members []member, ok bool, err error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, false, nil
	}
	dec := newReader(t)
	defer dec.release()
	err = readMembers(dec, t, func(k string, v json.RawMessage) {
		members = append(members, member{Key: k, Value: v})
	})
	if err != nil {
		return nil, true, err
	}
	return members, true, nil
}

// rawArray splits a JSON array into its raw elements; ok is false when raw
// is not an array.
func rawArray(raw json.RawMessage) (elems []json.RawMessage, ok bool, err error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '[' {
		return nil, false, nil
	}
	dec := newReader(t)
	defer dec.release()
	if _, err := dec.ReadToken(); err != nil { // '['
		return nil, true, malformed(err)
	}
	for dec.PeekKind() != ']' {
		val, err := dec.ReadValue()
		if err != nil {
			return nil, true, malformed(err)
		}
		end := int(dec.InputOffset())
		elems = append(elems, t[end-len(val):end:end])
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, true, malformed(err)
	}
	return elems, true, nil
}

// within returns err with " in <where>" added to its message, keeping its
// code, so a nested parser's error says where in the request it happened.
func within(err error, where string) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	msg := e.Message + " in " + where
	return &Error{Code: e.Code, Message: msg, Detail: msg, Details: e.Details}
}
