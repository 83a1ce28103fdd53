package app

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx/fxtest"

	"github.com/athena-gateway/athena/config"
)

// TestConnectionCapAnswers503: with api.max_connections N, N idle
// connections are served; the next one reads a 503 with Retry-After instead
// of waiting in the accept queue, and closing one frees its slot.
func TestConnectionCapAnswers503(t *testing.T) {
	const capN = 3
	orig := listen
	t.Cleanup(func() { listen = orig })
	addr := make(chan string, 1)
	listen = func(network, _ string) (net.Listener, error) {
		ln, err := orig(network, "127.0.0.1:0")
		if err == nil {
			addr <- ln.Addr().String()
		}
		return ln, err
	}
	cfg := config.Default()
	cfg.API.MaxConnections = capN
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	engine.GET("/ping", func(c *gin.Context) { c.String(200, "pong") })
	lc := fxtest.NewLifecycle(t)
	newHTTPServer(httpServerIn{Lifecycle: lc, Config: cfg, Engine: engine, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	lc.RequireStart()
	t.Cleanup(lc.RequireStop)
	a := <-addr

	get := func(c net.Conn) *http.Response {
		t.Helper()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second)) // only catches a hang
		if _, err := io.WriteString(c, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatalf("write: %v", err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("read response: %v", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	dial := func() net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	held := make([]net.Conn, capN)
	for i := range held {
		held[i] = dial()
		// A request proves the server took the connection.
		if r := get(held[i]); r.StatusCode != 200 {
			t.Fatalf("connection %d: status %d", i+1, r.StatusCode)
		}
	}
	r := get(dial())
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("connection %d: status %d Retry-After %q, want 503 with Retry-After", capN+1, r.StatusCode, r.Header.Get("Retry-After"))
	}
	held[0].Close()
	// The server frees the slot when it sees the close; a few tries cover
	// that moment.
	for i := 0; ; i++ {
		if r := get(dial()); r.StatusCode == 200 {
			break
		}
		if i == 50 {
			t.Fatal("closing a connection did not free its slot")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDrainBoundedByShutdownTimeout: a request that never finishes does not
// make the HTTP drain spend the whole stop budget: after
// api.shutdown_timeout the server closes its connections and the stop hook
// returns success with the rest of the budget left for the hooks after it.
func TestDrainBoundedByShutdownTimeout(t *testing.T) {
	orig := listen
	t.Cleanup(func() { listen = orig })
	addr := make(chan string, 1)
	listen = func(network, _ string) (net.Listener, error) {
		ln, err := orig(network, "127.0.0.1:0")
		if err == nil {
			addr <- ln.Addr().String()
		}
		return ln, err
	}
	cfg := config.Default()
	cfg.API.ShutdownTimeout = 200 * time.Millisecond
	gin.SetMode(gin.TestMode)
	engine := gin.New()
	entered := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	engine.GET("/stuck", func(c *gin.Context) { close(entered); <-release })
	lc := fxtest.NewLifecycle(t)
	newHTTPServer(httpServerIn{Lifecycle: lc, Config: cfg, Engine: engine, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	lc.RequireStart()
	go func() { _, _ = http.Get("http://" + <-addr + "/stuck") }()
	<-entered
	// The stop budget is far longer than the drain may take.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := lc.Stop(ctx); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the drain used the whole stop budget")
	}
}
