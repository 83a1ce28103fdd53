package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/devstack"
)

// temporalFlags are the dev command's flags for the embedded Temporal server.
type temporalFlags struct {
	persist bool
	port    int
	uiPort  int
}

func (f *temporalFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.persist, "persist", false, "keep Temporal workflows across restarts in <dir>/temporal/temporal.db (default: in memory)")
	fs.IntVar(&f.port, "temporal-port", devstack.DefaultTemporalPort, "port of the embedded Temporal server")
	fs.IntVar(&f.uiPort, "ui-port", devstack.DefaultTemporalUIPort, "port of the Temporal UI (0: no UI)")
}

// startLocalTemporal starts the embedded Temporal server (and UI) in the
// configured namespace and points cfg.Temporal at it.
func startLocalTemporal(ctx context.Context, dir string, f temporalFlags, cfg *config.Config, log *slog.Logger) (*devstack.LocalTemporal, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	start := time.Now()
	lt, err := devstack.StartTemporal(ctx, devstack.TemporalOptions{
		Dir:       filepath.Join(dir, "temporal"),
		Persist:   f.persist,
		Port:      f.port,
		UIPort:    f.uiPort,
		Namespace: cfg.Temporal.Namespace,
		Log:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded temporal: %w", err)
	}
	log.Info("embedded temporal started", "address", lt.Address(), "namespace", lt.Namespace(), "took", time.Since(start).Round(time.Millisecond))
	cfg.Temporal = config.Temporal{Address: lt.Address(), Namespace: lt.Namespace()}
	return lt, nil
}

func stopLocalTemporal(lt *devstack.LocalTemporal, log *slog.Logger) {
	if err := lt.Stop(); err != nil {
		log.Error("stop embedded temporal", "err", err)
	}
}

func printTemporalBanner(w io.Writer, lt *devstack.LocalTemporal) {
	store := "in memory (-persist keeps it)"
	if f := lt.DatabaseFile(); f != "" {
		store = f
	}
	fmt.Fprintf(w, "  temporal  %s   namespace %s, %s\n", lt.Address(), lt.Namespace(), store)
	if u := lt.UIURL(); u != "" {
		fmt.Fprintf(w, "  ui        %s\n", u)
	}
}
