package app

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"testing"

	"github.com/gin-gonic/gin"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

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

// TestRunEndsOnShutdowner: a component asking fx to shut down (the Temporal
// worker's OnFatalError does) stops the app and sets the exit code, without
// waiting for a signal. (Moved from cmd/athena, which runs roles through
// Run and imports no fx.)
func TestRunEndsOnShutdowner(t *testing.T) {
	stopped := false
	opts := fx.Options(
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
		fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner) {
			lc.Append(fx.Hook{
				OnStart: func(context.Context) error { return sd.Shutdown(fx.ExitCode(3)) },
				OnStop:  func(context.Context) error { stopped = true; return nil },
			})
		}),
	)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if got := Run(opts, log, io.Discard); got != 3 {
		t.Errorf("got exit code %d, want 3", got)
	}
	if !stopped {
		t.Error("the app was not stopped")
	}
}
