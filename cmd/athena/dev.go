package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/athena-gateway/athena/app"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/devstack"
)

// devDemoDatabase is the database the demo client points at.
const devDemoDatabase = "athena_demo"

// devDemoClient is the client name of the seeded demo database.
const devDemoClient = "demo"

// devDefaultHost is where athena dev listens unless -host says otherwise:
// the stack is open (no API keys, direct URIs on), so only this machine may
// reach it. api.host is serve's setting and does not apply here.
const devDefaultHost = "127.0.0.1"

// devLoopback is the allow-list athena dev gives direct URIs: the local
// cluster and the developer's own databases on this machine.
var devLoopback = []string{"127.0.0.0/8", "::1/128", "localhost"}

// devDefaults applies what makes the dev stack a demo: it listens on host,
// runs without API keys unless api_keys.required is set, and accepts
// direct-URI headers for loopback hosts unless gateway.direct_uri names its
// own allow-list. The banner reports each.
func devDefaults(cfg *config.Config, host string) {
	cfg.API.Host = host
	if cfg.APIKeys.Required == nil {
		off := false
		cfg.APIKeys.Required = &off
	}
	if len(cfg.Gateway.DirectURI.AllowedHosts) == 0 {
		cfg.Gateway.DirectURI = config.DirectURI{Enabled: true, AllowedHosts: devLoopback}
	}
}

// dev runs the all-in-one stack. Unless the configuration names the
// control-plane client, it creates (once) and starts a project-local
// PostgreSQL under <dir>/pg holding the logging database and a seeded demo
// database (client "demo"); configured clients are served beside them.
func dev(args []string, stderr io.Writer) int {
	var dir, host string
	var pgPort, port int
	var tf temporalFlags
	cfg, log, code := parse("dev", args, stderr, "text", func(fs *flag.FlagSet) {
		fs.StringVar(&dir, "dir", ".athena", "directory for local state (PostgreSQL cluster, Temporal database with -persist)")
		fs.IntVar(&pgPort, "pg-port", devstack.DefaultPostgresPort, "port of the project-local PostgreSQL")
		fs.IntVar(&port, "port", 0, "gateway port (default: api.port from config, 4052)")
		fs.StringVar(&host, "host", envOr("ATHENA_DEV_HOST", devDefaultHost), "address the gateway listens on (env ATHENA_DEV_HOST); the dev stack runs without API keys, so anything but loopback exposes its databases")
		tf.register(fs)
	})
	if code >= 0 {
		return code
	}
	if port > 0 {
		cfg.API.Port = port
	}
	devDefaults(&cfg, host)

	// Signals are this function's from here to its last cleanup: the first
	// one interrupts the start or stops the stack; later ones are only
	// logged, so a second Ctrl-C cannot skip stopping the local PostgreSQL.
	ctx, interrupted := context.WithCancel(context.Background())
	defer interrupted()
	appSig := make(chan os.Signal, 1)
	stopSignals := handleDevSignals(interrupted, appSig, log)
	defer stopSignals()

	if err := devPortsFree(cfg.API.Host, cfg.API.Port, tf); err != nil {
		fmt.Fprintf(stderr, "athena dev: %v\n", err)
		return 1
	}
	var local *devstack.LocalPostgres
	added := devLocalClients(cfg)
	if len(added) > 0 {
		startCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		var err error
		local, err = startLocalPostgres(startCtx, dir, pgPort, &cfg, log)
		if err != nil {
			fmt.Fprintf(stderr, "athena dev: %v%s\n", err, flagHint(err, "-pg-port", pgPort))
			return 1
		}
		defer func() {
			stopCtx, cancelStop := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancelStop()
			if err := local.Stop(stopCtx); err != nil {
				log.Error("stop local postgres", "err", err)
			}
		}()
	} else {
		log.Info("postgres_clients names the control-plane client: no local PostgreSQL and no demo client", "control_plane", cfg.ControlPlane.Client)
	}
	lt, err := startLocalTemporal(ctx, dir, tf, &cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "athena dev: %v%s\n", err, flagHint(err, "-temporal-port", tf.port))
		return 1
	}
	defer stopLocalTemporal(lt, log) // after the app: the worker stops first
	if ctx.Err() != nil {
		log.Info("interrupted while starting: stopping what started")
		return 1
	}
	redisLine := useRedisIfAnswering(&cfg, log)
	printDevBanner(stderr, cfg, local, added, lt, redisLine)
	return runAppSignals(app.Dev(app.Params{Config: cfg, Version: version, Logger: log}), log, stderr, appSig)
}

// handleDevSignals takes SIGINT and SIGTERM until the returned function is
// called (after the last cleanup), which ignores them until the process
// exits. The first signal cancels the start and is
// passed to the running app on appSig; later ones are logged and ignored.
func handleDevSignals(interrupt context.CancelFunc, appSig chan<- os.Signal, log *slog.Logger) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		first := true
		for {
			select {
			case s := <-sigs:
				if first {
					first = false
					interrupt()
					appSig <- s // buffered for exactly this one
					continue
				}
				log.Warn("already stopping: the cleanup continues and stops the local PostgreSQL before exiting", "signal", s.String())
			case <-done:
				return
			}
		}
	}()
	return func() {
		// Ignore, not Stop: the cleanup is done and the process is about to
		// exit 0; restoring the default action would let a signal that
		// arrives in between kill it instead.
		signal.Ignore(syscall.SIGINT, syscall.SIGTERM)
		signal.Stop(sigs)
		close(done)
		wg.Wait()
	}
}

// devLocalClients returns the clients the local cluster adds to cfg: the
// control plane and the demo database, each unless configured already. It is
// empty when the configuration names the control-plane client, which means
// the user runs the stack against databases of their own.
func devLocalClients(cfg config.Config) []string {
	if _, ok := cfg.Clients[cfg.ControlPlane.Client]; ok {
		return nil
	}
	added := []string{cfg.ControlPlane.Client}
	if _, ok := cfg.Clients[devDemoClient]; !ok {
		added = append(added, devDemoClient)
	}
	sort.Strings(added)
	return added
}

// devPortsFree checks the gateway and Temporal ports before anything starts,
// naming the flag that moves each one.
func devPortsFree(host string, apiPort int, tf temporalFlags) error {
	ports := []struct {
		flag string
		port int
	}{{"-port", apiPort}, {"-temporal-port", tf.port}, {"-ui-port", tf.uiPort}}
	for _, p := range ports {
		if p.port == 0 {
			continue
		}
		h := host
		if p.flag != "-port" || h == "" {
			h = "127.0.0.1"
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(p.port)))
		if err != nil {
			return fmt.Errorf("port %d is already in use (another athena dev?): stop that process or choose another port with %s, e.g. athena dev %s %d (through make: make run ARGS='%s %d')",
				p.port, p.flag, p.flag, p.port+1, p.flag, p.port+1)
		}
		ln.Close()
	}
	return nil
}

// flagHint names the flag that moves a port that was taken.
func flagHint(err error, flag string, port int) string {
	if !errors.Is(err, devstack.ErrPortInUse) {
		return ""
	}
	return fmt.Sprintf("; choose another port with %s, e.g. athena dev %s %d (through make: make run ARGS='%s %d')", flag, flag, port+1, flag, port+1)
}

func startLocalPostgres(ctx context.Context, dir string, pgPort int, cfg *config.Config, log *slog.Logger) (*devstack.LocalPostgres, error) {
	abs, err := filepath.Abs(filepath.Join(dir, "pg"))
	if err != nil {
		return nil, err
	}
	log.Info("starting a project-local PostgreSQL for the control plane and the demo client", "dir", abs, "port", pgPort)
	pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: abs, Port: pgPort, Install: true, Log: log})
	if err != nil {
		return nil, fmt.Errorf("local postgres: %w", err)
	}
	stop := func() { _ = pg.Stop(context.WithoutCancel(ctx)) }
	if _, ok := cfg.Clients[devDemoClient]; !ok {
		if err := pg.EnsureDatabase(ctx, devDemoDatabase); err != nil {
			stop()
			return nil, fmt.Errorf("local postgres: %w", err)
		}
		uri := pg.URI(devDemoDatabase)
		if err := devstack.SeedDemo(ctx, uri); err != nil {
			stop()
			return nil, fmt.Errorf("seed demo database: %w", err)
		}
		cfg.Clients[devDemoClient] = config.Client{URI: uri}
	} else {
		log.Info("postgres_clients configures a client named demo: it replaces the seeded demo database")
	}
	// The logging (control-plane) database lives in the same cluster.
	logging := cfg.ControlPlane.Client
	if err := pg.EnsureDatabase(ctx, logging); err != nil {
		stop()
		return nil, fmt.Errorf("local postgres: %w", err)
	}
	cfg.Clients[logging] = config.Client{URI: pg.URI(logging)}
	return pg, nil
}

// printDevBanner prints every address of the stack; the URIs of the local
// cluster's databases are printed whole (they hold no password), those of
// configured clients are not.
func printDevBanner(w io.Writer, cfg config.Config, local *devstack.LocalPostgres, added []string, lt *devstack.LocalTemporal, redisLine string) {
	fmt.Fprintf(w, "\n  Athena dev stack\n")
	printGatewayBanner(w, cfg)
	if local != nil {
		fmt.Fprintf(w, "  postgres  127.0.0.1:%d, cluster in %s\n", local.Port(), local.Dir())
	} else {
		fmt.Fprintf(w, "  postgres  no local cluster: postgres_clients names the control-plane client %s\n", cfg.ControlPlane.Client)
	}
	fromLocal := map[string]bool{}
	for _, n := range added {
		fromLocal[n] = true
	}
	for _, name := range sortedClients(cfg) {
		switch {
		case fromLocal[name] && name == cfg.ControlPlane.Client:
			fmt.Fprintf(w, "  client    %-16s %s   (control plane: athena keys --database-url)\n", name, cfg.Clients[name].URI)
		case fromLocal[name]:
			fmt.Fprintf(w, "  client    %-16s %s\n", name, cfg.Clients[name].URI)
		default:
			fmt.Fprintf(w, "  client    %-16s (configured)\n", name)
		}
	}
	printTemporalBanner(w, lt)
	fmt.Fprintf(w, "  redis     %s\n\n", redisLine)
}

// printGatewayBanner prints the address the gateway really binds, whether
// API keys are required and where direct URIs may point.
func printGatewayBanner(w io.Writer, cfg config.Config) {
	bind := net.JoinHostPort(cfg.API.Host, strconv.Itoa(cfg.API.Port))
	try := bind
	where := "loopback only; -host changes it"
	if ip, err := netip.ParseAddr(cfg.API.Host); cfg.API.Host == "" || (err == nil && ip.IsUnspecified()) {
		try = net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.API.Port))
		where = "EVERY interface: other machines reach it"
	} else if (err != nil || !ip.IsLoopback()) && !strings.EqualFold(cfg.API.Host, "localhost") {
		where = "reachable from other machines"
	}
	fmt.Fprintf(w, "  gateway   http://%s   (%s; try: curl http://%s/health)\n", bind, where, try)
	if cfg.APIKeys.KeysRequired(false) {
		fmt.Fprintf(w, "  api keys  required (api_keys.required is true)\n")
	} else {
		fmt.Fprintf(w, "  api keys  NOT required: requests without a key run with every right (set ATHENA_API_KEYS_REQUIRED=true to require them)\n")
	}
	if d := cfg.Gateway.DirectURI; d.Enabled {
		hosts := "any host"
		if len(d.AllowedHosts) > 0 {
			hosts = strings.Join(d.AllowedHosts, ", ")
		}
		fmt.Fprintf(w, "  direct    x-pg-uri / x-jdbc-url headers accepted for %s\n", hosts)
	}
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
