package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// TestRunAppEndsOnShutdowner: a component asking fx to shut down (the
// Temporal worker's OnFatalError does) stops the app and sets the exit code,
// without waiting for a signal.
func TestRunAppEndsOnShutdowner(t *testing.T) {
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
	if got := runApp(opts, log, io.Discard); got != 3 {
		t.Errorf("got exit code %d, want 3", got)
	}
	if !stopped {
		t.Error("the app was not stopped")
	}
}

func TestWorkerCommandFlags(t *testing.T) {
	var stderr bytes.Buffer
	if got := run([]string{"worker", "-h"}, io.Discard, &stderr); got != 0 {
		t.Errorf("worker -h: got exit code %d, want 0", got)
	}
	if !strings.Contains(stderr.String(), "-config") {
		t.Errorf("worker -h: got %q, want the flag list", stderr.String())
	}
	if got := run([]string{"worker", "extra"}, io.Discard, io.Discard); got != exitUsage {
		t.Errorf("worker extra: got exit code %d, want %d", got, exitUsage)
	}
}

func TestDevCommandHasTemporalFlags(t *testing.T) {
	var stderr bytes.Buffer
	run([]string{"dev", "-h"}, io.Discard, &stderr)
	for _, flag := range []string{"-persist", "-temporal-port", "-ui-port"} {
		if !strings.Contains(stderr.String(), flag) {
			t.Errorf("dev -h: no %s in %q", flag, stderr.String())
		}
	}
}
