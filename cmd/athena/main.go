// Command athena is the Athena gateway. Subcommands pick the process role:
//
//	athena serve    HTTP gateway
//	athena worker   Temporal worker
//	athena dev      everything on a laptop: a project-local PostgreSQL with a
//	                demo client when none is configured, plus the gateway,
//	                the worker and an embedded Temporal server with its UI
//	athena version  print the version
//
// This package only parses flags and configuration; app/ wires the rest.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/app"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/telemetry"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

// exitUsage is the exit code for bad flags or configuration.
const exitUsage = 2

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer) {
	fmt.Fprint(w, `usage: athena <command> [flags]

commands:
  serve     run the HTTP gateway
  worker    run the Temporal worker
  dev       run the all-in-one dev stack (local PostgreSQL + demo client + gateway
            + worker + embedded Temporal server and UI)
  migrate   apply the logging database's migrations
  keys      create, list or revoke API keys (keys create|list|revoke)
  version   print the version

Run "athena <command> -h" for the command's flags.
`)
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "worker":
		return worker(args[1:], stderr)
	case "keys":
		return keysCommand(args[1:], stdout, stderr)
	case "migrate":
		return migrateCommand(args[1:], stdout, stderr)
	case "dev":
		return dev(args[1:], stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "athena", version)
		return 0
	case "help", "-h", "--help":
		usage(stdout)
		return 0
	default:
		fmt.Fprintf(stderr, "athena: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
}

// commonFlags are shared by the long-running roles.
type commonFlags struct {
	configPath string
	logFormat  string
	logLevel   string
}

func (f *commonFlags) register(fs *flag.FlagSet, defaultFormat string) {
	fs.StringVar(&f.configPath, "config", "", "configuration file (default: ATHENA_CONFIG_PATH, ./config.yaml, $XDG_CONFIG_HOME/athena/config.yaml, ~/.athena/config.yaml)")
	fs.StringVar(&f.logFormat, "log-format", envOr("ATHENA_LOG_FORMAT", defaultFormat), "log format: json or text")
	fs.StringVar(&f.logLevel, "log-level", envOr("ATHENA_LOG_LEVEL", "info"), "log level: debug, info, warn, error")
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func (f *commonFlags) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("invalid -log-level %q", f.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	// Every line logged with a request's context carries its identity.
	switch f.logFormat {
	case "json":
		return slog.New(telemetry.NewContextHandler(slog.NewJSONHandler(w, opts))), nil
	case "text":
		return slog.New(telemetry.NewContextHandler(slog.NewTextHandler(w, opts))), nil
	}
	return nil, fmt.Errorf("invalid -log-format %q (want json or text)", f.logFormat)
}

// makeHint tells how flags reach athena dev through `make run`.
func makeHint(name string) string {
	if name != "dev" {
		return ""
	}
	return "; through make: make run ARGS='-pg-port 55433'"
}

// parse parses flags and loads configuration; any problem is one line on
// stderr and exit code 2.
func parse(name string, args []string, stderr io.Writer, defaultFormat string, extra func(*flag.FlagSet)) (config.Config, *slog.Logger, int) {
	var cf commonFlags
	fs := flag.NewFlagSet("athena "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // a bad flag is one line, below; -h prints the flags
	cf.register(fs, defaultFormat)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(stderr)
			fs.Usage()
			return config.Config{}, nil, 0
		}
		fmt.Fprintf(stderr, "athena %s: %v (athena %s -h lists the flags%s)\n", name, err, name, makeHint(name))
		return config.Config{}, nil, exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "athena %s: unexpected argument %q\n", name, fs.Arg(0))
		return config.Config{}, nil, exitUsage
	}
	log, err := cf.logger(stderr)
	if err != nil {
		fmt.Fprintf(stderr, "athena %s: %v\n", name, err)
		return config.Config{}, nil, exitUsage
	}
	cfg, err := config.Load(cf.configPath, os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "athena %s: %v\n", name, err)
		return config.Config{}, nil, exitUsage
	}
	return cfg, log, -1
}

func serve(args []string, stderr io.Writer) int {
	cfg, log, code := parse("serve", args, stderr, "json", nil)
	if code >= 0 {
		return code
	}
	if len(cfg.Clients) == 0 {
		log.Warn("no postgres_clients configured: every gateway request will answer invalid_client")
	}
	return runApp(app.Serve(app.Params{Config: cfg, Version: version, Logger: log}), log, stderr)
}

// runApp runs a role until SIGINT/SIGTERM or a fatal failure (app.Run).
func runApp(role app.Role, log *slog.Logger, stderr io.Writer) int {
	gin.SetMode(gin.ReleaseMode)
	return app.Run(role, log, stderr)
}

// runAppSignals runs a role until a value arrives on sig or a fatal failure,
// for a caller that handles signals itself (app.RunSignals).
func runAppSignals(role app.Role, log *slog.Logger, stderr io.Writer, sig <-chan os.Signal) int {
	gin.SetMode(gin.ReleaseMode)
	return app.RunSignals(role, log, stderr, sig)
}
