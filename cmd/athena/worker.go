package main

import (
	"io"

	"github.com/athena-gateway/athena/app"
)

// worker runs the Temporal worker only. It starts even when Temporal is
// unreachable and keeps retrying, so it can be started before the server.
func worker(args []string, stderr io.Writer) int {
	cfg, log, code := parse("worker", args, stderr, "json", nil)
	if code >= 0 {
		return code
	}
	log.Info("temporal worker", "address", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace)
	return runApp(app.Worker(app.Params{Config: cfg, Version: version, Logger: log}), log, stderr)
}
