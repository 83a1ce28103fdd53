package api

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/telemetry"
)

// requestID propagates a sane incoming X-Request-Id or makes one, and sets
// it on the response before anything else can fail.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if !validRequestID(id) {
		id = newRequestID()
	}
	c.Header("X-Request-Id", id)
	info := &gateway.RequestInfo{
		RequestID:      id,
		UserID:         headerValue(c, "X-User-Id"),
		OrganizationID: headerValue(c, "X-Organization-Id"),
		CompanyID:      headerValue(c, "X-Company-Id"),
		SDK:            headerValue(c, "X-Athena-Sdk"),
		BackendType:    headerValue(c, "X-Backend-Type"),
	}
	c.Request = c.Request.WithContext(gateway.WithRequestInfo(c.Request.Context(), info))
	c.Next()
}

// headerValue returns a header bounded to 256 visible ASCII characters (the
// value goes into logs and audit rows); anything else is dropped.
func headerValue(c *gin.Context, name string) string {
	v := c.GetHeader(name)
	if len(v) > 256 {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return ""
		}
	}
	return v
}

// validRequestID accepts up to 128 visible ASCII characters, so a header
// cannot inject control characters into logs.
func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID makes a version 7 UUID: 48 bits of Unix milliseconds, then
// random bits. The time prefix tells when the request arrived, so a search
// for one request in the request log can be bounded by created_at (its
// BRIN index) instead of needing a btree on request_id, which cost more
// per logged row than any other part of the log. Request ids need to be
// unique, not unguessable, so the fast runtime-seeded generator serves.
func newRequestID() string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(time.Now().UnixMilli())<<16|rand.Uint64()&0xffff)
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	b[6] = b[6]&0x0f | 0x70
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// recoverPanic turns a panic into a 500 envelope; the stack goes to the log
// only.
func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if r == http.ErrAbortHandler {
				panic(r)
			}
			s.log.ErrorContext(c.Request.Context(), "panic in handler", "panic", r, "stack", string(debug.Stack()))
			writeError(c, nil, "request", gateway.Errorf(gateway.CodeInternal, "internal error"))
		}
	}()
	c.Next()
}

// readBody reads the whole body up to the configured limit; larger bodies
// are 413 payload_too_large.
func (s *Server) readBody(c *gin.Context) ([]byte, error) {
	if c.Request.ContentLength > s.opts.BodyLimitBytes {
		return nil, tooLarge(s.opts.BodyLimitBytes)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.BodyLimitBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(s.opts.BodyLimitBytes)
		}
		return nil, gateway.Errorf(gateway.CodeInvalidJSON, "request body could not be read")
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return gateway.Errorf(gateway.CodePayloadTooLarge, "request body exceeds the limit of %d bytes", limit).WithDetail("limit_bytes", limit)
}

// The request observers, each always present: newServer puts a no-op in
// place of a telemetry feature that is not configured, so observe never
// asks which are on. The no-ops are empty structs, so an absent feature
// costs a call through an interface and no allocation.
type (
	// requestRecorder records a request in the metrics; *telemetry.Metrics
	// implements it.
	requestRecorder interface {
		ObserveRequest(route, client string, status int, d time.Duration)
	}
	// requestLogger queues a request's log entries (logRequest).
	requestLogger interface {
		logRequest(c *gin.Context, info *gateway.RequestInfo, route string, status int, at time.Time, d time.Duration)
	}
	// requestCounter counts a request in the statistics; *telemetry.Stats
	// implements it.
	requestCounter interface {
		Record(client, table, operation string, status int, cached bool, at time.Time)
	}
)

type nopRecorder struct{}

func (nopRecorder) ObserveRequest(string, string, int, time.Duration) {}

type nopLogger struct{}

func (nopLogger) logRequest(*gin.Context, *gateway.RequestInfo, string, int, time.Time, time.Duration) {
}

type nopCounter struct{}

func (nopCounter) Record(string, string, string, int, bool, time.Time) {}

// observers fills s's observers from opts, no-ops for what is off, and
// reports whether any is on (observe is installed only then).
func (s *Server) observers(opts Options) bool {
	s.recorder, s.logger, s.counter = nopRecorder{}, nopLogger{}, nopCounter{}
	if opts.Metrics != nil {
		s.recorder = opts.Metrics
	}
	if opts.Logs != nil {
		s.logger = logWriter{opts.Logs}
	}
	if opts.Stats != nil {
		s.counter = opts.Stats
	}
	return opts.Metrics != nil || opts.Logs != nil || opts.Stats != nil
}

// observe records the request after it is answered: in the metrics, by
// route template (never the raw path, which would explode cardinality) and
// resolved client, and in the request log (which keeps the raw path). Log
// entries are only queued: nothing here waits on the logging database.
// engine installs it only when some telemetry is on.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	d := time.Since(start)
	route := canonicalRoute(c.FullPath())
	info := gateway.RequestInfoFrom(c.Request.Context())
	if info == nil {
		info = &gateway.RequestInfo{}
	}
	status := c.Writer.Status()
	label := route
	if label == "" {
		label = "unmatched"
	}
	s.recorder.ObserveRequest(label, info.Client, status, d)
	s.logger.logRequest(c, info, route, status, start.Add(d), d)
	// One count per request, keyed by client and, for gateway operations,
	// by table and operation (statistics are rebuilt from the request log
	// with the same rule).
	op, _ := gatewayOperation(route)
	s.counter.Record(info.Client, info.Table, op, status, c.Writer.Header().Get("X-Athena-Cached") == "true", start.Add(d))
}

// logWriter is the requestLogger over the telemetry log writer.
type logWriter struct{ w *telemetry.LogWriter }

// logRequest queues the request's log entries. It reads only what is
// already at hand (headers, the request info, the status): the response
// body is never parsed, so error carries the status text; the machine
// code and message are in the response the client got.
func (l logWriter) logRequest(c *gin.Context, info *gateway.RequestInfo, route string, status int, at time.Time, d time.Duration) {
	errText, message := info.ErrorCode, info.ErrorMessage
	if status >= 400 && errText == "" {
		errText = http.StatusText(status)
	}
	l.w.Request(telemetry.RequestEntry{
		RequestID:      info.RequestID,
		Time:           at,
		Client:         info.Client,
		Method:         c.Request.Method,
		Path:           c.Request.URL.Path,
		Status:         status,
		Duration:       d,
		IPv4:           c.ClientIP(),
		UserAgent:      c.Request.UserAgent(),
		UserID:         info.UserID,
		CompanyID:      info.CompanyID,
		OrganizationID: info.OrganizationID,
		APIKeyID:       info.KeyID,
		Cached:         c.Writer.Header().Get("X-Athena-Cached") == "true",
		Error:          errText,
		Message:        message,
	})
	// One operation per /gateway/* request, named by the route's last
	// segment (fetch, insert, transaction, ...). The handlers know the
	// table and row count; until they report them these stay NULL.
	if op, ok := gatewayOperation(route); ok {
		l.w.Operation(telemetry.OperationEntry{
			RequestID: info.RequestID,
			Time:      at,
			Client:    info.Client,
			Operation: op,
			Table:     info.Table,
			Status:    status,
			Duration:  d,
			Rows:      -1,
			Error:     errText,
			Message:   message,
		})
	}
}

// gatewayOperation names the operation of a gateway route template, with
// the aliases folded into the operation they run.
func gatewayOperation(route string) (string, bool) {
	switch route {
	case "/gateway/data":
		return "fetch", true
	case "/gateway/sql", "/query/sql":
		return "query", true
	}
	if op, ok := strings.CutPrefix(route, "/gateway/"); ok {
		return op, true
	}
	return "", false
}

// metrics serves GET /metrics (Prometheus text format); without
// Options.Metrics the route answers that metrics are not enabled
// (routes.go), so opts.Metrics is set here.
func (s *Server) metrics(c *gin.Context) error {
	s.opts.Metrics.Handler().ServeHTTP(c.Writer, c.Request)
	return nil
}
