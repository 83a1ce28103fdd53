package postgres

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Values decoded from JSON are bound as text: PostgreSQL then parses them
// with the target column's own input function, exactly as if they had been
// literals, and pgx sends a Go string in text format whatever the
// parameter's type. So "42" fills an integer, "2024-01-02" a date and
// "{1,2}" an integer[] without the gateway knowing any of those types.

// textValue renders a scalar (or a JSON object/array, as JSON text) for a
// bind parameter. nil stays nil, which binds SQL NULL.
func textValue(v any) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return x, nil
	case json.Number:
		return string(x), nil
	case bool:
		if x {
			return "true", nil
		}
		return "false", nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case map[string]any, []any:
		return jsonText(x)
	}
	return nil, fmt.Errorf("unsupported value of type %T", v)
}

// columnValue renders v for a column: a JSON array for an array column
// becomes a PostgreSQL array literal; everything else as textValue.
func columnValue(v any, col *columnMeta) (any, error) {
	if arr, ok := v.([]any); ok && col != nil && col.IsArray {
		return arrayLiteral(arr)
	}
	return textValue(v)
}

// jsonText marshals v without HTML escaping (the text is data, not markup).
func jsonText(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("encode json value: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// arrayLiteral renders a JSON array as a PostgreSQL array literal. Every
// element is double-quoted (the input function then accepts any element
// type), JSON null becomes an unquoted NULL, nested arrays become
// sub-arrays and objects become quoted JSON text (for jsonb[]).
func arrayLiteral(vals []any) (string, error) {
	var b strings.Builder
	if err := writeArrayLiteral(&b, vals, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeArrayLiteral(b *strings.Builder, vals []any, depth int) error {
	if depth > 6 { // PostgreSQL's MAXDIM
		return gateway.Errorf(gateway.CodeInvalidConditionValue, "array value nested too deeply")
	}
	b.WriteByte('{')
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		if v == nil {
			b.WriteString("NULL")
			continue
		}
		if sub, ok := v.([]any); ok {
			if err := writeArrayLiteral(b, sub, depth+1); err != nil {
				return err
			}
			continue
		}
		t, err := textValue(v)
		if err != nil {
			return err
		}
		b.WriteByte('"')
		s := t.(string)
		for i := 0; i < len(s); i++ {
			if s[i] == '"' || s[i] == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(s[i])
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return nil
}

// resultColumn is what decoding needs from a field description, copied out
// because pgconn reuses its description slices between results.
type resultColumn struct {
	name   string
	oid    uint32
	format int16
}

func columnsOf(fds []pgconn.FieldDescription) []resultColumn {
	cols := make([]resultColumn, len(fds))
	for i, fd := range fds {
		cols[i] = resultColumn{name: fd.Name, oid: fd.DataTypeOID, format: fd.Format}
	}
	return cols
}

// decodeRow turns one row of raw values into a map of JSON-friendly values.
func decodeRow(m *pgtype.Map, cols []resultColumn, raw [][]byte) (map[string]any, error) {
	row := make(map[string]any, len(cols))
	for i, c := range cols {
		v, err := resultValue(m, c.oid, c.format, raw[i])
		if err != nil {
			return nil, fmt.Errorf("decode column %q: %w", c.name, err)
		}
		row[c.name] = v
	}
	return row, nil
}

// resultValue decodes one raw value (text or binary) into something
// encoding/json renders the way clients expect: numbers stay exact
// (numeric → json.Number), uuid → canonical string, time → RFC 3339
// (dates as YYYY-MM-DD, timestamps without zone without offset),
// bytea → "\x<hex>", json/jsonb → decoded values with exact numbers,
// inet → address text, anything else → PostgreSQL's text form.
func resultValue(m *pgtype.Map, oid uint32, format int16, raw []byte) (any, error) {
	if raw == nil {
		return nil, nil
	}
	switch oid {
	case pgtype.JSONOID, pgtype.JSONBOID:
		if oid == pgtype.JSONBOID && format == pgtype.BinaryFormatCode {
			if len(raw) == 0 || raw[0] != 1 {
				return nil, fmt.Errorf("unknown jsonb format")
			}
			raw = raw[1:]
		}
		return decodeJSON(raw)
	}
	t, ok := m.TypeForOID(oid)
	if !ok {
		if format == pgtype.TextFormatCode {
			return string(raw), nil // enums, domains of unknown types, …
		}
		return byteaText(raw), nil
	}
	v, err := t.Codec.DecodeValue(m, oid, format, raw)
	if err != nil {
		return nil, err
	}
	return jsonFriendly(m, oid, v), nil
}

func decodeJSON(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode json: %w", err)
	}
	return v, nil
}

func byteaText(b []byte) string { return `\x` + hex.EncodeToString(b) }

// jsonFriendly converts a pgx-decoded value (see resultValue).
func jsonFriendly(m *pgtype.Map, oid uint32, v any) any {
	switch x := v.(type) {
	case nil, bool, string, int16, int32, int64, int, uint32, uint64:
		return v
	case float32:
		return finiteFloat(float64(x))
	case float64:
		return finiteFloat(x)
	case pgtype.Numeric:
		switch {
		case !x.Valid:
			return nil
		case x.NaN:
			return "NaN"
		case x.InfinityModifier == pgtype.Infinity:
			return "Infinity"
		case x.InfinityModifier == pgtype.NegativeInfinity:
			return "-Infinity"
		}
		s, err := x.Value()
		if err != nil {
			return nil
		}
		return json.Number(s.(string))
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case time.Time:
		switch oid {
		case pgtype.DateOID:
			return x.Format("2006-01-02")
		case pgtype.TimestampOID:
			return x.Format("2006-01-02T15:04:05.999999")
		}
		return x.Format(time.RFC3339Nano)
	case []byte:
		return byteaText(x)
	case netip.Prefix:
		if oid == pgtype.InetOID && x.IsSingleIP() {
			return x.Addr().String()
		}
		return x.String()
	case net.HardwareAddr:
		return x.String()
	case []any:
		elem := uint32(0)
		if t, ok := m.TypeForOID(oid); ok {
			if ac, ok := t.Codec.(*pgtype.ArrayCodec); ok && ac.ElementType != nil {
				elem = ac.ElementType.OID
			}
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonFriendly(m, elem, e)
		}
		return out
	case map[string]any:
		return x
	case fmt.Stringer:
		return x.String()
	}
	if oid != 0 {
		if buf, err := m.Encode(oid, pgtype.TextFormatCode, v, nil); err == nil {
			return string(buf)
		}
	}
	return fmt.Sprint(v)
}

// finiteFloat keeps NaN and ±Inf representable in JSON, as PostgreSQL spells them.
func finiteFloat(f float64) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return f
}
