package devstack

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultPostgresPort is the port the local cluster listens on when
// PostgresOptions.Port is zero. It is not 5432 so that it never competes with
// a system cluster.
const DefaultPostgresPort = 55432

// DefaultPostgresDir is the cluster root used when PostgresOptions.Dir is empty.
const DefaultPostgresDir = ".athena/pg"

// RootClusterBase holds, when the dev command runs as root, the clusters of
// projects the postgres system user cannot reach (a clone under /root, mode
// 0700): one directory per project, named by a hash of the requested path, so
// the user's home keeps its permissions.
const RootClusterBase = "/var/lib/athena-dev"

// startTimeout bounds how long StartPostgres waits for the server to accept
// connections, so a broken cluster fails the dev command instead of hanging it.
const startTimeout = 30 * time.Second

// maxSocketPath is the longest Unix socket path Linux accepts (sun_path minus
// the terminating NUL).
const maxSocketPath = 107

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// Dir is the cluster root; it holds data/ (PGDATA), run/ (the Unix socket)
	// and postgres.log. Default DefaultPostgresDir, relative to the working
	// directory. As root, when the postgres system user cannot reach Dir, the
	// cluster lives in ClusterDirFor(Dir) instead (LocalPostgres.Dir says
	// where).
	Dir string
	// Port is the TCP port on 127.0.0.1. Default DefaultPostgresPort.
	Port int
	// Log receives progress lines (install, initdb, start, stop). Nil discards.
	Log *slog.Logger
	// Install lets StartPostgres run apt-get when the server binaries are
	// missing and the process runs as root.
	Install bool
}

// LocalPostgres is a PostgreSQL cluster living in a project directory,
// listening on 127.0.0.1 only, with trust authentication for the superuser
// "postgres".
type LocalPostgres struct {
	root    string
	dataDir string
	sockDir string // empty: Unix sockets disabled (path too long)
	logFile string
	bin     string // directory holding initdb, pg_ctl and postgres
	cred    *syscall.Credential
	log     *slog.Logger

	mu      sync.Mutex
	port    int
	started bool     // this process started (or adopted) the server, so Stop stops it
	lock    *os.File // flock on ownerLockFile while this process owns the cluster
}

// ownerLockFile, in the cluster root, is flocked by the process that owns the
// running server. The kernel drops the lock when that process dies however it
// dies, so a running server whose lock is free was left behind (a second
// Ctrl-C or a kill -9 of an older dev command) and is adopted; a server whose
// lock is held belongs to another live dev command and is only borrowed.
const ownerLockFile = "athena-dev.lock"

// StartPostgres makes the cluster in opts.Dir run and accept connections. The
// first call creates it with initdb; later calls reuse it. A server already
// running on the same data directory is reused: when another live process
// owns it, Stop leaves it running; when it was left behind by a process that
// is gone, this LocalPostgres adopts it and Stop stops it.
func StartPostgres(ctx context.Context, opts PostgresOptions) (_ *LocalPostgres, err error) {
	if opts.Dir == "" {
		opts.Dir = DefaultPostgresDir
	}
	if opts.Port == 0 {
		opts.Port = DefaultPostgresPort
	}
	if opts.Port < 1 || opts.Port > 65535 {
		return nil, fmt.Errorf("start postgres: invalid port %d", opts.Port)
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	root, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	p := &LocalPostgres{port: opts.Port}
	p.setRoot(root, log)

	dataVersion := readTrimmed(filepath.Join(p.dataDir, "PG_VERSION"))
	p.bin, err = findPostgresBin(dataVersion)
	if errors.Is(err, errPostgresMissing) {
		if !opts.Install || os.Geteuid() != 0 {
			return nil, errMissingAdvice
		}
		if err := installPostgres(ctx, p.log); err != nil {
			return nil, err
		}
		p.bin, err = findPostgresBin(dataVersion)
	}
	if err != nil {
		return nil, err
	}
	p.log.Debug("using PostgreSQL binaries", "bin", p.bin)

	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root: run them as the
		// postgres system user, which owns the cluster directory.
		if p.cred, err = postgresUser(ctx, p.log); err != nil {
			return nil, err
		}
		if blocked, ok := p.reachable(ctx); !ok {
			moved := ClusterDirFor(root)
			p.log.Info("the postgres system user cannot reach the cluster directory: keeping the cluster in a directory it owns instead",
				"not_searchable", blocked, "cluster", moved)
			p.setRoot(moved, log)
			if v := readTrimmed(filepath.Join(p.dataDir, "PG_VERSION")); v != dataVersion {
				dataVersion = v
				if p.bin, err = findPostgresBin(dataVersion); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := p.prepareDirs(ctx); err != nil {
		return nil, err
	}
	owner, err := p.tryOwn()
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			p.disown()
		}
	}()
	if dataVersion == "" {
		if err := p.initdb(ctx); err != nil {
			return nil, err
		}
	}

	running, err := p.checkPostmasterPID()
	if err != nil {
		return nil, err
	}
	if running {
		if owner {
			p.log.Info("reusing PostgreSQL left running by an earlier run that did not stop it; it will be stopped on exit", "port", p.port)
			p.started = true
		} else {
			p.log.Info("reusing PostgreSQL of another running athena dev on this cluster; it will be left running", "port", p.port)
		}
		if err := p.waitReady(ctx, startTimeout); err != nil {
			return nil, fmt.Errorf("start postgres: server already running on %s does not accept connections on 127.0.0.1:%d: %w (see %s)", p.dataDir, p.port, err, p.logFile)
		}
		return p, nil
	}

	if err := portFree(p.port); err != nil {
		return nil, err
	}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	if err := p.waitReady(ctx, startTimeout); err != nil {
		stopErr := p.Stop(context.WithoutCancel(ctx))
		return nil, errors.Join(fmt.Errorf("start postgres: server does not accept connections on 127.0.0.1:%d: %w%s", p.port, err, p.logTail()), stopErr)
	}
	p.log.Info("PostgreSQL ready", "port", p.port)
	return p, nil
}

// ClusterDirFor returns where, as root, the cluster asked for in dir lives
// when the postgres system user cannot reach dir: a directory under
// RootClusterBase named by a hash of dir's absolute path, so each project
// keeps its own cluster across runs.
func ClusterDirFor(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(RootClusterBase, hex.EncodeToString(sum[:8]))
}

// setRoot points the cluster's paths at root.
func (p *LocalPostgres) setRoot(root string, log *slog.Logger) {
	p.root = root
	p.dataDir = filepath.Join(root, "data")
	p.sockDir = filepath.Join(root, "run")
	p.logFile = filepath.Join(root, "postgres.log")
	p.log = log.With("component", "postgres", "dir", root)
	if len(p.sockDir)+len("/.s.PGSQL.65535") > maxSocketPath {
		// Too long for a Unix socket; we only ever connect over TCP anyway.
		p.sockDir = ""
	}
}

// reachable reports whether the postgres system user can reach the cluster
// root: the deepest part of its path that exists must be searchable by it
// (the directories we create below it are). Otherwise it names the first
// directory in the way.
func (p *LocalPostgres) reachable(ctx context.Context) (blocked string, ok bool) {
	existing := p.root
	for {
		if _, err := os.Stat(existing); err == nil || existing == filepath.Dir(existing) {
			break
		}
		existing = filepath.Dir(existing)
	}
	cmd := exec.CommandContext(ctx, "test", "-x", existing)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	if err := cmd.Run(); err != nil {
		below := filepath.Join(existing, "x")
		if blocked = unsearchableParent(below, p.cred); blocked == below {
			blocked = existing // not told by mode bits (an ACL, say)
		}
		return blocked, false
	}
	return "", true
}

// Dir returns the cluster root in use: the requested directory, or the one
// under RootClusterBase when running as root moved it there.
func (p *LocalPostgres) Dir() string { return p.root }

// URI returns the connection URI of database on this cluster.
func (p *LocalPostgres) URI(database string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port(), url.PathEscape(database))
}

// Port returns the TCP port the server listens on. It differs from the
// requested one only when an already running server was reused.
func (p *LocalPostgres) Port() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.port
}

// EnsureDatabase creates database name unless it exists.
func (p *LocalPostgres) EnsureDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, p.URI("postgres"))
	if err != nil {
		return fmt.Errorf("ensure database %q: %w", name, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("ensure database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: created concurrently
		return nil
	}
	if err != nil {
		return fmt.Errorf("ensure database %q: %w", name, err)
	}
	p.log.Info("created database", "database", name)
	return nil
}

// Stop shuts the server down (fast mode: open sessions are rolled back) if
// this LocalPostgres started it; a reused server is left running. Stop is safe
// to call more than once.
func (p *LocalPostgres) Stop(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	defer p.disown()
	if !p.started {
		return nil
	}
	p.started = false
	ctx, cancel := context.WithTimeout(ctx, startTimeout+10*time.Second)
	defer cancel()
	out, err := p.command(ctx, "pg_ctl", "stop", "-D", p.dataDir, "-m", "fast", "-w", "-t", "30").CombinedOutput()
	if err != nil {
		if _, statErr := os.Stat(filepath.Join(p.dataDir, "postmaster.pid")); errors.Is(statErr, fs.ErrNotExist) {
			return nil // already stopped, e.g. by a signal to its process group
		}
		return fmt.Errorf("stop postgres in %s: %w: %s", p.dataDir, err, bytes.TrimSpace(out))
	}
	p.log.Info("PostgreSQL stopped")
	return nil
}

// tryOwn takes the cluster's owner lock without waiting; false means another
// live process holds it.
func (p *LocalPostgres) tryOwn() (bool, error) {
	path := filepath.Join(p.root, ownerLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return false, fmt.Errorf("start postgres: open %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil
		}
		return false, fmt.Errorf("start postgres: lock %s: %w", path, err)
	}
	p.lock = f
	return true, nil
}

// disown releases the owner lock, if held.
func (p *LocalPostgres) disown() {
	if p.lock != nil {
		p.lock.Close() // closing the only descriptor drops the flock
		p.lock = nil
	}
}

// prepareDirs creates the cluster root and socket directory and, when running
// as root, hands them to the postgres user and checks that it can reach them.
func (p *LocalPostgres) prepareDirs(ctx context.Context) error {
	// Parents we create (e.g. .athena/) must stay searchable by the postgres
	// user the server runs as; only the cluster root itself is private.
	if err := os.MkdirAll(filepath.Dir(p.root), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(p.root), err)
	}
	if err := os.MkdirAll(p.root, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", p.root, err)
	}
	if p.sockDir != "" {
		if err := os.MkdirAll(p.sockDir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", p.sockDir, err)
		}
	}
	if p.cred == nil {
		return nil
	}
	uid, gid := int(p.cred.Uid), int(p.cred.Gid)
	err := filepath.WalkDir(p.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
			return nil
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return fmt.Errorf("give %s to the postgres user: %w", p.root, err)
	}
	// The server runs as postgres: every parent of the root must be searchable by it.
	if err := p.command(ctx, "test", "-w", p.root).Run(); err != nil {
		blocked := unsearchableParent(p.root, p.cred)
		return fmt.Errorf("start postgres: the postgres system user (uid %d) cannot reach %s because %s is not searchable by it; "+
			"keep the cluster in a directory it can reach, run `chmod o+x %s`, or set postgres_clients in the ATHENA config to use an existing database",
			uid, p.root, blocked, blocked)
	}
	return nil
}

func (p *LocalPostgres) initdb(ctx context.Context) error {
	p.log.Info("creating PostgreSQL cluster (initdb)", "data", p.dataDir)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := p.command(ctx, "initdb", "-D", p.dataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb %s: %w: %s", p.dataDir, err, bytes.TrimSpace(out))
	}
	return nil
}

func (p *LocalPostgres) start(ctx context.Context) error {
	p.log.Info("starting PostgreSQL", "port", p.port, "log", p.logFile)
	ctx, cancel := context.WithTimeout(ctx, startTimeout+10*time.Second)
	defer cancel()
	serverOpts := fmt.Sprintf("-p %d -h 127.0.0.1 -k %s", p.port, shellQuote(p.sockDir))
	cmd := p.command(ctx, "pg_ctl", "start", "-D", p.dataDir, "-l", p.logFile,
		"-w", "-t", strconv.Itoa(int(startTimeout/time.Second)), "-o", serverOpts)
	out, err := cmd.CombinedOutput()
	if err != nil {
		// pg_ctl may have launched a postmaster that is still coming up.
		p.mu.Lock()
		p.started = true
		p.mu.Unlock()
		stopErr := p.Stop(context.WithoutCancel(ctx))
		return errors.Join(fmt.Errorf("start postgres (pg_ctl start): %w: %s%s", err, bytes.TrimSpace(out), p.logTail()), stopErr)
	}
	p.mu.Lock()
	p.started = true
	p.mu.Unlock()
	return nil
}

// waitReady polls until a connection to the postgres database succeeds.
func (p *LocalPostgres) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cfg, err := pgx.ParseConfig(p.URI("postgres"))
	if err != nil {
		return err
	}
	cfg.ConnectTimeout = 2 * time.Second
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(context.WithoutCancel(ctx))
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// checkPostmasterPID reports whether a server is running on this data
// directory. A postmaster.pid left by a server that is gone (crash, reboot,
// killed container) is removed so that pg_ctl can start a new one; the port
// recorded by a live server replaces the requested one.
func (p *LocalPostgres) checkPostmasterPID() (bool, error) {
	pidFile := filepath.Join(p.dataDir, "postmaster.pid")
	raw, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", pidFile, err)
	}
	lines := strings.Split(string(raw), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(lines[0]))
	if pid > 0 && p.isOurPostmaster(pid) {
		if len(lines) > 3 {
			if port, err := strconv.Atoi(strings.TrimSpace(lines[3])); err == nil && port > 0 {
				p.port = port
			}
		}
		return true, nil
	}
	p.log.Warn("removing stale postmaster.pid: its server is no longer running", "pid", pid, "file", pidFile)
	if err := os.Remove(pidFile); err != nil {
		return false, fmt.Errorf("stale %s (pid %d is not a server on this cluster) could not be removed: %w; remove it by hand", pidFile, pid, err)
	}
	return false, nil
}

// isOurPostmaster reports whether pid is a live process whose working
// directory is this data directory (the postmaster chdirs there). A pid
// reused by an unrelated process after a reboot does not count.
func (p *LocalPostgres) isOurPostmaster(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		// ESRCH: gone. EPERM: another user's process, so not a server we run.
		return false
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	if err != nil {
		return true // no /proc to tell: trust the pid file, readiness is checked next
	}
	want, err := filepath.EvalSymlinks(p.dataDir)
	if err != nil {
		want = p.dataDir
	}
	return cwd == want || cwd == p.dataDir
}

// command prepares one of the PostgreSQL programs (or another tool) to run as
// the cluster's owner, in its own process group so that a Ctrl-C aimed at the
// dev command does not reach the server before the dev command stops it.
func (p *LocalPostgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	path := name
	if name != "test" {
		path = filepath.Join(p.bin, name)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = p.root
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: p.cred}
	return cmd
}

// logTail returns the end of the server log, for error messages.
func (p *LocalPostgres) logTail() string {
	raw, err := os.ReadFile(p.logFile)
	if err != nil || len(raw) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return "\n" + p.logFile + " ends with:\n" + strings.Join(lines, "\n")
}

// ErrPortInUse is wrapped by the errors of StartPostgres and StartTemporal
// when a port they need is taken, so the dev command can name its flag.
var ErrPortInUse = errors.New("port in use")

// portFree fails when something else already listens on 127.0.0.1:port.
func portFree(port int) error {
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("start postgres: port %d on 127.0.0.1 is already in use by another process "+
			"(not a server on this cluster): stop that process or choose another port: %w: %w", port, ErrPortInUse, err)
	}
	return ln.Close()
}

var errPostgresMissing = errors.New("postgresql server binaries not found")

var errMissingAdvice = fmt.Errorf("%w: initdb and pg_ctl are neither on PATH nor under /usr/lib/postgresql/*/bin; "+
	"install them with `sudo apt-get install postgresql`, or set postgres_clients in the ATHENA config to use an existing database",
	errPostgresMissing)

// findPostgresBin returns the directory holding initdb and pg_ctl: the one
// matching the data directory's major version when there is one, else the one
// on PATH, else the highest version under /usr/lib/postgresql.
func findPostgresBin(dataVersion string) (string, error) {
	has := func(dir string) bool {
		for _, name := range []string{"initdb", "pg_ctl"} {
			if info, err := os.Stat(filepath.Join(dir, name)); err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
				return false
			}
		}
		return true
	}
	if dataVersion != "" {
		if dir := filepath.Join("/usr/lib/postgresql", dataVersion, "bin"); has(dir) {
			return dir, nil
		}
	}
	if path, err := exec.LookPath("initdb"); err == nil {
		if resolved, err := filepath.EvalSymlinks(path); err == nil {
			path = resolved
		}
		if dir := filepath.Dir(path); has(dir) {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	dirs = slices.DeleteFunc(dirs, func(d string) bool { return !has(d) })
	if len(dirs) == 0 {
		return "", errPostgresMissing
	}
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	return slices.MaxFunc(dirs, func(a, b string) int {
		switch va, vb := version(a), version(b); {
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
		return strings.Compare(a, b)
	}), nil
}

// installPostgres installs the distribution's PostgreSQL server with apt-get,
// logging its output line by line because it takes a while.
func installPostgres(ctx context.Context, log *slog.Logger) error {
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%w and apt-get is not available to install them; install PostgreSQL with your package manager, "+
			"or set postgres_clients in the ATHENA config to use an existing database", errPostgresMissing)
	}
	log.Info("PostgreSQL is not installed: installing it with apt-get (this can take a few minutes)")
	for _, args := range [][]string{
		{"update"},
		{"install", "-y", "--no-install-recommends", "postgresql"},
	} {
		if err := runLogged(ctx, log, "apt-get", args...); err != nil {
			return fmt.Errorf("install postgresql: apt-get %s: %w", strings.Join(args, " "), err)
		}
	}
	log.Info("PostgreSQL installed")
	return nil
}

func runLogged(ctx context.Context, log *slog.Logger, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			log.Info(name, "line", sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Run()
	pw.Close()
	<-done
	return err
}

// postgresUser returns the credentials of the postgres system user, creating
// the user when the distribution package has not.
func postgresUser(ctx context.Context, log *slog.Logger) (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if errors.As(err, new(user.UnknownUserError)) {
		log.Info("creating the postgres system user")
		out, addErr := exec.CommandContext(ctx, "useradd", "--system", "--user-group", "--no-create-home",
			"--shell", "/usr/sbin/nologin", "postgres").CombinedOutput()
		if addErr != nil {
			return nil, fmt.Errorf("create postgres system user: %w: %s", addErr, bytes.TrimSpace(out))
		}
		u, err = user.Lookup("postgres")
	}
	if err != nil {
		return nil, fmt.Errorf("look up postgres system user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres user gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// unsearchableParent names the first ancestor of dir that cred cannot search,
// judged by mode bits (ACLs are not read), or dir itself when none is found.
func unsearchableParent(dir string, cred *syscall.Credential) string {
	var ancestors []string
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		ancestors = append(ancestors, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	slices.Reverse(ancestors)
	for _, d := range ancestors {
		info, err := os.Stat(d)
		if err != nil {
			return d
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			continue
		}
		mode := info.Mode().Perm()
		switch {
		case st.Uid == cred.Uid:
			if mode&0o100 == 0 {
				return d
			}
		case st.Gid == cred.Gid:
			if mode&0o010 == 0 {
				return d
			}
		case mode&0o001 == 0:
			return d
		}
	}
	return dir
}

// shellQuote quotes s for the /bin/sh command line pg_ctl builds from -o.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func readTrimmed(path string) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(raw))
}
