package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// This file is the cross-process measurement's plumbing: building and
// starting the server processes, reading their CPU time from /proc, and
// reading Athena's /metrics.

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat.
// Linux reports them in USER_HZ = 100 on every architecture Go runs on
// (the kernel's own HZ may differ; /proc converts), so it is a constant
// here rather than a sysconf call, which would need cgo.
const clockTicks = 100

// procCPU reads utime+stime of process pid from /proc/<pid>/stat: the CPU
// time of all its threads, living and exited, in clock ticks (10ms).
// The file is world-readable, so this works for PostgreSQL backends that
// run as another user.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(b)
}

// parseStatCPU reads fields 14 (utime) and 15 (stime) of a
// /proc/<pid>/stat line. The second field, the command in parentheses, may
// itself hold spaces and parentheses, so fields are counted after the last
// ')'.
func parseStatCPU(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("stat: no command field")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), so field n is f[n-3].
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the command, want >= 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuReading is the CPU time of one server process and of the PostgreSQL
// backends serving it at one moment.
type cpuReading struct {
	proc     time.Duration
	backends map[int]time.Duration // by backend pid
}

// cpuSpent is what was spent between two readings. A backend present in
// both counts its difference; a backend that appeared in between counts
// all its time (it was born in the window, its connection setup included);
// one that ended in between is lost (the pools here keep their
// connections, so that does not happen in a measured window).
func cpuSpent(from, to cpuReading) (proc, pg time.Duration) {
	proc = to.proc - from.proc
	for pid, t := range to.backends {
		pg += t - from.backends[pid]
	}
	return proc, pg
}

// backendPIDs lists the backends whose application_name is one of names.
func backendPIDs(ctx context.Context, pool *pgxpool.Pool, names []string) ([]int, error) {
	rows, err := pool.Query(ctx, `select pid from pg_stat_activity where application_name = any($1)`, names)
	if err != nil {
		return nil, fmt.Errorf("list backends: %w", err)
	}
	defer rows.Close()
	var pids []int
	for rows.Next() {
		var pid int32
		if err := rows.Scan(&pid); err != nil {
			return nil, err
		}
		pids = append(pids, int(pid))
	}
	return pids, rows.Err()
}

// readCPU reads process pid and the backends named names. A backend that
// ends between the listing and the read is skipped.
func readCPU(ctx context.Context, pool *pgxpool.Pool, pid int, names []string) (cpuReading, error) {
	pids, err := backendPIDs(ctx, pool, names)
	if err != nil {
		return cpuReading{}, err
	}
	r := cpuReading{backends: make(map[int]time.Duration, len(pids))}
	if r.proc, err = procCPU(pid); err != nil {
		return cpuReading{}, fmt.Errorf("read CPU time of process %d: %w", pid, err)
	}
	for _, b := range pids {
		t, err := procCPU(b)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
			continue
		}
		if err != nil {
			return cpuReading{}, fmt.Errorf("read CPU time of backend %d (is PostgreSQL on this machine?): %w", b, err)
		}
		r.backends[b] = t
	}
	return r, nil
}

// goCommand is the go command that builds the server binaries: the one
// on PATH (go run and go test put theirs first), else the one of the
// toolchain this program was built with.
func goCommand() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// buildServers builds `athena` (cmd/athena, the real gateway) and `floor`
// (cmd/athena-bench/floor) into dir with one go build, and returns their
// paths.
func buildServers(ctx context.Context, dir string) (athenaBin, floorBin string, err error) {
	const mod = "github.com/athena-gateway/athena"
	cmd := exec.CommandContext(ctx, goCommand(), "build", "-o", dir+string(filepath.Separator), mod+"/cmd/athena", mod+"/cmd/athena-bench/floor")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("go build the servers: %w\n%s", err, out.String())
	}
	return filepath.Join(dir, "athena"), filepath.Join(dir, "floor"), nil
}

// childEnv is this process's environment without the variables that would
// reconfigure a child behind the bench's back (ATHENA_* overrides and
// clients, REDIS_URL, TEMPORAL_*), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ATHENA_") || strings.HasPrefix(k, "TEMPORAL_") || k == "REDIS_URL" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// tailBuffer keeps the last max bytes written to it (a child's stderr,
// shown when it fails).
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// child is one server process.
type child struct {
	name   string
	cmd    *exec.Cmd
	stderr *tailBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's result, set before done closes
}

// startChild starts cmd; its stderr is kept (the tail) for error
// messages. The child gets SIGKILL if this process dies first, so an
// interrupted bench leaves no server behind.
func startChild(name string, cmd *exec.Cmd) (*child, error) {
	c := &child{name: name, cmd: cmd, stderr: &tailBuffer{max: 16 << 10}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// exited describes an early exit, with the child's last stderr lines.
func (c *child) exited() error {
	return fmt.Errorf("%s exited: %v\n%s", c.name, c.err, c.stderr.String())
}

// errKilled is stop's error when the child had to be killed.
var errKilled = errors.New("killed")

// stop asks the child to shut down (SIGTERM) and waits for it, killing it
// after grace. A clean exit is nil.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return c.exited()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s: %w", c.name, grace, errKilled)
	}
	if c.err != nil {
		return fmt.Errorf("%s: %w\n%s", c.name, c.err, c.stderr.String())
	}
	return nil
}

// readListening waits for the floor's "listening http://<addr>" line on r
// (its stdout) and then discards the rest.
func readListening(r io.Reader) <-chan string {
	out := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				out <- u
				break
			}
		}
		close(out)
		_, _ = io.Copy(io.Discard, r)
	}()
	return out
}

// freePort returns a loopback TCP port nobody listens on right now (for
// Athena's api.port, and for a Temporal address that refuses at once).
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// readyTimeout bounds a server's start (the binary is built already).
const readyTimeout = time.Minute

// waitReady polls GET url until it answers 200, the child exits or
// readyTimeout passes. Athena announces its port only in its log, so the
// bench polls the port it assigned; every poll that connects counts in
// *answered (for scenario G's request log).
func waitReady(ctx context.Context, c *child, client *http.Client, url string, answered *int64) error {
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			*answered++
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %s within %s (last: %v)\n%s", c.name, url, readyTimeout, err, c.stderr.String())
		}
		select {
		case <-c.done:
			return c.exited()
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// metricSample is one line of a Prometheus text exposition.
type metricSample struct {
	name   string
	labels map[string]string
	value  float64
}

// parseMetrics reads the Prometheus text format Athena's /metrics writes:
// comments skipped, `name{k="v",…} value` or `name value` per line. Label
// values here never hold an escaped quote or a comma, which keeps the
// parser small; a line it cannot read is an error.
func parseMetrics(text string) ([]metricSample, error) {
	var out []metricSample
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("metrics line %q: no value", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s := metricSample{name: line[:sp], value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			body, ok := strings.CutSuffix(s.name[i+1:], "}")
			if !ok {
				return nil, fmt.Errorf("metrics line %q: unclosed labels", line)
			}
			s.name = s.name[:i]
			s.labels = map[string]string{}
			for kv := range strings.SplitSeq(body, ",") {
				if kv == "" {
					continue
				}
				k, val, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("metrics line %q: label %q", line, kv)
				}
				s.labels[k] = strings.Trim(val, `"`)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// sumMetric adds up the samples named name whose labels include match.
func sumMetric(samples []metricSample, name string, match map[string]string) (sum float64, found bool) {
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range match {
			if s.labels[k] != v {
				continue next
			}
		}
		sum += s.value
		found = true
	}
	return sum, found
}
