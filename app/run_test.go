package app

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"

	"github.com/athena-gateway/athena/config"
)

// brokenListener accepts nothing: Accept fails at once with a permanent
// error, as a listener whose socket died does.
type brokenListener struct{ net.Listener }

func (brokenListener) Accept() (net.Conn, error) { return nil, errors.New("accept: socket is gone") }

// TestServeFailureEndsProcess: when the HTTP server stops serving on its
// own, the process ends with exit code 1 instead of running on without it.
func TestServeFailureEndsProcess(t *testing.T) {
	orig := listen
	t.Cleanup(func() { listen = orig })
	listen = func(network, addr string) (net.Listener, error) {
		ln, err := orig(network, "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		return brokenListener{ln}, nil
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := config.Default()
	role := fx.Options(
		fx.Supply(cfg, log, gin.New()),
		fx.Provide(newHTTPServer),
		fx.Invoke(func(*http.Server) {}),
		fxLogger(),
	)
	// No signal ever arrives: only the Shutdowner can end the run.
	if code := run(role, log, io.Discard, make(chan os.Signal)); code != 1 {
		t.Fatalf("exit code %d, want 1; logs:\n%s", code, logs.String())
	}
	if !bytes.Contains(logs.Bytes(), []byte("http server stopped")) {
		t.Errorf("the failure is not logged:\n%s", logs.String())
	}
}
