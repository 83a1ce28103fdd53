package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// requireDatabase skips the test when the benchmark database is unreachable;
// anything else that goes wrong later is a failure.
func requireDatabase(t *testing.T) {
	t.Helper()
	url := os.Getenv("ATHENA_BENCH_DATABASE_URL")
	if url == "" {
		url = defaultDatabaseURL
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Skipf("database unreachable: %v", err)
	}
	_ = conn.Close(ctx)
}

func runBench(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	if code != exitOK {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitOK, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func TestRunWholeBench(t *testing.T) {
	requireDatabase(t)
	stdout, stderr := runBench(t, "-duration", "200ms", "-concurrency", "1,2", "-insert-rows", "50")

	for _, want := range []string{
		"running a) direct pgx, 1 clients, 200ms ...",
		"running b) to e) interleaved (b c d e e d c b), 2 clients, 200ms each ...",
		"d) key ", "client bench, right athena_bench.items.read, enforcement on (fail_closed)",
		"scenario", "clients", "req/s", "p50", "p99", "errors",
		"a) direct pgx", "b) floor gin+pgx", "c) athena fetch",
		"d) athena fetch + API key       1 ",
		"d) athena fetch + API key       2 ",
		"ratios at  1 clients: c/b = ",
		"ratios at  2 clients: c/b = ",
		"b/a = ",
		"API key cost at  1 clients: d/c = ",
		"API key cost at  2 clients: d/c = ",
		"e) athena fetch cache hit       1 ",
		"e) athena fetch cache hit       2 ",
		"read cache at  1 clients: e/b = ",
		"read cache at  2 clients: e/b = ",
		"e/c = ",
		"GOAL c/b >= 0.80 at 16 clients: SKIP",
		"GOAL d/c >= 0.95 at 16 clients: SKIP",
		"GOAL e/b >= 2.00 at 16 clients: SKIP",
		"64 concurrent identical cold reads, 5 trials",
		"statements reaching PostgreSQL per trial: ",
		"GOAL 64 concurrent identical cold reads issue 1 query: ",
		"insert 50 rows (median of 3)",
		"speed-up singles/bulk",
		"GOAL bulk >= 20x singles: ",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q; got:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout+stderr, "FAILED") {
		t.Errorf("request errors reported:\n%s\n%s", stdout, stderr)
	}
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, "d) athena fetch + API key ") && !strings.HasSuffix(line, " 0") {
			t.Errorf("d) row reports errors: %q", line)
		}
	}
}

func TestRunJSONSummary(t *testing.T) {
	requireDatabase(t)
	stdout, stderr := runBench(t, "-duration", "100ms", "-concurrency", "1", "-skip-insert", "-json")

	var got summary
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout)
	}
	if len(got.Fetch) != 5 || len(got.Ratios) != 1 || got.Insert != nil || got.FailedTotal != 0 {
		t.Errorf("got %d fetch runs, %d ratios, insert %v, %d failed; want 5, 1, nil, 0", len(got.Fetch), len(got.Ratios), got.Insert, got.FailedTotal)
	}
	var scs []scenario
	for _, r := range got.Fetch {
		scs = append(scs, r.Scenario)
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s: got %d requests and %d errors, want some and none", r.Scenario, r.Requests, r.Errors)
		}
	}
	if want := []scenario{scenarioDirect, scenarioFloor, scenarioAthena, scenarioKeyed, scenarioCached}; !slices.Equal(scs, want) {
		t.Errorf("scenarios %q, want %q", scs, want)
	}
	if len(got.Ratios) == 1 && (got.Ratios[0].DoverC <= 0 || got.Ratios[0].EoverB <= 0 || got.Ratios[0].EoverC <= 0) {
		t.Errorf("ratios %+v, want d/c, e/b and e/c > 0", got.Ratios[0])
	}
	// Identical concurrent cold reads share one database load: exactly one
	// statement per trial (zero would mean the tracer counts nothing).
	if c := got.Cold; c == nil || c.Errors != 0 || len(c.Queries) != coldTrials || c.Max != 1 || slices.Contains(c.Queries, 0) {
		t.Errorf("cold reads %+v, want %d trials of 1 statement each", c, coldTrials)
	}
	var goals []string
	for _, g := range got.Goals {
		goals = append(goals, g.Name+": "+g.Outcome)
	}
	if want := []string{"c/b >= 0.80 at 16 clients: SKIP", "d/c >= 0.95 at 16 clients: SKIP", "e/b >= 2.00 at 16 clients: SKIP",
		"64 concurrent identical cold reads issue 1 query: PASS"}; !slices.Equal(goals, want) {
		t.Errorf("goals %q, want %q", goals, want)
	}
	for _, key := range []string{`"d_over_c"`, `"e_over_b"`, `"e_over_c"`, `"cold_reads"`} {
		if !strings.Contains(stdout, key) {
			t.Errorf("JSON lacks %s:\n%s", key, stdout)
		}
	}
	if !strings.Contains(stderr, "req/s") {
		t.Errorf("human report should move to stderr with -json; stderr:\n%s", stderr)
	}
}

func TestPercentile(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	sorted := make([]time.Duration, 100)
	for i := range sorted {
		sorted[i] = ms(i + 1)
	}
	for _, tt := range []struct {
		give []time.Duration
		p    int
		want time.Duration
	}{
		{give: nil, p: 50, want: 0},
		{give: []time.Duration{ms(7)}, p: 99, want: ms(7)},
		{give: sorted, p: 50, want: ms(50)},
		{give: sorted, p: 99, want: ms(99)},
	} {
		if got := percentile(tt.give, tt.p); got != tt.want {
			t.Errorf("percentile(%d values, %d) = %v, want %v", len(tt.give), tt.p, got, tt.want)
		}
	}
}

func TestParseLevels(t *testing.T) {
	for _, tt := range []struct {
		give    string
		want    []int
		wantErr bool
	}{
		{give: "1,16", want: []int{1, 16}},
		{give: " 4 ", want: []int{4}},
		{give: "0", wantErr: true},
		{give: "1,,2", wantErr: true},
	} {
		got, err := parseLevels(tt.give)
		if (err != nil) != tt.wantErr || !slices.Equal(got, tt.want) {
			t.Errorf("parseLevels(%q) = %v, %v; want %v, error %v", tt.give, got, err, tt.want, tt.wantErr)
		}
	}
}
