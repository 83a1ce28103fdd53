package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// keysTimeout bounds one keys command, connection included.
const keysTimeout = 30 * time.Second

func keysUsage(w io.Writer) {
	fmt.Fprint(w, `usage: athena keys <command> [flags]

commands:
  create --name N [--client C] [--right R ...] [--description D] [--expires 720h]
            create an API key and print it once
  list      list API keys (never their secrets)
  revoke <public_id>
            revoke a key for good

The logging database is --database-url, else ATHENA_LOGGING_DATABASE_URL,
else the control_plane client (default athena_logging) of the configuration.
Migrations run first.
`)
}

// keysCommand runs "athena keys …": 0 on success, 1 when the operation
// failed, 2 for bad usage.
func keysCommand(args []string, stdout, stderr io.Writer) int {
	return keysRun(args, stdout, stderr, os.Getenv)
}

func keysRun(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		keysUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "create":
		return keysCreate(args[1:], stdout, stderr, getenv)
	case "list":
		return keysList(args[1:], stdout, stderr, getenv)
	case "revoke":
		return keysRevoke(args[1:], stdout, stderr, getenv)
	case "help", "-h", "--help":
		keysUsage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "athena keys: unknown command %q (want create, list or revoke)\n", args[0])
	return exitUsage
}

// dbFlags locate the logging database.
type dbFlags struct {
	databaseURL string
	configPath  string
}

func (f *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.databaseURL, "database-url", "", "logging database URL (default: ATHENA_LOGGING_DATABASE_URL, else the configured control_plane client)")
	fs.StringVar(&f.configPath, "config", "", "configuration file (default: ATHENA_CONFIG_PATH, ./config.yaml, …)")
}

// url resolves the logging database URL.
func (f *dbFlags) url(getenv func(string) string) (string, error) {
	if f.databaseURL != "" {
		return f.databaseURL, nil
	}
	if u := getenv("ATHENA_LOGGING_DATABASE_URL"); u != "" {
		return u, nil
	}
	cfg, err := config.Load(f.configPath, getenv)
	if err != nil {
		return "", err
	}
	name := cfg.ControlPlane.Effective(getenv).Client
	if c, ok := cfg.Clients[name]; ok && c.URI != "" {
		return c.URI, nil
	}
	return "", fmt.Errorf("no logging database: pass --database-url, set ATHENA_LOGGING_DATABASE_URL, or configure postgres_clients.%s", name)
}

// newKeysFlagSet makes a flag set that reports errors itself, as one line.
func newKeysFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("athena keys "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseKeysFlags parses flags and positional arguments in any order. It
// returns the positional arguments, or an exit code ≥ 0 when done.
func parseKeysFlags(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, int) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(stdout)
				fs.PrintDefaults()
				return nil, 0
			}
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			return nil, exitUsage
		}
		if fs.NArg() == 0 {
			return pos, -1
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// withStore connects, migrates and runs fn with the logging database's pool.
func withStore(d dbFlags, name string, stderr io.Writer, getenv func(string) string, fn func(context.Context, *pgxpool.Pool) error) int {
	url, err := d.url(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "athena keys %s: %v\n", name, err)
		return exitUsage
	}
	pc, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error would echo the URL, password included.
		fmt.Fprintf(stderr, "athena keys %s: the logging database URL cannot be parsed\n", name)
		return exitUsage
	}
	pc.MaxConns = 2
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), keysTimeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		fmt.Fprintf(stderr, "athena keys %s: %s\n", name, postgres.MapError(err).Error())
		return 1
	}
	defer pool.Close()
	if _, _, err := postgres.Migrate(ctx, pool); err != nil {
		fmt.Fprintf(stderr, "athena keys %s: %s\n", name, postgres.MapError(err).Error())
		return 1
	}
	if err := fn(ctx, pool); err != nil {
		fmt.Fprintf(stderr, "athena keys %s: %s\n", name, postgres.MapError(err).Error())
		return 1
	}
	return 0
}

// rightsFlag collects repeated --right flags.
type rightsFlag []string

func (r *rightsFlag) String() string { return strings.Join(*r, ",") }

func (r *rightsFlag) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if !auth.ValidRight(part) {
			return fmt.Errorf("invalid right %q", part)
		}
		*r = append(*r, part)
	}
	return nil
}

func keysCreate(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newKeysFlagSet("create")
	var d dbFlags
	d.register(fs)
	var rights rightsFlag
	name := fs.String("name", "", "key name (who or what uses it)")
	description := fs.String("description", "", "free text")
	client := fs.String("client", "", "bind the key to this client (default: valid for every client)")
	expires := fs.Duration("expires", 0, "lifetime, e.g. 720h (default: never expires)")
	fs.Var(&rights, "right", "grant a right, e.g. orders.read, users.*, gateway.query (repeatable, or comma-separated)")
	pos, code := parseKeysFlags(fs, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "athena keys create: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	if *client != "" && !gateway.ValidClientName(*client) {
		fmt.Fprintf(stderr, "athena keys create: invalid client name %q\n", *client)
		return exitUsage
	}
	if *expires < 0 {
		fmt.Fprintln(stderr, "athena keys create: --expires must be positive")
		return exitUsage
	}
	n := postgres.NewKey{Name: *name, Description: *description, ClientName: *client, Rights: rights}
	if *expires > 0 {
		t := time.Now().Add(*expires)
		n.ExpiresAt = &t
	}
	return withStore(d, "create", stderr, getenv, func(ctx context.Context, pool *pgxpool.Pool) error {
		if n.ClientName != "" {
			if err := clientExists(ctx, pool, n.ClientName, d.configPath, getenv); err != nil {
				return err
			}
		}
		k, plaintext, err := postgres.NewKeyStore(pool).CreateKey(ctx, n)
		if err != nil {
			return err
		}
		bound := "every client"
		if k.ClientName != "" {
			bound = "client " + k.ClientName
		}
		fmt.Fprintf(stderr, "created API key %s for %s with rights [%s]\n", k.PublicID, bound, strings.Join(k.Rights, " "))
		fmt.Fprintln(stderr, "warning: the key below is shown only this once; only a salted hash is stored. Keep it secret.")
		fmt.Fprintln(stdout, plaintext)
		return nil
	})
}

// clientExists fails unless name is a client a gateway would serve: a live
// row of athena_clients (database clients, and file clients mirrored there by
// every gateway start) or a postgres_clients entry of the configuration. A key
// bound to a misspelt client would otherwise be created and never work.
func clientExists(ctx context.Context, pool *pgxpool.Pool, name, configPath string, getenv func(string) string) error {
	_, err := postgres.NewClientStore(pool).Get(ctx, name)
	if err == nil {
		return nil
	}
	if e := postgres.MapError(err); e.Code != gateway.CodeNotFound {
		return err
	}
	if cfg, err := config.Load(configPath, getenv); err == nil {
		if _, ok := cfg.Clients[name]; ok {
			return nil
		}
	}
	return gateway.Errorf(gateway.CodeNotFound, "client %q does not exist (not in the logging database's athena_clients nor in postgres_clients); "+
		"add it first (POST /admin/clients, postgres_clients or ATHENA_CLIENT_%s), or leave out --client for a key valid for every client",
		name, strings.ToUpper(name))
}

func keysList(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newKeysFlagSet("list")
	var d dbFlags
	d.register(fs)
	pos, code := parseKeysFlags(fs, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) > 0 {
		fmt.Fprintf(stderr, "athena keys list: unexpected argument %q\n", pos[0])
		return exitUsage
	}
	return withStore(d, "list", stderr, getenv, func(ctx context.Context, pool *pgxpool.Pool) error {
		keys, err := postgres.NewKeyStore(pool).ListKeys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PUBLIC_ID\tNAME\tCLIENT\tSTATE\tEXPIRES\tLAST_USED\tRIGHTS")
		for _, k := range keys {
			client := k.ClientName
			if client == "" {
				client = "*"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.PublicID, orDash(k.Name), client, keyState(k, time.Now()),
				timeOrDash(k.ExpiresAt), timeOrDash(k.LastUsedAt), orDash(strings.Join(k.Rights, ",")))
		}
		return tw.Flush()
	})
}

func keyState(k auth.Key, now time.Time) string {
	switch {
	case k.RevokedAt != nil:
		return "revoked"
	case !k.Active:
		return "inactive"
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return "expired"
	}
	return "active"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func keysRevoke(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := newKeysFlagSet("revoke")
	var d dbFlags
	d.register(fs)
	pos, code := parseKeysFlags(fs, args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, "athena keys revoke: want exactly one public id")
		return exitUsage
	}
	id := pos[0]
	if p, err := auth.ParseKey(id); err == nil {
		id = p.PublicID // a whole key was pasted: revoke it, never echo it
	}
	if !auth.ValidPublicID(id) {
		fmt.Fprintln(stderr, "athena keys revoke: invalid public id (lowercase letters and digits)")
		return exitUsage
	}
	return withStore(d, "revoke", stderr, getenv, func(ctx context.Context, pool *pgxpool.Pool) error {
		k, err := postgres.NewKeyStore(pool).RevokeKey(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked API key %s at %s; running gateways stop accepting it within their key cache window (5s by default)\n",
			k.PublicID, timeOrDash(k.RevokedAt))
		return nil
	})
}
