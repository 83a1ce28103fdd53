// Command athena-bench is what `make bench` runs. In one process, against
// one PostgreSQL table, it reads a row seven ways:
//
//	a) direct pgx: the query alone, no HTTP;
//	b) the floor: a bare gin + pgx handler doing that query behind HTTP + JSON;
//	c) Athena: POST /gateway/fetch through the full engine from api.New,
//	   without API keys, with Prometheus metrics on (no request log, no
//	   statistics);
//	d) Athena + API key: the same request with X-Athena-Key, to a second
//	   engine over the same registry whose key enforcement is on;
//	e) Athena, cache hit: one fixed request, over and over, to a third
//	   engine with the read cache on (c and d run without it);
//	f) Athena, telemetry off: c)'s request to an engine over the same
//	   registry with every telemetry off (no metrics, no request or
//	   operation log, no statistics);
//	g) Athena, full telemetry: the same to an engine with all of it on as
//	   in production: metrics, the LogWriter writing gateway_request_log and
//	   gateway_operation_log with COPY on a logging pool of its own, and the
//	   statistics aggregator, whose delta is applied every 5s (telemetry.go);
//
// at each -concurrency level for -duration, and prints requests/s, p50 and
// p99 with the ratios c/b, b/a, d/c, e/b, e/c, g/f and c/f. b) to g) run
// interleaved (b c d f g e e g f d c b, -rounds times, in equal slices) so drift
// and noise weigh on all of them alike; after each load on g) the bench
// waits until g)'s log entries are written, so no scenario pays for g)'s
// backlog. It prints how many log entries g) wrote, dropped and failed at
// each level and how many statistics flushes it applied: g/f means
// something only if g) logged every request.
// It then releases 64 identical requests for a row nobody read at once at
// an engine with an empty cache and counts, with a pgx tracer, the
// statements that reach PostgreSQL (the read cache's single flight should
// make it one). Last it times one bulk PUT /gateway/insert of -insert-rows
// rows against the same rows sent one by one. Everything runs on loopback.
//
// Then it compares c)'s fetch with the admission limiter off and on (limits
// never reached; admission.go): req/s and this process's CPU per request.
//
// Then, unless -cross-process=false, it measures the same fetch with the
// servers as processes of their own (xp.go): it builds a minimal gin+pgx
// floor (cmd/athena-bench/floor) and the real `athena serve` with go
// build, starts the floor and three Athena processes (cache and logs off;
// cache hit; full telemetry), loads them from this process, and reports
// beside req/s and p50/p99 each process's CPU time per request and that of
// the PostgreSQL backends serving it, read from /proc. -in-process=false
// runs that part alone; -xp-requests bounds it by requests (the tests'
// scaled mode).
//
// It is a report, not a test: a missed GOAL still exits 0. A failed request
// exits 1, because numbers measured over failures mean nothing.
//
// The database comes from ATHENA_BENCH_DATABASE_URL; the program keeps to
// its own schemas: athena_bench for the data, athena_bench_cp (migrated
// like a logging database) for the API keys of d) and the logs and
// statistics of g), athena_bench_xp the control plane of the
// cross-process Athena processes. The key it creates is deleted at the end, and the log
// and statistics tables are emptied at the start and at the end.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/api"
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/cache"
)

const defaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

const (
	exitOK     = 0
	exitFailed = 1 // failed requests or a setup error
	exitUsage  = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the parsed flags.
type options struct {
	databaseURL string
	duration    time.Duration
	levels      []int
	jsonOut     bool
	skipInsert  bool
	insertRows  int
	progress    bool
	cpuProfile  string
	rounds      int
	// The cross-process measurement (xp.go).
	inProcess    bool
	crossProcess bool
	xpClients    int
	xpRequests   int64
	xpRedis      string
	// onlyAdmission runs the admission comparison alone (admission.go).
	onlyAdmission bool
}

// warmup runs before each measured run so pools and keep-alive connections
// are open and the code is hot; its latencies are discarded.
func (o options) warmup() time.Duration { return min(o.duration/5, time.Second) }

// poolConns sizes every pool (the floor's and Athena's alike): at least 16,
// and never fewer connections than workers.
func (o options) poolConns() int32 { return int32(max(16, slices.Max(o.levels))) }

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{databaseURL: os.Getenv("ATHENA_BENCH_DATABASE_URL")}
	if o.databaseURL == "" {
		o.databaseURL = defaultDatabaseURL
	}
	fs := flag.NewFlagSet("athena-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per scenario and concurrency (plus a short warm-up)")
	levels := fs.String("concurrency", "1,16", "comma-separated numbers of concurrent clients")
	fs.BoolVar(&o.jsonOut, "json", false, "print a JSON summary to stdout (the human report then goes to stderr)")
	fs.BoolVar(&o.skipInsert, "skip-insert", false, "skip the bulk-versus-single-row insert comparison")
	fs.IntVar(&o.insertRows, "insert-rows", 1000, "rows in the insert comparison")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (load generator included) to this file; samples carry the pprof labels engine=<scenario> (server side) and load=<scenario> (client side, measured slices)")
	fs.BoolVar(&o.progress, "progress", true, "print one line as each scenario starts")
	fs.IntVar(&o.rounds, "rounds", 3, "times the interleaved sequence b…g g…b is repeated, each slice duration/(2×rounds): finer slices follow this machine's drift more closely")
	fs.BoolVar(&o.inProcess, "in-process", true, "run the in-process scenarios a) to g), the cold reads and the insert comparison")
	fs.BoolVar(&o.crossProcess, "cross-process", true, "run the cross-process scenarios B, C, E, G: the floor and `athena serve` built with go build, each a process of its own, with their CPU time per request")
	fs.IntVar(&o.xpClients, "xp-clients", goalFetchClients, "concurrent clients of the cross-process scenarios")
	fs.Int64Var(&o.xpRequests, "xp-requests", 0, "scaled mode: each cross-process scenario makes exactly this many measured requests instead of running for -duration (0: -duration)")
	fs.StringVar(&o.xpRedis, "xp-redis", envOr("ATHENA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis of scenario E's read cache; empty, or not answering: a process-local cache")
	fs.BoolVar(&o.onlyAdmission, "only-admission", false, "run only the admission limiter off/on comparison")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.duration <= 0 {
		return o, fmt.Errorf("-duration must be positive")
	}
	if o.insertRows <= 0 {
		return o, fmt.Errorf("-insert-rows must be positive")
	}
	if o.rounds <= 0 {
		return o, fmt.Errorf("-rounds must be positive")
	}
	if o.xpClients <= 0 || o.xpRequests < 0 {
		return o, fmt.Errorf("-xp-clients must be positive and -xp-requests not negative")
	}
	if !o.inProcess && !o.crossProcess {
		return o, fmt.Errorf("-in-process=false and -cross-process=false leave nothing to run")
	}
	var err error
	if o.levels, err = parseLevels(*levels); err != nil {
		return o, err
	}
	return o, nil
}

// parseLevels reads "1,16" into [1 16].
func parseLevels(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-concurrency: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opts, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "athena-bench: %v\n", err)
		return exitUsage
	}
	report := stdout
	if opts.jsonOut {
		report = stderr // keep stdout for the JSON alone
	}
	gin.SetMode(gin.ReleaseMode)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	if opts.cpuProfile != "" {
		f, err := os.Create(opts.cpuProfile)
		if err != nil {
			fmt.Fprintf(stderr, "athena-bench: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(stderr, "athena-bench: %v\n", err)
			return exitFailed
		}
		defer pprof.StopCPUProfile()
	}
	sum, err := bench(ctx, opts, report, log)
	if err != nil {
		fmt.Fprintf(stderr, "athena-bench: %v\n", err)
		return exitFailed
	}
	if opts.jsonOut {
		if err := printJSON(stdout, sum); err != nil {
			fmt.Fprintf(stderr, "athena-bench: write JSON: %v\n", err)
			return exitFailed
		}
	}
	if sum.FailedTotal > 0 {
		printFailures(stderr, sum)
		return exitFailed
	}
	return exitOK
}

// envOr is the environment variable key, or def when it is unset or empty.
func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// bench runs the in-process part, then the cross-process part (xp.go),
// each unless its flag turns it off, and prints the human report to w.
// The in-process part's pools and servers are closed before the
// cross-process servers start.
func bench(ctx context.Context, opts options, w io.Writer, log *slog.Logger) (summary, error) {
	sum := summary{Duration: opts.duration, Warmup: opts.warmup(), PoolConns: opts.poolConns()}
	if opts.onlyAdmission {
		return sum, benchAdmissionOnly(ctx, opts, w, log, &sum)
	}
	if opts.inProcess {
		if err := benchInProcess(ctx, opts, w, log, &sum); err != nil {
			return sum, err
		}
	}
	if opts.crossProcess {
		rep, goals, err := crossProcess(ctx, opts, w, log)
		if err != nil {
			return sum, fmt.Errorf("cross-process: %w", err)
		}
		sum.CrossProcess = rep
		sum.Goals = append(sum.Goals, goals...)
		for _, r := range rep.Runs {
			sum.FailedTotal += r.Errors
		}
	}
	return sum, nil
}

// benchInProcess sets up the fixture, the key store, g)'s telemetry and
// the servers, runs every in-process scenario and prints its report to w.
func benchInProcess(ctx context.Context, opts options, w io.Writer, log *slog.Logger, sum *summary) error {
	pool, err := openPool(ctx, opts.databaseURL, sum.PoolConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := setupFixture(ctx, pool); err != nil {
		return err
	}

	floor, err := serve(string(scenarioFloor), floorEngine(pool))
	if err != nil {
		return err
	}
	defer closeServer(floor, log)
	ath := newAthena(opts.databaseURL, sum.PoolConns, opts.insertRows, log)
	defer ath.reg.Close()
	athena, err := serve(string(scenarioAthena), ath.engine(api.Deps{}))
	if err != nil {
		return err
	}
	defer closeServer(athena, log)

	readCache, err := cache.New(cache.Options{Logger: log})
	if err != nil {
		return err
	}
	defer readCache.Close(context.Background())
	cached, err := serve(string(scenarioCached), ath.engineWith(ath.reg, api.Deps{}, readCache))
	if err != nil {
		return err
	}
	defer closeServer(cached, log)
	if err := checkCacheHit(ctx, cached.url); err != nil {
		return err
	}

	keys, err := setupKeys(ctx, pool, opts.databaseURL, log)
	if err != nil {
		return err
	}
	defer keys.close() // after the keyed server below has stopped
	keyed, err := serve(string(scenarioKeyed), ath.engine(keys.deps()))
	if err != nil {
		return err
	}
	defer closeServer(keyed, log)
	if err := keys.check(ctx, keyed.url); err != nil {
		return err
	}

	telOff, err := serve(string(scenarioTelOff), ath.engineTelemetry(telemetryDeps{}))
	if err != nil {
		return err
	}
	defer closeServer(telOff, log)
	tel, err := setupTelemetry(ctx, keys, ath.engineTelemetry, log)
	if err != nil {
		return err
	}
	defer tel.finish() // before keys.close closes the control plane; a no-op after the call below
	if err := tel.check(ctx, telOff.url); err != nil {
		return err
	}

	cc := pool.Config().ConnConfig
	fmt.Fprintf(w, "athena-bench: %s:%d/%s, %d rows, pools of %d conns, %s per run after %s warm-up, GOMAXPROCS %d\n",
		cc.Host, cc.Port, cc.Database, itemRows, sum.PoolConns, opts.duration, sum.Warmup, runtime.GOMAXPROCS(0))
	fmt.Fprintf(w, "d) key %s: client %s, right %s, enforcement on (fail_closed) in schema %s, key cache TTL %s\n",
		keys.keyID, benchClient, keyRight, controlPlaneSchema, auth.DefaultCacheTTL)

	progress := func(line string) {
		if opts.progress {
			fmt.Fprintln(w, line)
		}
	}
	drivers := map[scenario]func(*http.Client) request{
		scenarioDirect: func(*http.Client) request { return directFetch(pool) },
		scenarioFloor:  func(c *http.Client) request { return floorFetch(c, floor.url) },
		scenarioAthena: func(c *http.Client) request { return athenaFetch(c, athena.url, "") },
		scenarioKeyed:  func(c *http.Client) request { return athenaFetch(c, keyed.url, keys.key) },
		scenarioCached: func(c *http.Client) request { return cachedFetch(c, cached.url) },
		scenarioTelOff: func(c *http.Client) request { return athenaFetch(c, telOff.url, "") },
		scenarioTelOn:  func(c *http.Client) request { return athenaFetch(c, tel.srv.url, "") },
	}
	// After each load on g), wait for its log entries to be written.
	settle := map[scenario]func(context.Context){scenarioTelOn: tel.settle}
	// The order matters on a small shared machine: a scenario pays for what
	// its neighbour leaves behind. f) and g) sit together, away from e)
	// (cache hits allocate fastest: their GC debt used to land on f) and
	// inflate g/f), and e), whose goal has the widest margin, follows g)
	// (PostgreSQL's after-work of g)'s log writes used to land on d)).
	interleaved := []scenario{scenarioFloor, scenarioAthena, scenarioKeyed, scenarioTelOff, scenarioTelOn, scenarioCached}
	for _, n := range opts.levels {
		progress(fmt.Sprintf("running %s, %d clients, %s ...", scenarioDirect, n, opts.duration))
		sum.Fetch = append(sum.Fetch, measure(ctx, opts, n, scenarioDirect, drivers[scenarioDirect]))
		progress(fmt.Sprintf("running b) to g) interleaved (b c d f g e e g f d c b, %d× in slices of %s), %d clients, %s each ...", opts.rounds, opts.duration/time.Duration(2*opts.rounds), n, opts.duration))
		sum.Fetch = append(sum.Fetch, measureInterleaved(ctx, opts, n, interleaved, drivers, settle)...)
		tel.endLevel(n)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	sum.Telemetry = tel.finish()
	sum.Ratios = ratios(sum.Fetch, opts.levels)
	printFetch(w, sum.Fetch, sum.Ratios)
	printTelemetry(w, sum.Telemetry)
	for _, g := range fetchGoals(sum.Ratios, sum.Telemetry) {
		printGoal(w, g)
		sum.Goals = append(sum.Goals, g)
	}

	adm, ag, err := benchAdmission(ctx, opts, ath, w, log, progress)
	if err != nil {
		return fmt.Errorf("admission: %w", err)
	}
	sum.Admission = &adm
	printGoal(w, ag)
	sum.Goals = append(sum.Goals, ag)
	for _, r := range adm.Runs {
		sum.FailedTotal += r.Errors
	}

	progress(fmt.Sprintf("running %d concurrent identical cold reads, %d trials ...", coldReaders, coldTrials))
	cold := coldReads(ctx, ath, opts.databaseURL, sum.PoolConns, log)
	sum.Cold = &cold
	printCold(w, cold)
	cg := coldGoal(cold)
	printGoal(w, cg)
	sum.Goals = append(sum.Goals, cg)

	if !opts.skipInsert {
		client := newHTTPClient(1)
		ib := insertBench{pool: pool, client: client, url: athena.url, rows: opts.insertRows}
		rep := ib.run(ctx, progress)
		client.CloseIdleConnections()
		sum.Insert = &rep
		printInsert(w, rep)
		ig := insertGoal(rep)
		printGoal(w, ig)
		sum.Goals = append(sum.Goals, ig)
	}

	for _, r := range sum.Fetch {
		sum.FailedTotal += r.Errors
	}
	sum.FailedTotal += cold.Errors
	if sum.Insert != nil {
		sum.FailedTotal += sum.Insert.Errors
	}
	return nil
}

// measure warms one scenario up, then measures it. Warm-up failures count:
// a request that fails at any time is a failure.
func measure(ctx context.Context, opts options, clients int, sc scenario, driver func(*http.Client) request) fetchRun {
	hc := newHTTPClient(clients)
	defer hc.CloseIdleConnections()
	do := driver(hc)
	warm := load(ctx, clients, opts.warmup(), do)
	res := load(ctx, clients, opts.duration, do)
	res.Errors += warm.Errors
	if res.FirstErr == "" {
		res.FirstErr = warm.FirstErr
	}
	return fetchRun{Scenario: sc, Clients: clients, result: res}
}

// measureInterleaved measures scenarios interleaved at one concurrency:
// each warms up, then the palindrome s1 s2 … sn sn … s2 s1 runs
// opts.rounds times, each slice 1/(2×rounds) of the duration, so that
// drift over the run (thermal, a neighbour's load, autovacuum) weighs on
// every scenario alike rather than on whichever ran last; the ratios
// between them are what the goals judge. On this shared 2-core VM one
// palindrome still left ±10% between two identical engines; more,
// shorter slices follow the drift more closely. Throughput is requests over measured time; the percentiles are
// over both halves. settle[s], when set, runs after every load on s
// (warm-up included), between the measured slices: background work s left
// behind then does not weigh on the next scenario.
func measureInterleaved(ctx context.Context, opts options, clients int, scs []scenario, drivers map[scenario]func(*http.Client) request, settle map[scenario]func(context.Context)) []fetchRun {
	after := func(sc scenario) {
		if f := settle[sc]; f != nil {
			f(ctx)
		}
	}
	do := make([]request, len(scs))
	warm := make([]result, len(scs))
	for i, sc := range scs {
		hc := newHTTPClient(clients)
		defer hc.CloseIdleConnections()
		do[i] = drivers[sc](hc)
		warm[i] = load(ctx, clients, opts.warmup(), do[i])
		after(sc)
	}
	order := make([]int, 0, 2*len(scs)*opts.rounds)
	for range opts.rounds {
		for i := range scs {
			order = append(order, i)
		}
		for i := len(scs) - 1; i >= 0; i-- {
			order = append(order, i)
		}
	}
	half := opts.duration / time.Duration(2*opts.rounds)
	samples := make([][]sample, len(scs))
	for slice, i := range order {
		// Each half seeds its workers apart from the warm-up and the other
		// half; every scenario in the same half reads the same rows.
		seedBase := uint64(slice/len(scs)+1) << 32
		pprof.Do(ctx, pprof.Labels("load", string(scs[i])), func(ctx context.Context) {
			samples[i] = append(samples[i], loadSample(ctx, clients, half, seedBase, do[i]))
		})
		after(scs[i])
	}
	out := make([]fetchRun, len(scs))
	for i, sc := range scs {
		res := summarize(samples[i]...)
		res.Errors += warm[i].Errors
		if res.FirstErr == "" {
			res.FirstErr = warm[i].FirstErr
		}
		out[i] = fetchRun{Scenario: sc, Clients: clients, result: res}
	}
	// Reported in letter order, whatever order they ran in.
	slices.SortFunc(out, func(a, b fetchRun) int { return strings.Compare(string(a.Scenario), string(b.Scenario)) })
	return out
}

func closeServer(s *server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.close(ctx); err != nil {
		log.Warn("close server", "url", s.url, "err", err)
	}
}
