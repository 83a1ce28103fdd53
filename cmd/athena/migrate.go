package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/postgres"
)

// migrateCommand applies the embedded control-plane migrations to the
// logging database: the client named by control_plane.client, or
// --database-url. Safe to run while gateways are up (migrations are
// advisory-locked and idempotent).
func migrateCommand(args []string, stdout, stderr io.Writer) int {
	var dbURL string
	cfg, _, code := parse("migrate", args, stderr, "text", func(fs *flag.FlagSet) {
		fs.StringVar(&dbURL, "database-url", "", "logging database URI (default: the control_plane.client entry of postgres_clients)")
	})
	if code >= 0 {
		return code
	}
	if dbURL == "" {
		c, ok := cfg.Clients[cfg.ControlPlane.Client]
		if !ok {
			fmt.Fprintf(stderr, "athena migrate: no logging database: configure postgres_clients.%s or pass -database-url\n", cfg.ControlPlane.Client)
			return exitUsage
		}
		dbURL = c.URI
	}
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		fmt.Fprintln(stderr, "athena migrate: the logging database URI cannot be parsed")
		return exitUsage
	}
	pc.MaxConns = 2
	pc.ConnConfig.ConnectTimeout = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		fmt.Fprintf(stderr, "athena migrate: %v\n", postgres.MapError(err))
		return 1
	}
	defer pool.Close()
	from, to, err := postgres.Migrate(ctx, pool)
	if err != nil {
		fmt.Fprintf(stderr, "athena migrate: %v\n", postgres.MapError(err).Error())
		return 1
	}
	if from == to {
		fmt.Fprintf(stdout, "logging database is up to date (version %d)\n", to)
	} else {
		fmt.Fprintf(stdout, "logging database migrated from version %d to %d\n", from, to)
	}
	return 0
}
