package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uioptions "github.com/temporalio/ui-server/v2/server/server_options"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"
	sqliteschema "go.temporal.io/server/schema/sqlite"
	"go.temporal.io/server/temporal"
)

// temporalHost is the only interface the embedded server and UI listen on.
const temporalHost = "127.0.0.1"

// DefaultTemporalPort is the frontend port of the embedded Temporal server,
// the one every Temporal tool assumes.
const DefaultTemporalPort = 7233

// DefaultTemporalUIPort is where `temporal server start-dev` serves its UI;
// `athena dev` uses the same so bookmarks keep working.
const DefaultTemporalUIPort = 8233

// DefaultTemporalDir holds the SQLite file when TemporalOptions.Persist is set.
const DefaultTemporalDir = ".athena/temporal"

// temporalDBFile is the SQLite file inside TemporalOptions.Dir.
const temporalDBFile = "temporal.db"

// temporalStartTimeout bounds how long StartTemporal waits for the frontend
// and the UI to answer, when ctx has no earlier deadline.
const temporalStartTimeout = 60 * time.Second

// TemporalOptions configures StartTemporal.
type TemporalOptions struct {
	// Dir holds temporal.db when Persist is set. Default DefaultTemporalDir.
	Dir string
	// Persist keeps workflows across restarts in Dir/temporal.db; without it
	// the server runs on an in-memory SQLite database.
	Persist bool
	// Port is the frontend gRPC port on 127.0.0.1. Default
	// DefaultTemporalPort. The other services take free ports.
	Port int
	// UIPort serves the Temporal UI on 127.0.0.1; 0 means no UI.
	UIPort int
	// Namespace is registered at start. Default "default".
	Namespace string
	// Log receives the server's log lines at LogLevel and above. Nil discards.
	Log *slog.Logger
	// LogLevel filters the server's (chatty) logging. Default slog.LevelWarn.
	LogLevel *slog.Level
}

// LocalTemporal is an embedded Temporal server (all four services in this
// process, SQLite persistence) with, optionally, the Temporal UI.
type LocalTemporal struct {
	server    temporal.Server
	ui        *uiserver.Server
	uiDone    chan struct{}
	address   string
	uiURL     string
	namespace string
	dbFile    string
	logLevel  *slog.LevelVar
}

// Address is the frontend's host:port, for client.Options.HostPort.
func (t *LocalTemporal) Address() string { return t.address }

// UIURL is the Temporal UI's address, or "" without UI.
func (t *LocalTemporal) UIURL() string { return t.uiURL }

// Namespace is the namespace registered at start.
func (t *LocalTemporal) Namespace() string { return t.namespace }

// DatabaseFile is the SQLite file, or "" when the server runs in memory.
func (t *LocalTemporal) DatabaseFile() string { return t.dbFile }

// StartTemporal starts the server (and UI) and returns once the frontend
// answers health checks and the UI answers HTTP. The namespace exists by
// then. Stop it with Stop.
func StartTemporal(ctx context.Context, opts TemporalOptions) (*LocalTemporal, error) {
	if opts.Port == 0 {
		opts.Port = DefaultTemporalPort
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Dir == "" {
		opts.Dir = DefaultTemporalDir
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	level := &slog.LevelVar{}
	level.Set(slog.LevelWarn)
	if opts.LogLevel != nil {
		level.Set(*opts.LogLevel)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, temporalStartTimeout)
		defer cancel()
	}
	// Fail with a clear message instead of a bind error deep in the server
	// (or, for the UI, a log.Fatal inside echo).
	for _, p := range []int{opts.Port, opts.UIPort} {
		if p == 0 {
			continue
		}
		if err := temporalPortFree(p); err != nil {
			return nil, err
		}
	}

	lt := &LocalTemporal{
		address:   net.JoinHostPort(temporalHost, strconv.Itoa(opts.Port)),
		namespace: opts.Namespace,
		logLevel:  level,
	}
	sqlConf, err := temporalSQLConfig(opts, lt)
	if err != nil {
		return nil, err
	}
	conf, err := temporalServerConfig(opts.Port, sqlConf)
	if err != nil {
		return nil, err
	}
	srvLog := newServerLogger(log.With("component", "temporal-server"), level)
	authorizer, err := authorization.GetAuthorizerFromConfig(&conf.Global.Authorization)
	if err != nil {
		return nil, fmt.Errorf("temporal authorizer: %w", err)
	}
	claimMapper, err := authorization.GetClaimMapperFromConfig(&conf.Global.Authorization, srvLog)
	if err != nil {
		return nil, fmt.Errorf("temporal claim mapper: %w", err)
	}
	hosts := map[primitives.ServiceName]static.Hosts{}
	for _, svc := range []primitives.ServiceName{primitives.FrontendService, primitives.HistoryService, primitives.MatchingService, primitives.WorkerService} {
		port := conf.Services[string(svc)].RPC.GRPCPort
		hosts[svc] = static.SingleLocalHost(net.JoinHostPort(temporalHost, strconv.Itoa(port)))
	}
	srv, err := temporal.NewServer(
		temporal.WithConfig(conf),
		temporal.ForServices(temporal.DefaultServices),
		temporal.WithStaticHosts(hosts),
		temporal.WithLogger(srvLog),
		temporal.WithAuthorizer(authorizer),
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return claimMapper }),
		temporal.WithDynamicConfigClient(dynamicconfig.StaticClient{
			// The values `temporal server start-dev` uses for one laptop.
			dynamicconfig.HistoryCacheHostLevelMaxSize.Key():                 8096,
			dynamicconfig.FrontendMaxNamespaceVisibilityRPSPerInstance.Key(): 100,
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("temporal server: %w", err)
	}
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("start temporal server: %w", err)
	}
	lt.server = srv
	if err := waitFrontend(ctx, lt.address, opts.Namespace); err != nil {
		_ = srv.Stop()
		return nil, err
	}
	if opts.UIPort != 0 {
		if err := lt.startUI(ctx, opts); err != nil {
			_ = srv.Stop()
			return nil, err
		}
	}
	return lt, nil
}

// Stop stops the UI, then the server. It is safe to call more than once.
func (t *LocalTemporal) Stop() error {
	t.logLevel.Set(slog.LevelError)
	if t.ui != nil {
		t.ui.Stop()
		<-t.uiDone
		t.ui = nil
	}
	if t.server == nil {
		return nil
	}
	err := t.server.Stop()
	t.server = nil
	if err != nil {
		return fmt.Errorf("stop temporal server: %w", err)
	}
	return nil
}

func temporalPortFree(port int) error {
	addr := net.JoinHostPort(temporalHost, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("port %d is taken (another Temporal or athena dev?): %w: %w", port, ErrPortInUse, err)
	}
	return ln.Close()
}

// temporalFreePort asks the kernel for an unused loopback port.
func temporalFreePort() (int, error) {
	ln, err := net.Listen("tcp", net.JoinHostPort(temporalHost, "0"))
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// temporalSQLConfig picks the SQLite database (a shared in-memory one, or
// Dir/temporal.db created with the schema on first use) and registers the
// namespace in it; both are idempotent.
func temporalSQLConfig(opts TemporalOptions, lt *LocalTemporal) (*config.SQL, error) {
	conf := &config.SQL{PluginName: sqliteplugin.PluginName}
	if opts.Persist {
		dir, err := filepath.Abs(opts.Dir)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("temporal state directory: %w", err)
		}
		lt.dbFile = filepath.Join(dir, temporalDBFile)
		conf.DatabaseName = lt.dbFile
		conf.ConnectAttributes = map[string]string{"mode": "rwc"}
		if _, err := os.Stat(lt.dbFile); errors.Is(err, os.ErrNotExist) {
			if err := sqliteschema.SetupSchema(conf); err != nil {
				return nil, fmt.Errorf("temporal schema: %w", err)
			}
		}
	} else {
		// A random name keeps two servers in one process (tests) apart.
		conf.DatabaseName = strconv.Itoa(rand.IntN(1 << 30))
		conf.ConnectAttributes = map[string]string{"mode": "memory", "cache": "shared"}
	}
	ns, err := sqliteschema.NewNamespaceConfig(temporalClusterName, opts.Namespace, false, nil)
	if err != nil {
		return nil, fmt.Errorf("temporal namespace %s: %w", opts.Namespace, err)
	}
	if err := sqliteschema.CreateNamespaces(conf, ns); err != nil {
		return nil, fmt.Errorf("temporal namespace %s: %w", opts.Namespace, err)
	}
	return conf, nil
}

// temporalClusterName is the single cluster's name, as in start-dev.
const temporalClusterName = "active"

// temporalServerConfig is a one-process, one-shard cluster on loopback:
// the frontend on port, history/matching/worker on free ports, no metrics
// listener, no pprof, archival off.
func temporalServerConfig(port int, sqlConf *config.SQL) (*config.Config, error) {
	frontend := net.JoinHostPort(temporalHost, strconv.Itoa(port))
	conf := &config.Config{}
	conf.Global.Membership.MaxJoinDuration = 30 * time.Second
	conf.Global.Membership.BroadcastAddress = temporalHost
	conf.Persistence.DefaultStore = "sqlite-default"
	conf.Persistence.VisibilityStore = "sqlite-default"
	conf.Persistence.NumHistoryShards = 1
	conf.Persistence.DataStores = map[string]config.DataStore{"sqlite-default": {SQL: sqlConf}}
	conf.ClusterMetadata = &cluster.Config{
		EnableGlobalNamespace:    false,
		FailoverVersionIncrement: 10,
		MasterClusterName:        temporalClusterName,
		CurrentClusterName:       temporalClusterName,
		ClusterInformation: map[string]cluster.ClusterInformation{
			temporalClusterName: {Enabled: true, InitialFailoverVersion: 1, RPCAddress: frontend},
		},
	}
	conf.DCRedirectionPolicy.Policy = "noop"
	conf.Services = map[string]config.Service{}
	for _, name := range []string{"frontend", "history", "matching", "worker"} {
		p := port
		if name != "frontend" {
			var err error
			if p, err = temporalFreePort(); err != nil {
				return nil, fmt.Errorf("temporal %s port: %w", name, err)
			}
		}
		conf.Services[name] = config.Service{RPC: config.RPC{GRPCPort: p, BindOnIP: temporalHost}}
	}
	// The frontend's HTTP API (and Nexus) on a free port, as start-dev does.
	httpPort, err := temporalFreePort()
	if err != nil {
		return nil, fmt.Errorf("temporal http port: %w", err)
	}
	fe := conf.Services["frontend"]
	fe.RPC.HTTPPort = httpPort
	conf.Services["frontend"] = fe
	ci := conf.ClusterMetadata.ClusterInformation[temporalClusterName]
	ci.HTTPAddress = net.JoinHostPort(temporalHost, strconv.Itoa(httpPort))
	conf.ClusterMetadata.ClusterInformation[temporalClusterName] = ci
	conf.Archival.History.State = "disabled"
	conf.Archival.Visibility.State = "disabled"
	conf.NamespaceDefaults.Archival.History.State = "disabled"
	conf.NamespaceDefaults.Archival.Visibility.State = "disabled"
	conf.PublicClient.HostPort = frontend
	return conf, nil
}

// waitFrontend returns once the frontend is healthy and knows the namespace.
func waitFrontend(ctx context.Context, address, namespace string) error {
	c, err := client.NewLazyClient(client.Options{HostPort: address, Namespace: namespace, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return err
	}
	defer c.Close()
	nc, err := client.NewNamespaceClient(client.Options{HostPort: address, Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return err
	}
	defer nc.Close()
	return poll(ctx, func(ctx context.Context) error {
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return err
		}
		_, err := nc.Describe(ctx, namespace)
		return err
	}, "temporal frontend "+address)
}

// poll calls f until it succeeds or ctx ends.
func poll(ctx context.Context, f func(context.Context) error, what string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := f(attempt)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not become ready: %w", what, err)
		case <-tick.C:
		}
	}
}

// startUI serves the Temporal UI (assets embedded in ui-server) pointed at
// the frontend, and waits until it answers.
func (t *LocalTemporal) startUI(ctx context.Context, opts TemporalOptions) error {
	ui := uiserver.NewServer(uioptions.WithConfigProvider(&uiconfig.Config{
		Host:                temporalHost,
		Port:                opts.UIPort,
		TemporalGRPCAddress: t.address,
		EnableUI:            true,
		DefaultNamespace:    opts.Namespace,
		CORS:                uiconfig.CORS{CookieInsecure: true},
		HideLogs:            true,
		DisableNewsFetch:    true,
	}))
	t.ui = ui
	t.uiDone = make(chan struct{})
	go func() {
		defer close(t.uiDone)
		_ = ui.Start() // returns once Stop closes it
	}()
	t.uiURL = "http://" + net.JoinHostPort(temporalHost, strconv.Itoa(opts.UIPort))
	hc := &http.Client{Timeout: 2 * time.Second}
	err := poll(ctx, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.uiURL+"/", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET / answered %s", resp.Status)
		}
		return nil
	}, "temporal UI "+t.uiURL)
	if err != nil {
		ui.Stop()
		<-t.uiDone
		t.ui = nil
		return err
	}
	return nil
}
