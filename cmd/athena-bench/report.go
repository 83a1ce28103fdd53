package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/telemetry"
)

// Goals the report checks. They are targets, not assertions: missing one is
// printed, never an exit code.
const (
	goalFetchRatio   = 0.80 // c/b
	goalKeyRatio     = 0.95 // d/c: the key cache keeps API keys nearly free
	goalCacheRatio   = 2.0  // e/b: a cache hit beats the floor's database read
	goalTelemetry    = 0.90 // g/f: full logging + statistics keep 90% of no telemetry
	goalFetchClients = 16   // the fetch goals are read at this concurrency
	goalBulkSpeedup  = 20.0
	goalColdQueries  = 1 // statements for coldReaders identical cold reads
)

// scenario names one of the ways of reading the row.
type scenario string

const (
	scenarioDirect scenario = "a) direct pgx"
	scenarioFloor  scenario = "b) floor gin+pgx"
	scenarioAthena scenario = "c) athena fetch"
	scenarioKeyed  scenario = "d) athena fetch + API key"
	scenarioCached scenario = "e) athena fetch cache hit"
	scenarioTelOff scenario = "f) athena telemetry off"
	scenarioTelOn  scenario = "g) athena full telemetry"
)

// fetchRun is one scenario at one concurrency.
type fetchRun struct {
	Scenario scenario `json:"scenario"`
	Clients  int      `json:"clients"`
	result
}

// ratio compares throughputs at one concurrency.
type ratio struct {
	Clients int     `json:"clients"`
	CoverB  float64 `json:"c_over_b"`
	BoverA  float64 `json:"b_over_a"`
	DoverC  float64 `json:"d_over_c"`
	EoverB  float64 `json:"e_over_b"`
	EoverC  float64 `json:"e_over_c"`
	GoverF  float64 `json:"g_over_f"` // full telemetry against none
	CoverF  float64 `json:"c_over_f"` // metrics alone against none
}

// goal is one target and whether it was met: "PASS", "FAIL", or "SKIP"
// with a reason when the run could not measure it.
type goal struct {
	Name    string  `json:"name"`
	Value   float64 `json:"value"`
	Outcome string  `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
}

// summary is everything the program measured; -json prints it as is.
type summary struct {
	Duration  time.Duration `json:"duration_ns"`
	Warmup    time.Duration `json:"warmup_ns"`
	PoolConns int32         `json:"pool_conns"`
	Fetch     []fetchRun    `json:"fetch"`
	Ratios    []ratio       `json:"ratios"`
	Cold      *coldReport   `json:"cold_reads,omitempty"`
	Insert    *insertReport `json:"insert,omitempty"`
	// Telemetry is what g)'s log writer and statistics did.
	Telemetry *telemetryReport `json:"telemetry,omitempty"`
	// Admission is the admission limiter's cost (admission.go).
	Admission *admissionReport `json:"admission,omitempty"`
	// CrossProcess is the cross-process measurement (xp.go); its goals are
	// in Goals with the others.
	CrossProcess *xpReport `json:"cross_process,omitempty"`
	Goals        []goal    `json:"goals"`
	FailedTotal  int64     `json:"failed_requests"`
}

// ratios pairs up the scenarios at each concurrency.
func ratios(runs []fetchRun, levels []int) []ratio {
	out := make([]ratio, 0, len(levels))
	for _, n := range levels {
		a, b := rps(runs, scenarioDirect, n), rps(runs, scenarioFloor, n)
		c, d := rps(runs, scenarioAthena, n), rps(runs, scenarioKeyed, n)
		e := rps(runs, scenarioCached, n)
		f, g := rps(runs, scenarioTelOff, n), rps(runs, scenarioTelOn, n)
		out = append(out, ratio{Clients: n, CoverB: div(c, b), BoverA: div(b, a), DoverC: div(d, c), EoverB: div(e, b), EoverC: div(e, c),
			GoverF: div(g, f), CoverF: div(c, f)})
	}
	return out
}

func rps(runs []fetchRun, s scenario, clients int) float64 {
	for _, r := range runs {
		if r.Scenario == s && r.Clients == clients {
			return r.RPS
		}
	}
	return 0
}

func div(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// fetchGoals checks c/b (Athena against the floor), d/c (API keys against
// none), e/b (a cache hit against the floor) and g/f (full telemetry
// against none, see telemetryGoal) at goalFetchClients.
func fetchGoals(rs []ratio, tel *telemetryReport) []goal {
	return []goal{
		ratioGoal(rs, "c/b", goalFetchRatio, func(r ratio) float64 { return r.CoverB }),
		ratioGoal(rs, "d/c", goalKeyRatio, func(r ratio) float64 { return r.DoverC }),
		ratioGoal(rs, "e/b", goalCacheRatio, func(r ratio) float64 { return r.EoverB }),
		telemetryGoal(rs, tel),
	}
}

// telemetryGoal checks g/f. The ratio only means "full logging" if g)
// logged every request at that level: a writer that dropped entries (or
// failed to write them) did less work than production must, so the goal
// then fails whatever the ratio, with the loss as the reason.
func telemetryGoal(rs []ratio, tel *telemetryReport) goal {
	g := ratioGoal(rs, "g/f", goalTelemetry, func(r ratio) float64 { return r.GoverF })
	if g.Outcome == "SKIP" {
		return g
	}
	l, ok := tel.level(goalFetchClients)
	switch {
	case !ok:
		g.Outcome, g.Reason = "SKIP", "no log counts for g)"
	case l.RequestLog.Written == 0 || l.OperationLog.Written == 0:
		g.Outcome, g.Reason = "FAIL", "g) wrote no log entries"
	case l.RequestLog.lost()+l.OperationLog.lost() > 0:
		g.Outcome = "FAIL"
		g.Reason = fmt.Sprintf("g) lost %d of %d log entries: logging was not full",
			l.RequestLog.lost()+l.OperationLog.lost(), l.RequestLog.accounted()+l.OperationLog.accounted())
	}
	return g
}

// coldGoal checks that identical concurrent cold reads reach the database
// once (the worst trial counts).
func coldGoal(rep coldReport) goal {
	g := goal{Name: fmt.Sprintf("%d concurrent identical cold reads issue %d query", rep.Readers, goalColdQueries), Value: float64(rep.Max)}
	if rep.Errors > 0 {
		g.Outcome, g.Reason = "SKIP", "cold reads failed"
		return g
	}
	g.Outcome = passFail(rep.Max == goalColdQueries)
	return g
}

func ratioGoal(rs []ratio, name string, target float64, value func(ratio) float64) goal {
	g := goal{Name: fmt.Sprintf("%s >= %.2f at %d clients", name, target, goalFetchClients)}
	for _, r := range rs {
		if r.Clients == goalFetchClients {
			g.Value = value(r)
			g.Outcome = passFail(g.Value >= target)
			return g
		}
	}
	g.Outcome, g.Reason = "SKIP", fmt.Sprintf("-concurrency has no %d", goalFetchClients)
	return g
}

func insertGoal(rep insertReport) goal {
	g := goal{Name: fmt.Sprintf("bulk >= %.0fx singles", goalBulkSpeedup), Value: rep.Speedup}
	if rep.Errors > 0 {
		g.Outcome, g.Reason = "SKIP", "insert requests failed"
		return g
	}
	g.Outcome = passFail(rep.Speedup >= goalBulkSpeedup)
	return g
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// printFetch writes the fetch table and the ratio lines.
func printFetch(w io.Writer, runs []fetchRun, rs []ratio) {
	fmt.Fprintln(w)
	fmt.Fprintln(w, "fetch one row by primary key")
	fmt.Fprintf(w, "%-25s %7s %10s %10s %10s %8s\n", "scenario", "clients", "req/s", "p50", "p99", "errors")
	for _, r := range runs {
		fmt.Fprintf(w, "%-25s %7d %10.0f %10s %10s %8d\n", r.Scenario, r.Clients, r.RPS, fmtDur(r.P50), fmtDur(r.P99), r.Errors)
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "ratios at %2d clients: c/b = %.2f  b/a = %.2f\n", r.Clients, r.CoverB, r.BoverA)
	}
	for _, r := range rs {
		fmt.Fprintf(w, "API key cost at %2d clients: d/c = %.2f\n", r.Clients, r.DoverC)
	}
	for _, r := range rs {
		fmt.Fprintf(w, "read cache at %2d clients: e/b = %.2f  e/c = %.2f\n", r.Clients, r.EoverB, r.EoverC)
	}
	for _, r := range rs {
		fmt.Fprintf(w, "telemetry cost at %2d clients: g/f = %.2f  c/f = %.2f\n", r.Clients, r.GoverF, r.CoverF)
	}
}

// printTelemetry writes what g)'s log writer and statistics did, per level
// and over the whole run: if g) dropped its log entries, g/f compares
// nothing. The queue and batch sizes printed are the configuration's
// defaults, which are also LogOptions' defaults that g) runs with.
func printTelemetry(w io.Writer, rep *telemetryReport) {
	if rep == nil {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "g) telemetry: logs written with COPY to %s (logging pool %d conns, queue %d, batch %d), statistics applied every %s\n",
		controlPlaneSchema, config.Default().Telemetry.LogPoolMaxConns, config.Default().Telemetry.LogQueueSize,
		config.Default().Telemetry.LogBatchSize, telemetry.DefaultStatsInterval)
	fmt.Fprintf(w, "%-12s %9s %36s %38s\n", "g)", "requests", "request log written/dropped/failed", "operation log written/dropped/failed")
	row := func(name string, c telemetryCounts) {
		fmt.Fprintf(w, "%-12s %9d %36s %38s\n", name, c.Requests, c.RequestLog, c.OperationLog)
	}
	for _, l := range rep.Levels {
		row(fmt.Sprintf("%d clients", l.Clients), l.telemetryCounts)
	}
	row("whole run", rep.telemetryCounts)
	fmt.Fprintf(w, "statistics: %d flushes applied (%d failed), counting %d requests of %d to /gateway/* (%d records dropped)\n",
		rep.StatsFlushes, rep.StatsFailed, rep.StatsRequests, rep.GatewayRequests, rep.StatsDropped)
}

// String is written/dropped/failed.
func (c logCounts) String() string { return fmt.Sprintf("%d/%d/%d", c.Written, c.Dropped, c.Failed) }

// printCold writes the cold-read stampede result.
func printCold(w io.Writer, rep coldReport) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%d concurrent identical cold reads, %d trials (empty cache, metadata warm)\n", rep.Readers, len(rep.Queries))
	if rep.Errors > 0 {
		fmt.Fprintln(w, "FAILED, see below")
		return
	}
	fmt.Fprintf(w, "statements reaching PostgreSQL per trial: %v (worst %d)\n", rep.Queries, rep.Max)
}

// printInsert writes the bulk-versus-singles comparison.
func printInsert(w io.Writer, rep insertReport) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "insert %d rows (median of %d)\n", rep.Rows, insertRepeats)
	if rep.Errors > 0 {
		fmt.Fprintln(w, "FAILED, see below")
		return
	}
	fmt.Fprintf(w, "%-34s %10s\n", "bulk: 1 request", fmtDur(rep.BulkMedian))
	fmt.Fprintf(w, "%-34s %10s\n", fmt.Sprintf("singles: %d requests", rep.Rows), fmtDur(rep.SinglesMedian))
	fmt.Fprintf(w, "%-34s %9.1fx\n", "speed-up singles/bulk", rep.Speedup)
}

func printGoal(w io.Writer, g goal) {
	detail := fmt.Sprintf(" (%.2f)", g.Value)
	switch {
	case g.Outcome == "SKIP":
		detail = " (" + g.Reason + ")"
	case g.Reason != "":
		detail = fmt.Sprintf(" (%.2f; %s)", g.Value, g.Reason)
	}
	fmt.Fprintf(w, "GOAL %s: %s%s\n", g.Name, g.Outcome, detail)
}

// printFailures reports failed requests loudly; it says nothing when there
// were none.
func printFailures(w io.Writer, s summary) {
	if s.FailedTotal == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "!!! %d REQUESTS FAILED: the numbers above are not valid !!!\n", s.FailedTotal)
	for _, r := range s.Fetch {
		if r.Errors > 0 {
			fmt.Fprintf(w, "!!! %s at %d clients: %d failed; first: %s\n", r.Scenario, r.Clients, r.Errors, r.FirstErr)
		}
	}
	if s.Cold != nil && s.Cold.Errors > 0 {
		fmt.Fprintf(w, "!!! cold reads: %d failed; first: %s\n", s.Cold.Errors, s.Cold.FirstErr)
	}
	if s.Insert != nil && s.Insert.Errors > 0 {
		fmt.Fprintf(w, "!!! insert: %s\n", s.Insert.FirstErr)
	}
	if s.CrossProcess != nil {
		for _, r := range s.CrossProcess.Runs {
			if r.Errors > 0 {
				fmt.Fprintf(w, "!!! %s at %d clients: %d failed; first: %s\n", r.Scenario, r.Clients, r.Errors, r.FirstErr)
			}
		}
	}
}

func printJSON(w io.Writer, s summary) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// fmtDur prints microseconds below a millisecond and milliseconds above.
func fmtDur(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
}
