package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// errorBody is the spec §1.4 error envelope. Details and Hint are
// top-level because SDKs read them there (PostgreSQL's DETAIL and HINT, or
// a suggestion); they are left out when empty.
type errorBody struct {
	Status  string       `json:"status"`
	Message string       `json:"message"`
	Error   string       `json:"error"`
	Code    gateway.Code `json:"code"`
	Details string       `json:"details,omitempty"`
	Hint    string       `json:"hint,omitempty"`
	Data    errorData    `json:"data"`
}

type errorData struct {
	Operation string         `json:"operation"`
	Details   map[string]any `json:"details"`
}

// writeError is the one function that writes error responses; handlers
// return errors and Server.handle calls it. Internal errors are logged here
// (with the request id) and never shown to clients.
func writeError(c *gin.Context, log *slog.Logger, op string, err error) {
	// MapError passes domain errors through and turns pgx/PostgreSQL errors
	// into codes; anything else becomes internal_error.
	e := postgres.MapError(err)
	if e.Code == gateway.CodeInternal && log != nil {
		// The request id comes from the context (telemetry.ContextHandler).
		log.ErrorContext(c.Request.Context(), "request failed", "operation", op, "err", err)
	}
	detail := e.Detail
	if detail == "" {
		detail = e.Message
	}
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
		info.ErrorCode, info.ErrorMessage = string(e.Code), e.Message // for the request log
	}
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	if e.RetryAfter > 0 {
		c.Header("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(c, e.Code.Status(), errorBody{
		Status: "error", Message: e.Message, Error: detail, Code: e.Code,
		Details: e.Explanation, Hint: e.Hint,
		Data: errorData{Operation: op, Details: details},
	})
	c.Abort()
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeJSON encodes v without HTML escaping (rows may contain <, > and &
// that clients expect verbatim).
func writeJSON(c *gin.Context, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		buf.Reset()
		buf.WriteString(`{"status":"error","message":"internal error","error":"response encoding failed","code":"internal_error","data":{"operation":"encode","details":{}}}`)
		status = 500
	}
	c.Data(status, "application/json; charset=utf-8", bytes.TrimRight(buf.Bytes(), "\n"))
}

// successWriter assembles a success envelope around pre-encoded rows so the
// JSON PostgreSQL built is copied, not decoded and re-encoded.
type successWriter struct {
	buf *bytes.Buffer
}

func newSuccess(message string) successWriter {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	buf.WriteString(`{"status":"success","message":`)
	writeString(buf, message)
	return successWriter{buf: buf}
}

// raw adds "key":<already-encoded JSON>.
func (w successWriter) raw(key string, v []byte) successWriter {
	w.buf.WriteByte(',')
	writeString(w.buf, key)
	w.buf.WriteByte(':')
	if len(v) == 0 {
		w.buf.WriteString("null")
	} else {
		w.buf.Write(v)
	}
	return w
}

func (w successWriter) int(key string, n int64) successWriter {
	w.buf.WriteByte(',')
	writeString(w.buf, key)
	w.buf.WriteByte(':')
	w.buf.WriteString(strconv.FormatInt(n, 10))
	return w
}

func (w successWriter) str(key, v string) successWriter {
	w.buf.WriteByte(',')
	writeString(w.buf, key)
	w.buf.WriteByte(':')
	writeString(w.buf, v)
	return w
}

// value adds "key":<v encoded as JSON>.
func (w successWriter) value(key string, v any) successWriter {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte("null")
	}
	return w.raw(key, b)
}

// bytes finishes the envelope into a slice the caller owns (the read cache
// keeps it and shares it between requests, so it must not be the pooled
// buffer).
func (w successWriter) bytes() []byte {
	w.buf.WriteByte('}')
	out := bytes.Clone(w.buf.Bytes())
	bufPool.Put(w.buf)
	return out
}

func (w successWriter) send(c *gin.Context, status int) {
	w.buf.WriteByte('}')
	c.Data(status, "application/json; charset=utf-8", w.buf.Bytes())
	bufPool.Put(w.buf)
}

// writeString writes s as a JSON string. Envelope keys and messages are
// plain ASCII, so they skip the encoder.
func writeString(buf *bytes.Buffer, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // strings always marshal
			buf.Write(b)
			return
		}
	}
	buf.WriteByte('"')
	buf.WriteString(s)
	buf.WriteByte('"')
}
