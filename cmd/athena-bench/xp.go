package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/postgres"
)

// The cross-process measurement. A gateway is a process of its own: the
// in-process scenarios share one Go runtime (scheduler, GC, allocator)
// with the load generator and with each other, so they cannot say what
// one request costs the gateway's process. Here the bench builds two
// servers with go build and runs each scenario as a separate process:
//
//	B) the floor process (cmd/athena-bench/floor): gin + pgx serving the
//	   same POST /gateway/fetch with one statement of the shape Athena's
//	   fetch generates (json_agg over the row, id and limit bound);
//	C) `athena serve`, read cache off and every telemetry off: no
//	   request/operation logs, no statistics (telemetry.enabled false), no
//	   request metrics and no /metrics (telemetry.metrics false);
//	E) C with the read cache on (over Redis when it answers, as in
//	   production), one fixed request over and over: cache hits;
//	G) `athena serve` with full telemetry: metrics, the request and
//	   operation logs written with COPY to the control plane, and the
//	   statistics aggregator counting every request. Its flush starts a
//	   StatsFlush workflow on Temporal, which this bench does not run (an
//	   embedded Temporal server plus a worker would cost more CPU on these
//	   2 cores than everything measured): the process points at a closed
//	   port, so every flush's workflow start fails and the deltas stay in
//	   memory (bounded), and what G pays for statistics is the per-request
//	   counting plus one refused connection attempt per interval. The
//	   report prints the failed starts.
//
// Every Athena process has a control plane (the logging database) in the
// private schema athena_bench_xp with API-key enforcement off, and a pool
// of the same size as the floor's; GOMAXPROCS is left to its default in
// every process. The bench process loads them with -xp-clients clients,
// interleaved like the in-process scenarios (B C G E E G C B, -rounds
// times), and over each measured slice reads from /proc/<pid>/stat the
// utime+stime of the server process and of every PostgreSQL backend
// serving it (found in pg_stat_activity by the application_name each
// process's pools carry). Per request means divided by the requests the
// server counted as answered in those slices (the floor's GET /served,
// Athena's athena_http_requests_total for /gateway/fetch), which the
// report compares with the requests sent. After each slice of G the bench
// waits until G's log entries are in the log tables, so the COPYs a
// slice caused are inside its window.

// Cross-process scenarios, named after the in-process ones they mirror.
const (
	xpFloor  scenario = "B) floor process"
	xpAthena scenario = "C) athena process"
	xpCached scenario = "E) athena process cache hit"
	xpTelOn  scenario = "G) athena process full telemetry"
)

// xpSchema is the control plane of the Athena processes: API keys off,
// and G's log and statistics tables.
const xpSchema = "athena_bench_xp"

// xpAppPrefix starts the application_name of every pool of the servers;
// the bench's own pool is xpAppPrefix+"bench".
const xpAppPrefix = "athena-bench-xp-"

// Cross-process goals, at goalFetchClients clients.
const (
	goalXPCPU       = 1.10 // C/B process CPU per request
	goalXPCacheCPU  = 0.60 // E/B process CPU per request
	goalXPTelemetry = 0.90 // G/C requests/s
)

// xpRun is one cross-process scenario: the client's view (result, over
// the measured slices) and the server's.
type xpRun struct {
	Scenario scenario `json:"scenario"`
	Clients  int      `json:"clients"`
	result
	// Sent is the requests made in the measured slices, failed ones
	// included; Served is what the server counted as answered then.
	Sent   int64 `json:"sent"`
	Served int64 `json:"served"`
	// ProcessCPU and PostgresCPU are utime+stime over the slices.
	ProcessCPU  time.Duration `json:"process_cpu_ns"`
	PostgresCPU time.Duration `json:"postgres_cpu_ns"`
	Backends    int           `json:"postgres_backends"` // distinct backends seen
	// Per request served, in microseconds.
	ProcessCPUPerRequest  float64 `json:"process_cpu_us_per_request"`
	PostgresCPUPerRequest float64 `json:"postgres_cpu_us_per_request"`
}

// xpRatios compare the cross-process scenarios.
type xpRatios struct {
	CPUCoverB   float64 `json:"process_cpu_c_over_b"`
	CPUEoverB   float64 `json:"process_cpu_e_over_b"`
	CPUGoverC   float64 `json:"process_cpu_g_over_c"`
	CPUGminusC  float64 `json:"process_cpu_g_minus_c_us"`
	PGCoverB    float64 `json:"postgres_cpu_c_over_b"`
	PGGminusC   float64 `json:"postgres_cpu_g_minus_c_us"`
	TotalCoverB float64 `json:"total_cpu_c_over_b"` // process + PostgreSQL
	RPSCoverB   float64 `json:"rps_c_over_b"`
	RPSEoverB   float64 `json:"rps_e_over_b"`
	RPSGoverC   float64 `json:"rps_g_over_c"`
}

// xpTelemetry is what G's telemetry did over the whole run, read from its
// /metrics at the end.
type xpTelemetry struct {
	RequestLog   logCounts `json:"request_log"`
	OperationLog logCounts `json:"operation_log"`
	// StatsStarts and StatsFailures are StatsFlush workflow starts (they
	// fail without Temporal).
	StatsStarts   int64 `json:"stats_flush_starts"`
	StatsFailures int64 `json:"stats_flush_start_failures"`
}

// xpReport is the cross-process part of the summary.
type xpReport struct {
	Clients   int           `json:"clients"`
	Requests  int64         `json:"requests_per_scenario,omitempty"` // -xp-requests
	Duration  time.Duration `json:"duration_ns,omitempty"`           // else -duration
	PoolConns int32         `json:"pool_conns"`
	Redis     bool          `json:"redis"` // E)'s read cache runs over Redis
	Build     time.Duration `json:"build_ns"`
	Runs      []xpRun       `json:"runs"`
	Ratios    xpRatios      `json:"ratios"`
	Telemetry xpTelemetry   `json:"telemetry"`
}

// run returns the run of scenario s (zero if it did not run).
func (r *xpReport) run(s scenario) xpRun {
	for _, x := range r.Runs {
		if x.Scenario == s {
			return x
		}
	}
	return xpRun{}
}

// xpServer is one server process under load.
type xpServer struct {
	sc       scenario
	child    *child
	url      string
	appNames []string     // application_name of its pools' sessions
	client   *http.Client // for checks and counts, not load
	athena   bool         // an athena serve process, not the floor
	counts   bool         // it serves /metrics (G); C and E count served requests client-side
	cp       *pgxpool.Pool
	fetched  int64 // fetches sent to it so far (checks, warm-ups, slices)
	answered int64 // other requests it answered (readiness polls, counts)
	log      *slog.Logger
}

// get makes one GET to the server and returns the body.
func (s *xpServer) get(ctx context.Context, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: GET %s: %w", s.sc, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	s.answered++
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: GET %s: %w", s.sc, path, statusError(resp.StatusCode, http.StatusOK, b))
	}
	return string(b), nil
}

func (s *xpServer) metrics(ctx context.Context) ([]metricSample, error) {
	text, err := s.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	return parseMetrics(text)
}

// served is the fetches the server has answered so far, by its own count.
// A process without metrics (C, E) has no count of its own: served is then
// what the load generator got answered (sliceServed), and this returns 0.
func (s *xpServer) served(ctx context.Context) (int64, error) {
	if s.athena && !s.counts {
		return 0, nil
	}
	if !s.athena {
		text, err := s.get(ctx, "/served")
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(text, 10, 64)
	}
	ms, err := s.metrics(ctx)
	if err != nil {
		return 0, err
	}
	n, _ := sumMetric(ms, "athena_http_requests_total", map[string]string{"route": "/gateway/fetch"})
	return int64(n), nil
}

func (s *xpServer) cpu(ctx context.Context, pool *pgxpool.Pool) (cpuReading, error) {
	return readCPU(ctx, pool, s.child.pid(), s.appNames)
}

// settle waits, for G, until every fetch sent so far has its request and
// operation log rows (polling the log tables from the bench's own
// connection, which costs G nothing), so the COPYs of a slice run inside
// its CPU window. It gives up after settleTimeout with a warning: entries
// dropped or failed never arrive, and the report's log counts say so.
// For the other scenarios it does nothing.
func (s *xpServer) settle(ctx context.Context) error {
	if s.sc != xpTelOn {
		return nil
	}
	deadline := time.Now().Add(settleTimeout)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		var reqs, ops int64
		if err := s.cp.QueryRow(ctx, `select (select count(*) from gateway_request_log), (select count(*) from gateway_operation_log)`).Scan(&reqs, &ops); err != nil {
			return fmt.Errorf("%s: count log rows: %w", s.sc, err)
		}
		if reqs >= s.fetched && ops >= s.fetched {
			return nil
		}
		if time.Now().After(deadline) {
			s.log.Warn("G) log rows still missing; going on", "want", s.fetched, "request_log", reqs, "operation_log", ops)
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// xpSetup is what crossProcess starts and must release.
type xpSetup struct {
	dir     string
	pool    *pgxpool.Pool // the bench's: fixture, pg_stat_activity
	cp      *pgxpool.Pool // the control plane schema
	servers []*xpServer
	log     *slog.Logger
}

func (x *xpSetup) close() {
	for _, s := range x.servers {
		err := s.child.stop(30 * time.Second)
		// G's last statistics flush cannot start its workflow (no Temporal
		// runs here), so its shutdown fails and it exits 1 by design; only
		// a kill is worth a warning for G.
		if err != nil && (s.sc != xpTelOn || errors.Is(err, errKilled)) {
			x.log.Warn("stop server process", "scenario", s.sc, "err", err)
		}
		s.client.CloseIdleConnections()
	}
	if x.cp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := x.cp.Exec(ctx, truncateTelemetrySQL); err != nil {
			x.log.Warn("empty the log tables", "schema", xpSchema, "err", err)
		}
		cancel()
		x.cp.Close()
	}
	if x.pool != nil {
		x.pool.Close()
	}
	if x.dir != "" {
		_ = os.RemoveAll(x.dir)
	}
}

// withParams returns the database URL with runtime parameters set.
func withParams(dbURL string, params map[string]string) (string, error) {
	u, err := url.Parse(dbURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("the cross-process measurement needs a postgres:// database URL, got %q", u.Redacted())
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// athenaConfigYAML is the configuration file of one Athena process.
func athenaConfigYAML(port, temporalPort int, poolConns int32, tenantURI, cpURI, redisURL string, cacheOn, telemetryOn bool) string {
	// Metrics go with the rest of the telemetry: on in G only.
	return fmt.Sprintf(`# Written by athena-bench for one cross-process scenario.
api:
  host: 127.0.0.1
  port: %d
postgres:
  max_conns: %d
cache:
  enabled: %t
telemetry:
  enabled: %t
  metrics: %[4]t
redis:
  url: %q
temporal:
  # Nothing listens here: G's statistics flushes fail to start (see xp.go).
  address: 127.0.0.1:%d
control_plane:
  client: athena_logging
  # athena-bench migrated the schema already.
  migrate_on_start: false
postgres_clients:
  %s:
    uri: %q
    exposed_schemas: [%s]
  athena_logging: %q
`, port, poolConns, cacheOn, telemetryOn, redisURL, temporalPort, benchClient, tenantURI, benchSchema, cpURI)
}

// setupXPControlPlane creates and migrates the Athena processes' control
// plane in xpSchema, turns API-key enforcement off and empties the log and
// statistics tables.
func setupXPControlPlane(ctx context.Context, bench *pgxpool.Pool, dbURL string) (*pgxpool.Pool, error) {
	if _, err := bench.Exec(ctx, `create schema if not exists `+xpSchema); err != nil {
		return nil, fmt.Errorf("create schema %s: %w", xpSchema, err)
	}
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	pc.MaxConns = 2
	pc.ConnConfig.RuntimeParams["application_name"] = xpAppPrefix + "bench-cp"
	pc.ConnConfig.RuntimeParams["search_path"] = xpSchema
	cp, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open control-plane pool: %w", err)
	}
	if _, _, err := postgres.Migrate(ctx, cp); err != nil {
		cp.Close()
		return nil, fmt.Errorf("control plane in %s: %w", xpSchema, err)
	}
	off := false
	if _, err := postgres.NewKeyStore(cp).SetConfig(ctx, &off, nil); err != nil {
		cp.Close()
		return nil, fmt.Errorf("turn API-key enforcement off in %s: %w", xpSchema, err)
	}
	if _, err := cp.Exec(ctx, truncateTelemetrySQL); err != nil {
		cp.Close()
		return nil, fmt.Errorf("empty the log tables in %s: %w", xpSchema, err)
	}
	return cp, nil
}

// redisAnswers reports whether Redis at url answers a PING.
func redisAnswers(ctx context.Context, url string) bool {
	if url == "" {
		return false
	}
	c, err := cache.NewRedis(url)
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return cache.Ping(ctx, c) == nil
}

// startFloor starts B.
func (x *xpSetup) startFloor(ctx context.Context, bin, dbURL string, poolConns int32) error {
	app := xpAppPrefix + "B"
	cmd := exec.Command(bin, "-database-url", dbURL, "-max-conns", strconv.Itoa(int(poolConns)), "-application-name", app)
	cmd.Env = childEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	c, err := startChild(string(xpFloor), cmd)
	if err != nil {
		return err
	}
	s := &xpServer{sc: xpFloor, child: c, appNames: []string{app}, client: newHTTPClient(1), cp: x.cp, log: x.log}
	x.servers = append(x.servers, s)
	t := time.NewTimer(readyTimeout)
	defer t.Stop()
	select {
	case u, ok := <-readListening(stdout):
		if !ok {
			<-c.done
			return c.exited()
		}
		s.url = u
	case <-t.C:
		return fmt.Errorf("%s did not start listening within %s\n%s", xpFloor, readyTimeout, c.stderr.String())
	case <-ctx.Done():
		return ctx.Err()
	}
	return waitReady(ctx, c, s.client, s.url+"/served", &s.answered)
}

// startAthena starts one `athena serve` for sc with a configuration file
// written to x.dir.
func (x *xpSetup) startAthena(ctx context.Context, sc scenario, bin, dbURL, redisURL string, poolConns int32, cacheOn, telemetryOn bool) error {
	tag := string(sc[:1]) // "C", "E", "G"
	app := xpAppPrefix + tag
	tenant, err := withParams(dbURL, map[string]string{"application_name": app})
	if err != nil {
		return err
	}
	// The control plane's sessions, and with them G's logging pool (which
	// takes the control plane's application_name when it is not the
	// default), carry app+"-cp".
	cpURI, err := withParams(dbURL, map[string]string{"application_name": app + "-cp", "search_path": xpSchema})
	if err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	temporalPort, err := freePort()
	if err != nil {
		return err
	}
	path := filepath.Join(x.dir, "athena-"+tag+".yaml")
	if err := os.WriteFile(path, []byte(athenaConfigYAML(port, temporalPort, poolConns, tenant, cpURI, redisURL, cacheOn, telemetryOn)), 0o600); err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve", "-config", path, "-log-level", "warn")
	cmd.Env = childEnv()
	c, err := startChild(string(sc), cmd)
	if err != nil {
		return err
	}
	s := &xpServer{sc: sc, child: c, url: fmt.Sprintf("http://127.0.0.1:%d", port), appNames: []string{app, app + "-cp"},
		client: newHTTPClient(1), athena: true, counts: telemetryOn, cp: x.cp, log: x.log}
	x.servers = append(x.servers, s)
	return waitReady(ctx, c, s.client, s.url+"/ping", &s.answered)
}

// check proves each process measures what it claims before anything is
// measured: every one answers the fetch; E answers a repeated fetch from
// its local cache; C records no logs and no statistics; G has a log writer
// and a statistics aggregator and writes a fetch's log rows.
func (x *xpSetup) check(ctx context.Context) error {
	for _, s := range x.servers {
		if s.athena && !s.counts {
			// Telemetry off includes the metrics: /metrics is not served.
			if _, err := s.get(ctx, "/metrics"); err == nil {
				return fmt.Errorf("check %s: /metrics answers although telemetry.metrics is false", s.sc)
			}
		}
		if s.sc == xpCached {
			if err := checkCacheHit(ctx, s.url); err != nil {
				return fmt.Errorf("%s: %w", s.sc, err)
			}
			s.fetched += 2
			continue
		}
		s.fetched++
		if err := athenaFetch(s.client, s.url, "")(ctx, rowOf(1)); err != nil {
			return fmt.Errorf("check %s: %w", s.sc, err)
		}
		if !s.counts {
			continue
		}
		ms, err := s.metrics(ctx)
		if err != nil {
			return err
		}
		_, logs := sumMetric(ms, "athena_log_written_total", nil)
		_, stats := sumMetric(ms, "athena_stats_pending_keys", nil)
		if want := s.sc == xpTelOn; logs != want || stats != want {
			return fmt.Errorf("check %s: log writer %t, statistics %t; want %t and %t", s.sc, logs, stats, want, want)
		}
		if s.sc == xpTelOn {
			if err := s.settle(ctx); err != nil {
				return err
			}
			var n int64
			if err := x.cp.QueryRow(ctx, `select count(*) from gateway_operation_log`).Scan(&n); err != nil || n == 0 {
				return fmt.Errorf("check %s: no operation log row after a fetch (%v): logs are not written", s.sc, err)
			}
		}
	}
	return nil
}

// crossProcess runs the cross-process measurement and prints its report
// to w. It returns the report and its goals.
func crossProcess(ctx context.Context, opts options, w io.Writer, log *slog.Logger) (*xpReport, []goal, error) {
	progress := func(line string) {
		if opts.progress {
			fmt.Fprintln(w, line)
		}
	}
	rep := &xpReport{Clients: opts.xpClients, Requests: opts.xpRequests, PoolConns: int32(max(16, opts.xpClients))}
	if opts.xpRequests == 0 {
		rep.Duration = opts.duration
	}
	x := &xpSetup{log: log}
	defer x.close()
	var err error
	if x.dir, err = os.MkdirTemp("", "athena-bench-xp-"); err != nil {
		return nil, nil, err
	}
	progress("cross-process: building athena (cmd/athena) and the floor (cmd/athena-bench/floor) with go build ...")
	start := time.Now()
	athenaBin, floorBin, err := buildServers(ctx, x.dir)
	if err != nil {
		return nil, nil, err
	}
	rep.Build = time.Since(start)

	pc, err := pgxpool.ParseConfig(opts.databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("parse database URL: %w", err)
	}
	pc.MaxConns = 2
	pc.ConnConfig.RuntimeParams["application_name"] = xpAppPrefix + "bench"
	if x.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		return nil, nil, fmt.Errorf("open pool: %w", err)
	}
	if err := setupFixture(ctx, x.pool); err != nil {
		return nil, nil, err
	}
	if x.cp, err = setupXPControlPlane(ctx, x.pool, opts.databaseURL); err != nil {
		return nil, nil, err
	}
	redisURL := ""
	if rep.Redis = redisAnswers(ctx, opts.xpRedis); rep.Redis {
		redisURL = opts.xpRedis
	}

	progress("cross-process: starting the floor and three athena serve processes ...")
	if err := x.startFloor(ctx, floorBin, opts.databaseURL, rep.PoolConns); err != nil {
		return nil, nil, err
	}
	for _, a := range []struct {
		sc                 scenario
		redis              string
		cacheOn, telemetry bool
	}{
		{xpAthena, "", false, false},
		{xpTelOn, "", false, true},
		{xpCached, redisURL, true, false},
	} {
		if err := x.startAthena(ctx, a.sc, athenaBin, opts.databaseURL, a.redis, rep.PoolConns, a.cacheOn, a.telemetry); err != nil {
			return nil, nil, err
		}
	}
	if err := x.check(ctx); err != nil {
		return nil, nil, err
	}

	redisNote := "process-local (Redis at -xp-redis does not answer)"
	if rep.Redis {
		redisNote = "over Redis " + opts.xpRedis
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "cross-process: each scenario a process of its own (built in %s), loaded by this one with %d clients; pools of %d conns; GOMAXPROCS default (%d CPUs)\n",
		rep.Build.Round(100*time.Millisecond), rep.Clients, rep.PoolConns, runtime.NumCPU())
	fmt.Fprintf(w, "  B) gin + pgx, one json_agg statement; C) athena serve, cache and all telemetry off (no logs, statistics or metrics); E) C with the read cache on, %s;\n", redisNote)
	fmt.Fprintf(w, "  G) C with logs (COPY to %s) and statistics on; no Temporal runs, so statistics are counted but their flush workflow fails to start\n", xpSchema)
	what := fmt.Sprintf("%s each", opts.duration)
	if opts.xpRequests > 0 {
		what = fmt.Sprintf("%d requests each", opts.xpRequests)
	}
	progress(fmt.Sprintf("running B C G E interleaved (B C G E E G C B, %d×), %d clients, %s ...", opts.rounds, rep.Clients, what))
	if rep.Runs, err = x.measure(ctx, opts); err != nil {
		return nil, nil, err
	}
	rep.Ratios = xpRatiosOf(rep)
	for _, s := range x.servers {
		if s.sc != xpTelOn {
			continue
		}
		ms, err := s.metrics(ctx)
		if err != nil {
			return nil, nil, err
		}
		rep.Telemetry = xpTelemetryOf(ms)
	}
	printCrossProcess(w, rep)
	goals := xpGoals(rep)
	for _, g := range goals {
		printGoal(w, g)
	}
	return rep, goals, nil
}

// measure warms every server up, then runs the palindrome B C G E E G C
// B opts.rounds times, reading each server's CPU and served count around
// each of its slices.
func (x *xpSetup) measure(ctx context.Context, opts options) ([]xpRun, error) {
	clients := opts.xpClients
	order := []scenario{xpFloor, xpAthena, xpTelOn, xpCached}
	byScenario := map[scenario]*xpServer{}
	for _, s := range x.servers {
		byScenario[s.sc] = s
	}
	do := make([]request, len(order))
	for i, sc := range order {
		s := byScenario[sc]
		hc := newHTTPClient(clients)
		defer hc.CloseIdleConnections()
		if sc == xpCached {
			do[i] = cachedFetch(hc, s.url)
		} else {
			do[i] = athenaFetch(hc, s.url, "")
		}
	}
	slices := 2 * opts.rounds
	// budget is the requests of slice j (0: the slice runs for half).
	budget := func(j int) int64 {
		n := opts.xpRequests
		return n*int64(j+1)/int64(slices) - n*int64(j)/int64(slices)
	}
	half := opts.duration / time.Duration(slices)
	warmBudget := int64(0)
	if opts.xpRequests > 0 {
		warmBudget = min(opts.xpRequests, max(opts.xpRequests/4, int64(4*clients)))
	}
	warmErrs := make([]result, len(order))
	for i, sc := range order {
		s := byScenario[sc]
		sm := loadBudget(ctx, clients, opts.warmup(), warmBudget, 0, do[i])
		warmErrs[i] = summarize(sm)
		s.fetched += sent(sm)
		if err := s.settle(ctx); err != nil {
			return nil, err
		}
	}

	var seq []int
	for range opts.rounds {
		for i := range order {
			seq = append(seq, i)
		}
		for i := len(order) - 1; i >= 0; i-- {
			seq = append(seq, i)
		}
	}
	samples := make([][]sample, len(order))
	runs := make([]xpRun, len(order))
	backends := make([]map[int]bool, len(order))
	sliceOf := make([]int, len(order)) // slices run so far, per scenario
	for n, i := range seq {
		s := byScenario[order[i]]
		served0, err := s.served(ctx)
		if err != nil {
			return nil, err
		}
		cpu0, err := s.cpu(ctx, x.pool)
		if err != nil {
			return nil, err
		}
		seedBase := uint64(n/len(order)+1) << 32
		sm := loadBudget(ctx, clients, half, budget(sliceOf[i]), seedBase, do[i])
		sliceOf[i]++
		s.fetched += sent(sm)
		if err := s.settle(ctx); err != nil {
			return nil, err
		}
		cpu1, err := s.cpu(ctx, x.pool)
		if err != nil {
			return nil, err
		}
		served1, err := s.served(ctx)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("interrupted: %w", err)
		}
		samples[i] = append(samples[i], sm)
		proc, pg := cpuSpent(cpu0, cpu1)
		r := &runs[i]
		r.ProcessCPU += proc
		r.PostgresCPU += pg
		r.Served += served1 - served0
		if s.athena && !s.counts {
			r.Served += sliceServed(sm)
		}
		r.Sent += sent(sm)
		if backends[i] == nil {
			backends[i] = map[int]bool{}
		}
		for pid := range cpu1.backends {
			backends[i][pid] = true
		}
	}
	for i, sc := range order {
		r := &runs[i]
		r.Scenario, r.Clients = sc, clients
		r.result = summarize(samples[i]...)
		r.Errors += warmErrs[i].Errors
		if r.FirstErr == "" {
			r.FirstErr = warmErrs[i].FirstErr
		}
		r.Backends = len(backends[i])
		if r.Served > 0 {
			r.ProcessCPUPerRequest = float64(r.ProcessCPU) / float64(time.Microsecond) / float64(r.Served)
			r.PostgresCPUPerRequest = float64(r.PostgresCPU) / float64(time.Microsecond) / float64(r.Served)
		}
	}
	return runs, nil
}

// sent is the requests a sample made, failed ones included.
// sliceServed is what the load generator got answered without error in
// one slice: the served count of a process that keeps none itself.
func sliceServed(sm sample) int64 {
	var n int64
	for _, st := range sm.stats {
		n += int64(len(st.latencies))
	}
	return n
}

func sent(sm sample) int64 {
	var n int64
	for _, st := range sm.stats {
		n += int64(len(st.latencies)) + st.errors
	}
	return n
}

func xpRatiosOf(rep *xpReport) xpRatios {
	b, c, e, g := rep.run(xpFloor), rep.run(xpAthena), rep.run(xpCached), rep.run(xpTelOn)
	return xpRatios{
		CPUCoverB:   div(c.ProcessCPUPerRequest, b.ProcessCPUPerRequest),
		CPUEoverB:   div(e.ProcessCPUPerRequest, b.ProcessCPUPerRequest),
		CPUGoverC:   div(g.ProcessCPUPerRequest, c.ProcessCPUPerRequest),
		CPUGminusC:  g.ProcessCPUPerRequest - c.ProcessCPUPerRequest,
		PGCoverB:    div(c.PostgresCPUPerRequest, b.PostgresCPUPerRequest),
		PGGminusC:   g.PostgresCPUPerRequest - c.PostgresCPUPerRequest,
		TotalCoverB: div(c.ProcessCPUPerRequest+c.PostgresCPUPerRequest, b.ProcessCPUPerRequest+b.PostgresCPUPerRequest),
		RPSCoverB:   div(c.RPS, b.RPS),
		RPSEoverB:   div(e.RPS, b.RPS),
		RPSGoverC:   div(g.RPS, c.RPS),
	}
}

// xpTelemetryOf reads G's log and statistics counters from its /metrics.
func xpTelemetryOf(ms []metricSample) xpTelemetry {
	count := func(name string, labels map[string]string) int64 {
		v, _ := sumMetric(ms, name, labels)
		return int64(v)
	}
	logs := func(log string) logCounts {
		l := map[string]string{"log": log}
		return logCounts{
			Written: count("athena_log_written_total", l),
			Dropped: count("athena_log_dropped_total", l),
			Failed:  count("athena_log_write_failures_total", l),
		}
	}
	wf := map[string]string{"workflow": "StatsFlush"}
	return xpTelemetry{
		RequestLog:    logs("request"),
		OperationLog:  logs("operation"),
		StatsStarts:   count("athena_temporal_workflow_starts_total", wf),
		StatsFailures: count("athena_temporal_workflow_failures_total", wf),
	}
}

// xpGoals checks C/B and E/B process CPU per request and G/C throughput.
// They are read at goalFetchClients clients only. A run with failed
// requests, or one where a server did not count every request sent,
// measured something else: the goals then SKIP. G/C fails whatever the
// ratio if G lost log entries (as the in-process g/f goal does).
func xpGoals(rep *xpReport) []goal {
	r := rep.Ratios
	gs := []goal{
		{Name: fmt.Sprintf("C/B process CPU/request <= %.2f at %d clients (cross-process)", goalXPCPU, goalFetchClients), Value: r.CPUCoverB, Outcome: passFail(r.CPUCoverB > 0 && r.CPUCoverB <= goalXPCPU)},
		{Name: fmt.Sprintf("E/B process CPU/request <= %.2f at %d clients (cross-process)", goalXPCacheCPU, goalFetchClients), Value: r.CPUEoverB, Outcome: passFail(r.CPUEoverB > 0 && r.CPUEoverB <= goalXPCacheCPU)},
		{Name: fmt.Sprintf("G/C requests/s >= %.2f at %d clients (cross-process)", goalXPTelemetry, goalFetchClients), Value: r.RPSGoverC, Outcome: passFail(r.RPSGoverC >= goalXPTelemetry)},
	}
	reason := ""
	for _, x := range rep.Runs {
		switch {
		case x.Errors > 0:
			reason = fmt.Sprintf("%s had failed requests", x.Scenario)
		case x.Sent != x.Served:
			reason = fmt.Sprintf("%s served %d of %d requests sent", x.Scenario, x.Served, x.Sent)
		}
	}
	if rep.Clients != goalFetchClients {
		reason = fmt.Sprintf("-xp-clients is not %d", goalFetchClients)
	}
	for i := range gs {
		if reason != "" {
			gs[i].Outcome, gs[i].Reason = "SKIP", reason
		}
	}
	if t := rep.Telemetry; gs[2].Outcome != "SKIP" {
		switch lost := t.RequestLog.lost() + t.OperationLog.lost(); {
		case t.RequestLog.Written == 0 || t.OperationLog.Written == 0:
			gs[2].Outcome, gs[2].Reason = "FAIL", "G) wrote no log entries"
		case lost > 0:
			gs[2].Outcome = "FAIL"
			gs[2].Reason = fmt.Sprintf("G) lost %d of %d log entries: logging was not full", lost, t.RequestLog.accounted()+t.OperationLog.accounted())
		}
	}
	return gs
}

// printCrossProcess writes the cross-process table and ratios.
func printCrossProcess(w io.Writer, rep *xpReport) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "fetch one row by primary key, servers in separate processes (CPU: utime+stime from /proc/<pid>/stat over the measured slices, per request served)")
	fmt.Fprintf(w, "%-33s %7s %9s %9s %9s %9s %9s %11s %9s %9s %6s\n", "scenario", "clients", "req/s", "p50", "p99", "sent", "served", "process/req", "pg/req", "backends", "errors")
	for _, r := range rep.Runs {
		fmt.Fprintf(w, "%-33s %7d %9.0f %9s %9s %9d %9d %9.1fµs %7.1fµs %9d %6d\n", r.Scenario, r.Clients, r.RPS, fmtDur(r.P50), fmtDur(r.P99),
			r.Sent, r.Served, r.ProcessCPUPerRequest, r.PostgresCPUPerRequest, r.Backends, r.Errors)
	}
	r := rep.Ratios
	fmt.Fprintln(w)
	fmt.Fprintf(w, "process CPU/request at %2d clients: C/B = %.2f  E/B = %.2f  G/C = %.2f (G−C = %+.1fµs)\n", rep.Clients, r.CPUCoverB, r.CPUEoverB, r.CPUGoverC, r.CPUGminusC)
	fmt.Fprintf(w, "PostgreSQL CPU/request at %2d clients: C/B = %.2f  G−C = %+.1fµs; process + PostgreSQL: C/B = %.2f\n", rep.Clients, r.PGCoverB, r.PGGminusC, r.TotalCoverB)
	fmt.Fprintf(w, "requests/s at %2d clients: C/B = %.2f  E/B = %.2f  G/C = %.2f\n", rep.Clients, r.RPSCoverB, r.RPSEoverB, r.RPSGoverC)
	t := rep.Telemetry
	fmt.Fprintf(w, "G) logs written/dropped/failed: request %s, operation %s; statistics flush workflows started %d, failed to start %d (no Temporal)\n",
		t.RequestLog, t.OperationLog, t.StatsStarts, t.StatsFailures)
	for _, x := range rep.Runs {
		if x.Sent != x.Served {
			fmt.Fprintf(w, "WARNING: %s served %d requests of %d sent in the measured slices\n", x.Scenario, x.Served, x.Sent)
		}
	}
}
