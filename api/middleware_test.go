package api

import (
	"net/http/httptest"
	"testing"

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
