package gateway

import (
	"encoding/json"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// Fetch shapes. Most fetches a client sends differ from the last one only
// in the values they compare (a read by id with a new id each time), so a
// memo keyed by the exact body never answers them and every request pays
// the whole strict decode. A shape is a body with the scalar literals that
// are condition values cut out ("eq_value" and "value" members holding a
// number or a plain string): two bodies of one shape decode to the same
// request except for those values. A FetchShape remembers the decoded
// request of one body and where each cut-out literal lands, so a body of
// the same shape is decoded by scanning it once (ScanFetchShape) and
// binding its literals (Bind) — with the same result the decoder gives,
// because:
//
//   - the bytes outside the slots are equal, and each slot holds a valid
//     literal of the same kind (a number the JSON grammar accepts, or a
//     string without escapes, control characters or invalid UTF-8, whose
//     decoded value is its bytes), so the body is valid JSON with the same
//     structure, fields and types as the remembered one;
//   - NewFetchShape only accepts a shape whose every slot became, alone, the
//     value of one comparison leaf (eq, neq, gt, gte, lt, lte, like, ilike),
//     which takes any number or string as it is: it decodes the body again
//     with a distinct sentinel in each slot, finds each sentinel in exactly
//     one such leaf, and checks that putting the body's own literals back
//     gives exactly the request the decoder returned for the body.
//
// Anything else (no slot, a literal elsewhere, an error) has no shape and
// is decoded in full every time.

// maxShapeSlots bounds the literals a shape cuts out.
const maxShapeSlots = 16

// ShapeSlot is one cut-out literal: its bytes in the body and its kind.
type ShapeSlot struct {
	Start, End int
	Str        bool // a string (bytes between the quotes), else a number
}

// ShapeScan is the slots found by scanning a body. Its array lives in the
// value, so a scan on the stack allocates nothing.
type ShapeScan struct {
	slots [maxShapeSlots]ShapeSlot
	n     int
}

// Slots returns the scan's slots in body order.
func (s *ShapeScan) Slots() []ShapeSlot { return s.slots[:s.n] }

// Markers stand for a slot in a shape key. A NUL byte never occurs in
// valid JSON (outside a string it is not whitespace; inside one it must
// be escaped), so no body's own bytes look like a marker.
const (
	markerNumber = "\x00N"
	markerString = "\x00S"
)

// ScanFetchShape scans body, returning its shape key appended to dst (a
// caller's stack buffer stays on the stack: dst only flows to the result)
// and recording its slots in s. ok is false when the body has no slot,
// too many, or cannot be scanned; a body that is not valid JSON may still
// scan, and then simply has no FetchShape.
func ScanFetchShape(body, dst []byte, s *ShapeScan) (key []byte, ok bool) {
	s.n = 0
	key = dst
	// valueOfSlotKey: the last token was the ':' after an "eq_value" or
	// "value" key, so a scalar literal now is a slot.
	valueOfSlotKey, slotKey := false, false
	for i := 0; i < len(body); {
		c := body[i]
		switch {
		case c == '"':
			j, escaped := i+1, false
			for j < len(body) && body[j] != '"' {
				if body[j] == '\\' {
					escaped = true
					j++
				}
				j++
			}
			if j >= len(body) {
				return key, false
			}
			str := body[i+1 : j]
			if valueOfSlotKey && !escaped && plainString(str) {
				if s.n == maxShapeSlots {
					return key, false
				}
				s.slots[s.n] = ShapeSlot{Start: i + 1, End: j, Str: true}
				s.n++
				key = append(key, markerString...)
				valueOfSlotKey, slotKey = false, false
				i = j + 1
				continue
			}
			name := string(str) // no allocation: compared only
			slotKey = !escaped && (name == "eq_value" || name == "value")
			valueOfSlotKey = false
			key = append(key, body[i:j+1]...)
			i = j + 1
			continue
		case c == '-' || (c >= '0' && c <= '9'):
			j := i
			for j < len(body) && isNumberByte(body[j]) {
				j++
			}
			if valueOfSlotKey && validNumber(body[i:j]) {
				if s.n == maxShapeSlots {
					return key, false
				}
				s.slots[s.n] = ShapeSlot{Start: i, End: j}
				s.n++
				key = append(key, markerNumber...)
			} else {
				key = append(key, body[i:j]...)
			}
			valueOfSlotKey, slotKey = false, false
			i = j
			continue
		case c == ':':
			valueOfSlotKey = slotKey
			slotKey = false
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			// whitespace keeps the state: `"value" : 1`
		case c == 0:
			return key, false // never valid JSON; keeps markers unambiguous
		default:
			valueOfSlotKey, slotKey = false, false
		}
		key = append(key, c)
		i++
	}
	return key, s.n > 0
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// plainString reports whether a string's raw bytes are its decoded value:
// no control characters and valid UTF-8 (escapes are ruled out before).
func plainString(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b)
}

// FetchShape is a remembered fetch of one shape (see ScanFetchShape). It is
// immutable and may be shared.
type FetchShape struct {
	// probe is the request decoded with a sentinel in every slot; paths[i]
	// leads through Conditions (and Children) to slot i's leaf.
	probe FetchRequest
	paths [][]int
	str   []bool // the slots' kinds
}

// Slots returns the number of slots of the shape.
func (f *FetchShape) Slots() int { return len(f.paths) }

// Sentinel returns the value slot i holds in the probe.
func (f *FetchShape) Sentinel(i int) any { return ShapeSentinel(i, f.str[i]) }

// Value returns slot i's value in req, a request bound from f.
func (f *FetchShape) Value(req *FetchRequest, i int) any {
	cs, path := req.Conditions, f.paths[i]
	for len(path) > 1 {
		cs, path = cs[path[0]].Children, path[1:]
	}
	return cs[path[0]].Value
}

// Probe returns the request decoded with the sentinel ShapeSentinel(i) in
// slot i. It is shared: only read it.
func (f *FetchShape) Probe() *FetchRequest { return &f.probe }

// ShapeSentinel is the value slot i of a kind holds in a shape's probe.
func ShapeSentinel(i int, str bool) any {
	if str {
		return "athena\u00b7shape\u00b7probe\u00b7" + strconv.Itoa(i)
	}
	return json.Number("-27182818284590452353602874713526624977572470936999" + strconv.Itoa(i))
}

// NewFetchShape returns the shape of body (scanned into sc), whose decoded
// request is req, or nil when body's slots are not all plain comparison
// values (see the package comment above).
func NewFetchShape(body []byte, sc *ShapeScan, req FetchRequest, stripNullsHeader *bool, lim Limits) *FetchShape {
	slots := sc.Slots()
	if len(slots) == 0 {
		return nil
	}
	probeBody := make([]byte, 0, len(body)+len(slots)*64)
	prev := 0
	for i, sl := range slots {
		probeBody = append(probeBody, body[prev:sl.Start]...)
		switch v := ShapeSentinel(i, sl.Str).(type) {
		case string:
			probeBody = append(probeBody, v...)
		case json.Number:
			probeBody = append(probeBody, v...)
		}
		prev = sl.End
	}
	probeBody = append(probeBody, body[prev:]...)
	probe, err := DecodeFetch(probeBody, stripNullsHeader, lim)
	if err != nil {
		return nil
	}
	f := &FetchShape{probe: probe, paths: make([][]int, len(slots)), str: make([]bool, len(slots))}
	for i, sl := range slots {
		f.str[i] = sl.Str
		want := ShapeSentinel(i, sl.Str)
		var found [][]int
		findLeaves(probe.Conditions, want, nil, &found)
		if len(found) != 1 {
			return nil
		}
		f.paths[i] = found[0]
	}
	if bound := f.Bind(body, slots); !reflect.DeepEqual(bound, req) {
		return nil
	}
	return f
}

// findLeaves appends the paths of the comparison leaves whose value is want.
func findLeaves(cs []Condition, want any, prefix []int, out *[][]int) {
	for i, c := range cs {
		path := append(append([]int(nil), prefix...), i)
		if c.IsGroup() {
			findLeaves(c.Children, want, path, out)
			continue
		}
		if c.Value != want {
			continue
		}
		switch c.Op {
		case OpEq, OpNeq, OpGt, OpGte, OpLt, OpLte, OpLike, OpIlike:
			*out = append(*out, path)
		default:
			*out = append(*out, nil, nil) // a slot anywhere else: no shape
		}
	}
}

// Bind returns the shape's request with the literals of body (a body of
// this shape, scanned into slots) in place of the sentinels. The result
// shares everything but the condition lists on the slots' paths with the
// shape, and nothing downstream modifies a request.
func (f *FetchShape) Bind(body []byte, slots []ShapeSlot) FetchRequest {
	req := f.probe
	req.Conditions = slices0(req.Conditions)
	for i, sl := range slots {
		var v any
		if sl.Str {
			v = string(body[sl.Start:sl.End])
		} else {
			v = json.Number(body[sl.Start:sl.End])
		}
		setLeaf(req.Conditions, f.paths[i], v)
	}
	return req
}

// setLeaf sets the value of the leaf at path in cs, which the caller owns;
// the Children lists on the way are copied first.
func setLeaf(cs []Condition, path []int, v any) {
	for len(path) > 1 {
		c := &cs[path[0]]
		c.Children = slices0(c.Children)
		cs, path = c.Children, path[1:]
	}
	cs[path[0]].Value = v
}

// slices0 copies a condition list (nil stays nil).
func slices0(cs []Condition) []Condition {
	if cs == nil {
		return nil
	}
	return append(make([]Condition, 0, len(cs)), cs...)
}
