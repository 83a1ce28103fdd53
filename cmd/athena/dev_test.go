package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/devstack"
	"github.com/athena-gateway/athena/internal/testenv"
	"github.com/athena-gateway/athena/postgres/postgrestest"
)

// devChildArgs, when set, makes the test binary run `athena <args>` instead
// of the tests: TestDevSubprocess starts the dev stack that way.
const devChildArgs = "ATHENA_TEST_DEV_CHILD_ARGS"

// Ports of the dev stack under test, away from the defaults a developer's
// own `make run` uses.
const (
	devTestAPIPort      = 55491
	devTestPGPort       = 55492
	devTestTemporalPort = 55493
)

// TestDevSubprocess runs `athena dev` as a process of its own with a client
// of the user's (ATHENA_CLIENT_MYDB), checks that the local cluster, the demo
// client and the control plane are still there beside it and that the banner
// prints the control plane's URL, then sends SIGINT followed by a stream of
// SIGTERMs: the process must still stop its PostgreSQL and exit 0.
func TestDevSubprocess(t *testing.T) {
	if args := os.Getenv(devChildArgs); args != "" {
		os.Exit(run(strings.Fields(args), os.Stdout, os.Stderr))
	}
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster and Temporal in a subprocess")
	}
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("initdb"); err != nil {
			if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
				t.Skip("no PostgreSQL server binaries and not root to install them")
			}
		}
	}
	mydb := postgrestest.URL()
	if conn, err := pgx.Connect(context.Background(), mydb); err != nil {
		testenv.Unavailable(t, "PostgreSQL", err)
	} else {
		conn.Close(context.Background())
	}

	dir := filepath.Join(t.TempDir(), ".athena")
	clusterDirs := []string{filepath.Join(dir, "pg"), devstack.ClusterDirFor(filepath.Join(dir, "pg"))}
	t.Cleanup(func() {
		// A cluster the child left running (the bug) is adopted and stopped.
		if pidFileExists(clusterDirs) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if pg, err := devstack.StartPostgres(ctx, devstack.PostgresOptions{Dir: clusterDirs[0], Port: devTestPGPort}); err == nil {
				_ = pg.Stop(ctx)
			}
		}
		_ = os.RemoveAll(clusterDirs[1])
	})

	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "ATHENA_") || strings.HasPrefix(kv, "REDIS_URL=") || strings.HasPrefix(kv, "TEMPORAL_")
	})
	env = append(env,
		"ATHENA_CONFIG_PATH="+writeConfig(t, ""),
		"ATHENA_CLIENT_MYDB="+mydb,
		fmt.Sprintf("%s=dev -dir %s -port %d -pg-port %d -temporal-port %d -ui-port 0",
			devChildArgs, dir, devTestAPIPort, devTestPGPort, devTestTemporalPort))
	cmd := exec.Command(os.Args[0], "-test.run=^TestDevSubprocess$")
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		output strings.Builder
	)
	banner := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		sc := bufio.NewScanner(stderr)
		seen := false
		for sc.Scan() {
			mu.Lock()
			output.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !seen && strings.HasPrefix(sc.Text(), "  redis ") {
				seen = true
				close(banner)
			}
		}
	}()
	exited := make(chan error, 1)
	go func() {
		<-readDone // Wait closes the pipe: read it to the end first
		exited <- cmd.Wait()
	}()
	logs := func() string {
		mu.Lock()
		defer mu.Unlock()
		return output.String()
	}

	select {
	case <-banner:
	case err := <-exited:
		t.Fatalf("athena dev exited before its banner: %v\n%s", err, logs())
	case <-time.After(4 * time.Minute):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("no banner after 4 minutes:\n%s", logs())
	}

	out := logs()
	controlPlane := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/athena_logging?sslmode=disable", devTestPGPort)
	for _, want := range []string{
		"client    athena_logging   " + controlPlane,
		fmt.Sprintf("client    demo             postgres://postgres@127.0.0.1:%d/athena_demo?sslmode=disable", devTestPGPort),
		"client    mydb             (configured)",
		fmt.Sprintf("postgres  127.0.0.1:%d, cluster in ", devTestPGPort),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("banner: want a line containing %q, got\n%s", want, out)
		}
	}
	// The banner comes just before the gateway starts listening.
	up := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ping", devTestAPIPort))
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(up) {
			t.Fatalf("gateway not answering a minute after the banner: %v\n%s", err, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tt := range []struct{ client, path, body string }{
		{"demo", "/gateway/fetch", `{"table_name":"users","limit":1}`},
		{"mydb", "/gateway/query", `{"query":"select 1 as one"}`},
	} {
		req, _ := http.NewRequest("POST", fmt.Sprintf("http://127.0.0.1:%d%s", devTestAPIPort, tt.path), strings.NewReader(tt.body))
		req.Header.Set("X-Athena-Client", tt.client)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s %s: %v", tt.client, tt.path, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s %s: got status %d, want 200", tt.client, tt.path, resp.StatusCode)
		}
	}
	if conn, err := pgx.Connect(context.Background(), controlPlane); err != nil {
		t.Errorf("control plane at the banner's URL: %v", err)
	} else {
		conn.Close(context.Background())
	}

	// Ctrl-C, then signal after signal until the process is gone.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(2 * time.Minute)
	var exitErr error
wait:
	for {
		select {
		case exitErr = <-exited:
			break wait
		case <-tick.C:
			_ = cmd.Process.Signal(syscall.SIGTERM)
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			t.Fatalf("athena dev still running 2 minutes after SIGINT:\n%s", logs())
		}
	}
	if exitErr != nil {
		t.Errorf("athena dev after SIGINT and repeated SIGTERM: got %v, want exit 0\n%s", exitErr, logs())
	}
	if !strings.Contains(logs(), "already stopping") {
		t.Errorf("no signal reached the cleanup, so this run proves nothing:\n%s", logs())
	}
	if conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", devTestPGPort), time.Second); err == nil {
		conn.Close()
		t.Errorf("local PostgreSQL still accepts connections on %d after athena dev exited", devTestPGPort)
	}
	if pidFileExists(clusterDirs) {
		t.Errorf("postmaster.pid left in %v after athena dev exited", clusterDirs)
	}
}

func pidFileExists(clusterDirs []string) bool {
	for _, d := range clusterDirs {
		if _, err := os.Stat(filepath.Join(d, "data", "postmaster.pid")); !errors.Is(err, fs.ErrNotExist) {
			return true
		}
	}
	return false
}

// TestDevLocalClients: a client of the user's keeps the local cluster, the
// demo client and the control plane; only a configured control plane (a
// setup of the user's own) turns the local cluster off.
func TestDevLocalClients(t *testing.T) {
	t.Setenv("ATHENA_CLIENT_MYDB", "postgres://127.0.0.1:1/mydb")
	cfg, err := config.Load(writeConfig(t, ""), os.Getenv)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		give []string
		want []string
	}{
		{name: "from ATHENA_CLIENT_MYDB", want: []string{"athena_logging", "demo"}},
		{name: "own demo", give: []string{"demo"}, want: []string{"athena_logging"}},
		{name: "own control plane", give: []string{"athena_logging"}, want: nil},
	}
	for _, tt := range tests {
		c := cfg
		c.Clients = map[string]config.Client{"mydb": cfg.Clients["mydb"]}
		for _, n := range tt.give {
			c.Clients[n] = config.Client{URI: "postgres://127.0.0.1:1/" + n}
		}
		if got := devLocalClients(c); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestDevBadFlagOneLine: a bad flag is one line naming the fix, not the usage.
func TestDevBadFlagOneLine(t *testing.T) {
	var stderr strings.Builder
	if code := run([]string{"dev", "-pg-prot", "1"}, &strings.Builder{}, &stderr); code != exitUsage {
		t.Errorf("exit: got %d, want %d", code, exitUsage)
	}
	got := stderr.String()
	if strings.Count(got, "\n") != 1 || !strings.Contains(got, "-pg-prot") || !strings.Contains(got, "make run ARGS='-pg-port 55433'") {
		t.Errorf("stderr: got %q, want one line naming the flag and how to pass flags through make", got)
	}
}

// TestDevPortTakenNamesFlag: a taken gateway port names -port and make's ARGS.
func TestDevPortTakenNamesFlag(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	err = devPortsFree("127.0.0.1", port, temporalFlags{})
	if want := fmt.Sprintf("make run ARGS='-port %d'", port+1); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("devPortsFree on a taken port: got %v, want an error containing %q", err, want)
	}
}

// TestDevDefaultsLoopback checks that athena dev, which runs open (no API
// keys, direct URIs on), listens on loopback unless -host says otherwise,
// and that its banner prints what it binds and that keys are off.
func TestDevDefaultsLoopback(t *testing.T) {
	var fs flagSetProbe
	if got := fs.devHostDefault(t); got != "127.0.0.1" {
		t.Errorf("-host default: got %q, want 127.0.0.1", got)
	}
	for _, tt := range []struct {
		name, host string
		required   *bool
		want       []string
	}{
		{"default", devDefaultHost, nil, []string{
			"gateway   http://127.0.0.1:4052   (loopback only",
			"api keys  NOT required",
			"direct    x-pg-uri / x-jdbc-url headers accepted for 127.0.0.0/8, ::1/128, localhost",
		}},
		{"every interface", "0.0.0.0", nil, []string{"gateway   http://0.0.0.0:4052   (EVERY interface", "try: curl http://127.0.0.1:4052/health"}},
		{"keys required by the configuration", devDefaultHost, boolPtr(true), []string{"api keys  required"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.APIKeys.Required = tt.required
			devDefaults(&cfg, tt.host)
			if cfg.API.Host != tt.host {
				t.Errorf("api.host: got %q, want %q", cfg.API.Host, tt.host)
			}
			if want := tt.required != nil && *tt.required; cfg.APIKeys.KeysRequired(true) != want {
				t.Errorf("keys required: got %v, want %v", !want, want)
			}
			if !cfg.Gateway.DirectURI.Enabled {
				t.Error("direct URIs not enabled for loopback")
			}
			var b strings.Builder
			printGatewayBanner(&b, cfg)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("banner: want %q in\n%s", w, b.String())
				}
			}
		})
	}
}

type flagSetProbe struct{}

// devHostDefault reads the -host default from athena dev -h.
func (flagSetProbe) devHostDefault(t *testing.T) string {
	t.Helper()
	t.Setenv("ATHENA_DEV_HOST", "")
	var out strings.Builder
	if code := run([]string{"dev", "-h"}, &out, &out); code != 0 {
		t.Fatalf("athena dev -h: exit %d\n%s", code, out.String())
	}
	i := strings.Index(out.String(), "-host")
	if i < 0 {
		t.Fatalf("no -host flag in\n%s", out.String())
	}
	rest := out.String()[i:]
	j := strings.Index(rest, `(default "`)
	if j < 0 {
		t.Fatalf("-host has no default in\n%s", rest)
	}
	rest = rest[j+len(`(default "`):]
	return rest[:strings.Index(rest, `"`)]
}

func boolPtr(b bool) *bool { return &b }
