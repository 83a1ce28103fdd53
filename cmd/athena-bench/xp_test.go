package main

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunCrossProcess runs the cross-process part in its scaled mode: the
// servers are built and started for real, each scenario makes exactly
// 2000 measured requests. It checks the numbers are sane, never how fast
// anything was: every server served every request sent, and every process
// spent CPU on them. 2000 requests keep each process's CPU over a slice
// many 10ms clock ticks above zero.
func TestRunCrossProcess(t *testing.T) {
	requireDatabase(t)
	const requests = 2000
	stdout, stderr := runBench(t, "-in-process=false", "-xp-requests", "2000", "-xp-clients", "4", "-rounds", "1", "-json")

	var got summary
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not the JSON summary: %v\n%s", err, stdout)
	}
	if len(got.Fetch) != 0 || got.Cold != nil || got.Insert != nil || got.FailedTotal != 0 {
		t.Errorf("-in-process=false ran in-process parts or failed: %d fetch runs, cold %v, insert %v, %d failed", len(got.Fetch), got.Cold, got.Insert, got.FailedTotal)
	}
	xp := got.CrossProcess
	if xp == nil {
		t.Fatalf("no cross_process in the summary:\n%s", stdout)
	}
	if xp.Clients != 4 || xp.Requests != requests || xp.PoolConns != 16 {
		t.Errorf("clients %d, requests %d, pool %d; want 4, %d, 16", xp.Clients, xp.Requests, xp.PoolConns, requests)
	}
	var scs []scenario
	for _, r := range xp.Runs {
		scs = append(scs, r.Scenario)
		if r.Sent != requests || r.Served != r.Sent || r.Requests != requests || r.Errors != 0 {
			t.Errorf("%s: sent %d, served %d, succeeded %d, errors %d; want %d, all served, none failed", r.Scenario, r.Sent, r.Served, r.Requests, r.Errors, requests)
		}
		if r.ProcessCPU <= 0 || r.ProcessCPUPerRequest <= 0 || r.RPS <= 0 || r.P50 <= 0 || r.P99 < r.P50 {
			t.Errorf("%s: process CPU %s (%.1fµs/request), %.0f req/s, p50 %s, p99 %s; want all > 0", r.Scenario, r.ProcessCPU, r.ProcessCPUPerRequest, r.RPS, r.P50, r.P99)
		}
		// A cache hit need not reach PostgreSQL; every other fetch does.
		if r.Scenario != xpCached && (r.PostgresCPU <= 0 || r.PostgresCPUPerRequest <= 0 || r.Backends == 0) {
			t.Errorf("%s: PostgreSQL CPU %s (%.1fµs/request) over %d backends; want > 0", r.Scenario, r.PostgresCPU, r.PostgresCPUPerRequest, r.Backends)
		}
	}
	if want := []scenario{xpFloor, xpAthena, xpTelOn, xpCached}; !slices.Equal(scs, want) {
		t.Errorf("scenarios %q, want %q", scs, want)
	}
	if r := xp.Ratios; r.CPUCoverB <= 0 || r.CPUEoverB <= 0 || r.CPUGoverC <= 0 || r.RPSGoverC <= 0 {
		t.Errorf("ratios %+v, want C/B, E/B, G/C > 0", r)
	}
	// G logged every fetch it answered (the checks and warm-up included).
	if tl := xp.Telemetry; tl.OperationLog.Written < requests || tl.RequestLog.Written < requests || tl.OperationLog.lost()+tl.RequestLog.lost() != 0 {
		t.Errorf("G) logs %+v, want >= %d written of each, none lost", tl, requests)
	}
	var goals []string
	for _, g := range got.Goals {
		goals = append(goals, g.Name+": "+g.Outcome)
	}
	if want := []string{
		"C/B process CPU/request <= 1.10 at 16 clients (cross-process): SKIP",
		"E/B process CPU/request <= 0.60 at 16 clients (cross-process): SKIP",
		"G/C requests/s >= 0.90 at 16 clients (cross-process): SKIP",
	}; !slices.Equal(goals, want) {
		t.Errorf("goals %q, want %q", goals, want)
	}
	for _, want := range []string{"B) floor process", "process/req", "pg/req", "process CPU/request at  4 clients: C/B = ", "G) logs written/dropped/failed"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("human report (stderr with -json) lacks %q:\n%s", want, stderr)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command may hold spaces and parentheses; utime 250 and stime 31
	// ticks are fields 14 and 15.
	line := "4242 (postgres: a (b) c) S 1 2214 2214 0 -1 4194304 3935 12275 0 0 250 31 11 21 20 0 1 0 4622 222543872 7672\n"
	got, err := parseStatCPU([]byte(line))
	if want := 2810 * time.Millisecond; err != nil || got != want {
		t.Errorf("parseStatCPU = %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 10 x 12 13"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("parseStatCPU(%q) accepted", bad)
		}
	}
}

func TestCPUSpent(t *testing.T) {
	from := cpuReading{proc: time.Second, backends: map[int]time.Duration{1: 100 * time.Millisecond, 2: 50 * time.Millisecond}}
	to := cpuReading{proc: 1500 * time.Millisecond, backends: map[int]time.Duration{1: 130 * time.Millisecond, 3: 20 * time.Millisecond}}
	// Backend 1 spent 30ms, 3 appeared with 20ms, 2 ended (lost).
	if proc, pg := cpuSpent(from, to); proc != 500*time.Millisecond || pg != 50*time.Millisecond {
		t.Errorf("cpuSpent = %v, %v; want 500ms, 50ms", proc, pg)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP athena_http_requests_total HTTP requests answered.
# TYPE athena_http_requests_total counter
athena_http_requests_total{client="bench",route="/gateway/fetch",status="200"} 1200
athena_http_requests_total{client="bench",route="/gateway/fetch",status="404"} 3
athena_http_requests_total{client="",route="/metrics",status="200"} 7
athena_log_queue_depth{log="request"} 0
go_goroutines 12
`
	ms, err := parseMetrics(text)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := sumMetric(ms, "athena_http_requests_total", map[string]string{"route": "/gateway/fetch"}); !ok || n != 1203 {
		t.Errorf("fetches = %v, %v; want 1203", n, ok)
	}
	if n, ok := sumMetric(ms, "athena_http_requests_total", nil); !ok || n != 1210 {
		t.Errorf("all requests = %v, %v; want 1210", n, ok)
	}
	if _, ok := sumMetric(ms, "athena_log_written_total", nil); ok {
		t.Error("found a metric that is not there")
	}
	if n, ok := sumMetric(ms, "go_goroutines", nil); !ok || n != 12 {
		t.Errorf("go_goroutines = %v, %v", n, ok)
	}
	for _, bad := range []string{"novalue", `x{a="b" 1`, "x abc"} {
		if _, err := parseMetrics(bad); err == nil {
			t.Errorf("parseMetrics(%q) accepted", bad)
		}
	}
}

func TestXPGoals(t *testing.T) {
	logged := xpTelemetry{RequestLog: logCounts{Written: 100}, OperationLog: logCounts{Written: 100}}
	runs := func(served int64) []xpRun {
		return []xpRun{{Scenario: xpFloor, Sent: 100, Served: 100}, {Scenario: xpAthena, Sent: 100, Served: served}}
	}
	for _, tt := range []struct {
		name string
		rep  xpReport
		want []string
	}{
		{"met", xpReport{Clients: 16, Runs: runs(100), Telemetry: logged, Ratios: xpRatios{CPUCoverB: 1.05, CPUEoverB: 0.5, RPSGoverC: 0.95}}, []string{"PASS", "PASS", "PASS"}},
		{"missed", xpReport{Clients: 16, Runs: runs(100), Telemetry: logged, Ratios: xpRatios{CPUCoverB: 1.2, CPUEoverB: 0.8, RPSGoverC: 0.85}}, []string{"FAIL", "FAIL", "FAIL"}},
		{"logs lost", xpReport{Clients: 16, Runs: runs(100), Telemetry: xpTelemetry{RequestLog: logCounts{Written: 90, Dropped: 10}, OperationLog: logCounts{Written: 100}},
			Ratios: xpRatios{CPUCoverB: 1.05, CPUEoverB: 0.5, RPSGoverC: 0.95}}, []string{"PASS", "PASS", "FAIL"}},
		{"not 16 clients", xpReport{Clients: 4, Runs: runs(100), Telemetry: logged, Ratios: xpRatios{CPUCoverB: 1.05, CPUEoverB: 0.5, RPSGoverC: 0.95}}, []string{"SKIP", "SKIP", "SKIP"}},
		{"not all served", xpReport{Clients: 16, Runs: runs(99), Telemetry: logged, Ratios: xpRatios{CPUCoverB: 1.05, CPUEoverB: 0.5, RPSGoverC: 0.95}}, []string{"SKIP", "SKIP", "SKIP"}},
	} {
		var got []string
		for _, g := range xpGoals(&tt.rep) {
			got = append(got, g.Outcome)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: outcomes %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestLoadBudget checks the scaled mode's load: exactly budget requests,
// however many workers, and no duration involved.
func TestLoadBudget(t *testing.T) {
	var calls atomic.Int64
	do := func(context.Context, workerRand) error { calls.Add(1); return nil }
	sm := loadBudget(context.Background(), 4, 0, 37, 0, do)
	if calls.Load() != 37 || sent(sm) != 37 {
		t.Errorf("made %d requests, sent() says %d; want 37", calls.Load(), sent(sm))
	}
}

func TestParseFlagsCrossProcess(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || !o.inProcess || !o.crossProcess || o.xpClients != 16 || o.xpRequests != 0 {
		t.Fatalf("defaults: %+v %v; want both parts, 16 clients, duration mode", o, err)
	}
	if _, err := parseFlags([]string{"-in-process=false", "-cross-process=false"}, io.Discard); err == nil {
		t.Error("nothing to run accepted")
	}
	if _, err := parseFlags([]string{"-xp-requests", "-1"}, io.Discard); err == nil {
		t.Error("-xp-requests -1 accepted")
	}
}

// TestAthenaConfigTelemetry: C and E run with every telemetry off, the
// metrics included (the "cache and telemetry off"); G with all on.
func TestAthenaConfigTelemetry(t *testing.T) {
	for _, tt := range []struct {
		give bool
		want string
	}{{false, "telemetry:\n  enabled: false\n  metrics: false\n"}, {true, "telemetry:\n  enabled: true\n  metrics: true\n"}} {
		y := athenaConfigYAML(1, 2, 16, "postgres://t", "postgres://cp", "redis://r", false, tt.give)
		if !strings.Contains(y, tt.want) || !strings.Contains(y, "url: \"redis://r\"") {
			t.Errorf("telemetry %v: config lacks %q (or the Redis URL):\n%s", tt.give, tt.want, y)
		}
	}
}
