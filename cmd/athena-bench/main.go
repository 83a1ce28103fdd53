// Command athena-bench is what `make bench` runs. In one process, against
// one PostgreSQL table, it reads the same row three ways:
//
//	a) direct pgx: the query alone, no HTTP;
//	b) the floor: a bare gin + pgx handler doing that query behind HTTP + JSON;
//	c) Athena: POST /gateway/fetch through the full engine from api.New;
//
// at each -concurrency level for -duration, and prints requests/s, p50 and
// p99 with the ratios c/b and b/a. It then times one bulk PUT
// /gateway/insert of -insert-rows rows against the same rows sent one by
// one. Everything runs on loopback.
//
// It is a report, not a test: a missed GOAL still exits 0. A failed request
// exits 1, because numbers measured over failures mean nothing.
//
// The database comes from ATHENA_BENCH_DATABASE_URL; the program keeps to
// its own schema, athena_bench.
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
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
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
	fs.BoolVar(&o.progress, "progress", true, "print one line as each scenario starts")
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

// bench sets up the fixture and both servers, runs every scenario and
// prints the human report to w.
func bench(ctx context.Context, opts options, w io.Writer, log *slog.Logger) (summary, error) {
	sum := summary{Duration: opts.duration, Warmup: opts.warmup(), PoolConns: opts.poolConns()}
	pool, err := openPool(ctx, opts.databaseURL, sum.PoolConns)
	if err != nil {
		return sum, err
	}
	defer pool.Close()
	if err := setupFixture(ctx, pool); err != nil {
		return sum, err
	}

	floor, err := serve(floorEngine(pool))
	if err != nil {
		return sum, err
	}
	defer closeServer(floor, log)
	engine, reg := athenaEngine(opts.databaseURL, sum.PoolConns, opts.insertRows, log)
	defer reg.Close()
	athena, err := serve(engine)
	if err != nil {
		return sum, err
	}
	defer closeServer(athena, log)

	cc := pool.Config().ConnConfig
	fmt.Fprintf(w, "athena-bench: %s:%d/%s, %d rows, pools of %d conns, %s per run after %s warm-up, GOMAXPROCS %d\n",
		cc.Host, cc.Port, cc.Database, itemRows, sum.PoolConns, opts.duration, sum.Warmup, runtime.GOMAXPROCS(0))

	progress := func(line string) {
		if opts.progress {
			fmt.Fprintln(w, line)
		}
	}
	drivers := map[scenario]func(*http.Client) request{
		scenarioDirect: func(*http.Client) request { return directFetch(pool) },
		scenarioFloor:  func(c *http.Client) request { return floorFetch(c, floor.url) },
		scenarioAthena: func(c *http.Client) request { return athenaFetch(c, athena.url) },
	}
	for _, n := range opts.levels {
		for _, sc := range scenarios {
			progress(fmt.Sprintf("running %s, %d clients, %s ...", sc, n, opts.duration))
			sum.Fetch = append(sum.Fetch, measure(ctx, opts, n, sc, drivers[sc]))
		}
	}
	if err := ctx.Err(); err != nil {
		return sum, fmt.Errorf("interrupted: %w", err)
	}
	sum.Ratios = ratios(sum.Fetch, opts.levels)
	printFetch(w, sum.Fetch, sum.Ratios)
	fg := fetchGoal(sum.Ratios)
	printGoal(w, fg)
	sum.Goals = append(sum.Goals, fg)

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
	if sum.Insert != nil {
		sum.FailedTotal += sum.Insert.Errors
	}
	return sum, nil
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

func closeServer(s *server, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.close(ctx); err != nil {
		log.Warn("close server", "url", s.url, "err", err)
	}
}
