package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/internal/testenv"
	"github.com/athena-gateway/athena/telemetry"
)

// requireDatabase skips the test when the benchmark database is unreachable
// (fails it under CI=true, testenv.Unavailable); anything else that goes
// wrong later is a failure.
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
		testenv.Unavailable(t, "PostgreSQL", err)
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
	// The cross-process part has a test of its own (xp_test.go).
	stdout, stderr := runBench(t, "-duration", "200ms", "-concurrency", "1,2", "-insert-rows", "50", "-cross-process=false")

	for _, want := range []string{
		"running a) direct pgx, 1 clients, 200ms ...",
		"running b) to g) interleaved (b c d f g e e g f d c b, 3× in slices of 33.333333ms), 2 clients, 200ms each ...",
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
		"f) athena telemetry off         1 ",
		"f) athena telemetry off         2 ",
		"g) athena full telemetry        1 ",
		"g) athena full telemetry        2 ",
		"telemetry cost at  1 clients: g/f = ",
		"telemetry cost at  2 clients: g/f = ",
		"c/f = ",
		"g) telemetry: logs written with COPY to athena_bench_cp",
		"request log written/dropped/failed",
		"operation log written/dropped/failed",
		"1 clients   ", "2 clients   ", "whole run   ",
		"statistics: ",
		"GOAL c/b >= 0.80 at 16 clients: SKIP",
		"GOAL d/c >= 0.95 at 16 clients: SKIP",
		"GOAL e/b >= 2.00 at 16 clients: SKIP",
		"GOAL g/f >= 0.90 at 16 clients: SKIP",
		"running admission off/on interleaved (off on on off, 3×), 2 clients, 200ms each ...",
		"admission limiter, every request admitted; rates ",
		"on/off at 2 clients: ",
		"GOAL admission on/off >= 0.97 at 16 clients: SKIP",
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
	stdout, stderr := runBench(t, "-duration", "100ms", "-concurrency", "1", "-skip-insert", "-json", "-cross-process=false")

	var got summary
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout)
	}
	if len(got.Fetch) != 7 || len(got.Ratios) != 1 || got.Insert != nil || got.FailedTotal != 0 {
		t.Errorf("got %d fetch runs, %d ratios, insert %v, %d failed; want 7, 1, nil, 0", len(got.Fetch), len(got.Ratios), got.Insert, got.FailedTotal)
	}
	var scs []scenario
	for _, r := range got.Fetch {
		scs = append(scs, r.Scenario)
		if r.Requests == 0 || r.Errors != 0 {
			t.Errorf("%s: got %d requests and %d errors, want some and none", r.Scenario, r.Requests, r.Errors)
		}
	}
	if want := []scenario{scenarioDirect, scenarioFloor, scenarioAthena, scenarioKeyed, scenarioCached, scenarioTelOff, scenarioTelOn}; !slices.Equal(scs, want) {
		t.Errorf("scenarios %q, want %q", scs, want)
	}
	if len(got.Ratios) == 1 && (got.Ratios[0].DoverC <= 0 || got.Ratios[0].EoverB <= 0 || got.Ratios[0].EoverC <= 0 || got.Ratios[0].GoverF <= 0 || got.Ratios[0].CoverF <= 0) {
		t.Errorf("ratios %+v, want d/c, e/b, e/c, g/f and c/f > 0", got.Ratios[0])
	}
	checkTelemetryReport(t, got.Telemetry, 1)
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
		"g/f >= 0.90 at 16 clients: SKIP", "admission on/off >= 0.97 at 16 clients: SKIP",
		"64 concurrent identical cold reads issue 1 query: PASS"}; !slices.Equal(goals, want) {
		t.Errorf("goals %q, want %q", goals, want)
	}
	for _, key := range []string{`"d_over_c"`, `"e_over_b"`, `"e_over_c"`, `"g_over_f"`, `"c_over_f"`, `"cold_reads"`, `"admission"`,
		`"telemetry"`, `"request_log"`, `"operation_log"`, `"stats_flushes_applied"`} {
		if !strings.Contains(stdout, key) {
			t.Errorf("JSON lacks %s:\n%s", key, stdout)
		}
	}
	if !strings.Contains(stderr, "req/s") {
		t.Errorf("human report should move to stderr with -json; stderr:\n%s", stderr)
	}
}

// checkTelemetryReport checks that g) really ran with a log writer and
// statistics: it wrote both logs for every request it answered, with none
// dropped or failed (a short run at a few clients never fills the queue),
// and applied statistics counting every gateway request.
func checkTelemetryReport(t *testing.T, rep *telemetryReport, levels int) {
	t.Helper()
	if rep == nil {
		t.Fatal("no telemetry report: scenario g) did not run")
	}
	if rep.Requests == 0 || rep.GatewayRequests == 0 {
		t.Errorf("g) answered %d requests (%d to /gateway/*), want some", rep.Requests, rep.GatewayRequests)
	}
	for _, c := range []struct {
		name string
		log  logCounts
		want int64
	}{
		{"request log", rep.RequestLog, rep.Requests},
		{"operation log", rep.OperationLog, rep.GatewayRequests},
	} {
		if c.log.Written == 0 || c.log.Written != c.want || c.log.lost() != 0 {
			t.Errorf("%s: %+v, want all %d entries written", c.name, c.log, c.want)
		}
	}
	if len(rep.Levels) != levels {
		t.Fatalf("got %d levels of log counts, want %d", len(rep.Levels), levels)
	}
	for _, l := range rep.Levels {
		if l.RequestLog.Written == 0 || l.OperationLog.Written == 0 || l.RequestLog.Written != l.Requests {
			t.Errorf("at %d clients: %+v, want every request logged", l.Clients, l)
		}
	}
	if rep.StatsFlushes == 0 || rep.StatsFailed != 0 || rep.StatsRequests != rep.GatewayRequests {
		t.Errorf("statistics: %d flushes applied (%d failed) counting %d requests; want >= 1 applied counting all %d gateway requests",
			rep.StatsFlushes, rep.StatsFailed, rep.StatsRequests, rep.GatewayRequests)
	}
}

// TestTelemetryOptions checks what f) and g) are built from: f) with every
// telemetry off, g) with metrics, a log writer and statistics, and c)
// unchanged (metrics on, nothing else).
func TestTelemetryOptions(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	ath := newAthena(defaultDatabaseURL, 16, 100, log)
	defer ath.reg.Close()
	if ath.opts.Metrics == nil || ath.opts.Logs != nil || ath.opts.Stats != nil {
		t.Errorf("c) options: metrics %v, logs %v, stats %v; want metrics only", ath.opts.Metrics, ath.opts.Logs, ath.opts.Stats)
	}
	off := ath.telemetryOptions(telemetryDeps{})
	if off.Metrics != nil || off.Logs != nil || off.Stats != nil {
		t.Errorf("f) options: metrics %v, logs %v, stats %v; want all nil", off.Metrics, off.Logs, off.Stats)
	}
	on := telemetryDeps{Metrics: telemetry.NewMetrics(), Logs: telemetry.NewLogWriter(nil, telemetry.LogOptions{}, nil, nil), Stats: telemetry.NewStats(telemetry.StatsOptions{})}
	defer on.Stats.Close(context.Background())
	full := ath.telemetryOptions(on)
	if full.Metrics != on.Metrics || full.Logs != on.Logs || full.Stats != on.Stats {
		t.Errorf("g) options do not carry the telemetry they were given")
	}
	if full.Limits != ath.opts.Limits || full.BodyLimitBytes != ath.opts.BodyLimitBytes || full.Cache != nil {
		t.Errorf("g) options differ from c)'s in more than telemetry: %+v", full)
	}
}

func TestTelemetryGoal(t *testing.T) {
	at16 := []ratio{{Clients: 16, GoverF: 0.95}}
	logged := func(written, dropped, failed int64) *telemetryReport {
		c := logCounts{Written: written, Dropped: dropped, Failed: failed}
		return &telemetryReport{Levels: []telemetryLevel{{Clients: 16, telemetryCounts: telemetryCounts{Requests: written + dropped + failed, RequestLog: c, OperationLog: c}}}}
	}
	for _, tt := range []struct {
		name    string
		rs      []ratio
		rep     *telemetryReport
		outcome string
	}{
		{"met", at16, logged(1000, 0, 0), "PASS"},
		{"ratio missed", []ratio{{Clients: 16, GoverF: 0.85}}, logged(1000, 0, 0), "FAIL"},
		{"entries dropped", at16, logged(900, 100, 0), "FAIL"},
		{"entries failed", at16, logged(900, 0, 100), "FAIL"},
		{"nothing written", at16, logged(0, 0, 0), "FAIL"},
		{"no 16 clients", []ratio{{Clients: 1, GoverF: 0.95}}, logged(1000, 0, 0), "SKIP"},
		{"no report", at16, nil, "SKIP"},
	} {
		g := telemetryGoal(tt.rs, tt.rep)
		if g.Outcome != tt.outcome || g.Name != "g/f >= 0.90 at 16 clients" {
			t.Errorf("%s: got %q %s (%s), want %s", tt.name, g.Name, g.Outcome, g.Reason, tt.outcome)
		}
	}
	if gs := fetchGoals(at16, logged(1000, 0, 0)); len(gs) != 4 || gs[3].Name != "g/f >= 0.90 at 16 clients" {
		t.Errorf("fetchGoals = %+v, want the g/f goal last", gs)
	}
	var buf bytes.Buffer
	printGoal(&buf, telemetryGoal(at16, logged(900, 100, 0)))
	if want := "GOAL g/f >= 0.90 at 16 clients: FAIL (0.95; g) lost 200 of 2000 log entries: logging was not full)\n"; buf.String() != want {
		t.Errorf("printGoal wrote %q, want %q", buf.String(), want)
	}
}

func TestRatiosTelemetry(t *testing.T) {
	runs := []fetchRun{
		{Scenario: scenarioAthena, Clients: 16, result: result{RPS: 900}},
		{Scenario: scenarioTelOff, Clients: 16, result: result{RPS: 1000}},
		{Scenario: scenarioTelOn, Clients: 16, result: result{RPS: 800}},
	}
	rs := ratios(runs, []int{16})
	if len(rs) != 1 || rs[0].GoverF != 0.8 || rs[0].CoverF != 0.9 {
		t.Errorf("ratios = %+v, want g/f 0.8 and c/f 0.9", rs)
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

func TestParseFlagsRounds(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.rounds != 3 {
		t.Fatalf("default rounds: %d %v, want 3", o.rounds, err)
	}
	if o, err = parseFlags([]string{"-rounds", "5"}, io.Discard); err != nil || o.rounds != 5 {
		t.Fatalf("-rounds 5: %d %v", o.rounds, err)
	}
	if _, err := parseFlags([]string{"-rounds", "0"}, io.Discard); err == nil {
		t.Fatal("-rounds 0 accepted")
	}
}
