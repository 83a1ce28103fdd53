package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/fx"
)

// Role is a process role (Serve, Worker, Dev) ready to run.
type Role = fx.Option

// exitUsage is the exit code for configuration the app cannot be built
// from (as cmd/athena's bad flags).
const exitUsage = 2

// Run starts role, waits for SIGINT/SIGTERM (handled once: later signals
// do not interrupt the stop) or a fatal failure reported through
// fx.Shutdowner (the HTTP server or the Temporal worker stopped), stops it
// and returns the process exit code.
func Run(role Role, log *slog.Logger, stderr io.Writer) int {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	// Stop, not Reset: a caller's own handler (athena dev keeps its cleanup
	// safe from a second Ctrl-C) stays in place.
	defer signal.Stop(sig)
	return run(role, log, stderr, sig)
}

// RunSignals is Run for a caller that owns the process's signal handling:
// the role stops at the first value received on sig.
func RunSignals(role Role, log *slog.Logger, stderr io.Writer, sig <-chan os.Signal) int {
	return run(role, log, stderr, sig)
}

// run is Run with the signal channel given (tests send on it).
func run(role Role, log *slog.Logger, stderr io.Writer, sig <-chan os.Signal) int {
	a := fx.New(role)
	if err := a.Err(); err != nil {
		fmt.Fprintf(stderr, "athena: %v\n", err)
		return exitUsage
	}
	startCtx, cancel := context.WithTimeout(context.Background(), a.StartTimeout())
	defer cancel()
	if err := a.Start(startCtx); err != nil {
		fmt.Fprintf(stderr, "athena: start: %v\n", err)
		return 1
	}
	exit := 0
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case s := <-a.Wait(): // fx.Shutdowner: the HTTP server or the worker failed
		exit = s.ExitCode
		log.Info("shutting down", "exit_code", exit)
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), a.StopTimeout())
	defer cancelStop()
	if err := a.Stop(stopCtx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return exit
}

// Running is a role started in this process by Start.
type Running struct{ app *fx.App }

// Start builds role and starts it without waiting for signals, filling
// each pointer in targets with the value of its type that the role
// provides (as fx.Populate does). It serves in-process tests and tools
// outside app, which do not import fx; stop the role with Stop.
func Start(ctx context.Context, role Role, targets ...any) (*Running, error) {
	a := fx.New(role, fx.Populate(targets...))
	if err := a.Start(ctx); err != nil {
		return nil, err
	}
	return &Running{app: a}, nil
}

// Stop stops a role started with Start.
func (r *Running) Stop(ctx context.Context) error { return r.app.Stop(ctx) }
