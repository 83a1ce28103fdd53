package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"time"

	"github.com/athena-gateway/athena/app"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/devstack"
)

// devDemoDatabase is the database the demo client points at.
const devDemoDatabase = "athena_demo"

// dev runs the all-in-one stack. With no postgres_clients configured it
// creates (once) and starts a project-local PostgreSQL under <dir>/pg,
// seeds a demo database and registers it as client "demo".
func dev(args []string, stderr io.Writer) int {
	var dir string
	var pgPort, port int
	var tf temporalFlags
	cfg, log, code := parse("dev", args, stderr, "text", func(fs *flag.FlagSet) {
		fs.StringVar(&dir, "dir", ".athena", "directory for local state (PostgreSQL cluster, Temporal database with -persist)")
		fs.IntVar(&pgPort, "pg-port", 55432, "port of the project-local PostgreSQL")
		fs.IntVar(&port, "port", 0, "gateway port (default: api.port from config, 4052)")
		tf.register(fs)
	})
	if code >= 0 {
		return code
	}
	if port > 0 {
		cfg.API.Port = port
	}
	var local *devstack.LocalPostgres
	if len(cfg.Clients) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		var err error
		local, err = startLocalPostgres(ctx, dir, pgPort, &cfg, log)
		if err != nil {
			fmt.Fprintf(stderr, "athena dev: %v\n", err)
			return 1
		}
		defer func() {
			stopCtx, cancelStop := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancelStop()
			if err := local.Stop(stopCtx); err != nil {
				log.Error("stop local postgres", "err", err)
			}
		}()
	}
	lt, err := startLocalTemporal(dir, tf, &cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "athena dev: %v\n", err)
		return 1
	}
	defer stopLocalTemporal(lt, log) // after the app: the worker stops first
	redisLine := useRedisIfAnswering(&cfg, log)
	fmt.Fprintf(stderr, "\n  Athena dev stack\n  gateway   http://127.0.0.1:%d   (try: curl http://127.0.0.1:%d/health)\n", cfg.API.Port, cfg.API.Port)
	for _, name := range sortedClients(cfg) {
		fmt.Fprintf(stderr, "  client    %s\n", name)
	}
	printTemporalBanner(stderr, lt)
	fmt.Fprintf(stderr, "  redis     %s\n\n", redisLine)
	return runApp(app.Dev(app.Params{Config: cfg, Version: version, Logger: log}), log, stderr)
}

func startLocalPostgres(ctx context.Context, dir string, pgPort int, cfg *config.Config, log *slog.Logger) (*devstack.LocalPostgres, error) {
	abs, err := filepath.Abs(filepath.Join(dir, "pg"))
	if err != nil {
		return nil, err
	}
	log.Info("no postgres_clients configured: starting a project-local PostgreSQL", "dir", abs, "port", pgPort)
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: abs, Port: pgPort, Install: true, Log: log})
	if err != nil {
		return nil, fmt.Errorf("local postgres: %w", err)
	}
	if err := pg.EnsureDatabase(ctx, devDemoDatabase); err != nil {
		_ = pg.Stop(ctx)
		return nil, fmt.Errorf("local postgres: %w", err)
	}
	uri := pg.URI(devDemoDatabase)
	if err := devstack.SeedDemo(ctx, uri); err != nil {
		_ = pg.Stop(ctx)
		return nil, fmt.Errorf("seed demo database: %w", err)
	}
	cfg.Clients["demo"] = config.Client{URI: uri}
	// The logging (control-plane) database lives in the same cluster.
	logging := cfg.ControlPlane.Client
	if err := pg.EnsureDatabase(ctx, logging); err != nil {
		_ = pg.Stop(ctx)
		return nil, fmt.Errorf("local postgres: %w", err)
	}
	cfg.Clients[logging] = config.Client{URI: pg.URI(logging)}
	return pg, nil
}

func sortedClients(cfg config.Config) []string {
	out := make([]string, 0, len(cfg.Clients))
	for n := range cfg.Clients {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// useRedisIfAnswering keeps redis.url (REDIS_URL) only when Redis answers:
// the dev stack runs without it rather than failing. It returns the banner
// line.
func useRedisIfAnswering(cfg *config.Config, log *slog.Logger) string {
	if cfg.Redis.URL == "" {
		log.Info("REDIS_URL not set: running without Redis (the read cache is process-local)")
		return "not used (set REDIS_URL to use one)"
	}
	c, err := cache.NewRedis(cfg.Redis.URL)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = cache.Ping(ctx, c)
		cancel()
		_ = c.Close()
	}
	if err != nil {
		log.Warn("Redis does not answer: running without it (the read cache is process-local)", "err", err)
		cfg.Redis.URL = ""
		return "not answering: running without it"
	}
	log.Info("using Redis")
	return "connected"
}
