package api

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

func TestRequestInfoReachesHandlers(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s := &Server{}
	e := gin.New()
	var got gateway.RequestInfo
	e.GET("/x", s.requestID, func(c *gin.Context) {
		if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
			got = *info
		}
	})
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("X-Request-Id", "rid-1")
	req.Header.Set("X-User-Id", "u-9")
	req.Header.Set("X-Organization-Id", "org\x01bad")
	req.Header.Set("X-Athena-Sdk", "athena-js/2.1.0")
	e.ServeHTTP(httptest.NewRecorder(), req)
	want := gateway.RequestInfo{RequestID: "rid-1", UserID: "u-9", SDK: "athena-js/2.1.0"}
	if got != want {
		t.Errorf("got %+v, want %+v (control characters dropped)", got, want)
	}
}

// TestNewRequestIDIsTimeOrderedUUIDv7: generated ids are version 7 UUIDs
// whose prefix is the creation time, so later ids sort after earlier ones
// (finding a request in the request log by time relies on it).
func TestNewRequestIDIsTimeOrderedUUIDv7(t *testing.T) {
	before := time.Now().UnixMilli()
	id := newRequestID()
	after := time.Now().UnixMilli()
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[14] != '7' || id[18] != '-' || id[23] != '-' || !strings.ContainsRune("89ab", rune(id[19])) {
		t.Fatalf("%q is not a version 7 UUID", id)
	}
	ms, err := strconv.ParseInt(id[0:8]+id[9:13], 16, 64)
	if err != nil || ms < before || ms > after {
		t.Fatalf("%q: timestamp %d not within [%d, %d] (%v)", id, ms, before, after, err)
	}
	prev := id
	seen := map[string]bool{id: true}
	for range 1000 {
		next := newRequestID()
		if next[:13] < prev[:13] || seen[next] {
			t.Fatalf("ids not time-ordered or not unique: %q after %q", next, prev)
		}
		seen[next] = true
		prev = next
	}
}
