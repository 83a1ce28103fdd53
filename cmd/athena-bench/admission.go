package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/athena-gateway/athena/admission"
	"github.com/athena-gateway/athena/api"
	"github.com/athena-gateway/athena/cache"
)

// The admission limiter's cost on an admitted request (issue 13): c)'s
// fetch against an engine with admission off and against one over the
// same registry with the limiter on — a global and a per-client rate and
// in-flight cap far above the load, so every request is admitted — with
// the rates shared through Redis (in chunks) when -xp-redis answers, per
// process otherwise. The two run interleaved (off on on off, -rounds
// times), and around each slice this process's CPU time is read from
// /proc: the load generator's share is the same on both sides, so the
// difference per request is the limiter's. Decisions are counted but no
// admission event is written (the events are the log writer's cost, which
// g) measures for the request log).

// goalAdmissionRatio is the throughput the limiter may cost: on/off.
const goalAdmissionRatio = 0.97

// admissionRun is one side at one concurrency.
type admissionRun struct {
	Clients    int           `json:"clients"`
	On         bool          `json:"admission_on"`
	CPUPerReq  time.Duration `json:"cpu_per_request_ns"`
	SharedRate bool          `json:"shared_through_redis"`
	result
}

// admissionReport is the comparison at every level.
type admissionReport struct {
	Runs   []admissionRun   `json:"runs"`
	Ratios []admissionRatio `json:"ratios"`
}

// admissionRatio compares the two sides at one concurrency.
type admissionRatio struct {
	Clients   int           `json:"clients"`
	OnOverOff float64       `json:"on_over_off"`
	CPUDiff   time.Duration `json:"cpu_per_request_diff_ns"`
}

// benchAdmission runs the comparison and prints it to w.
func benchAdmission(ctx context.Context, opts options, ath athena, w io.Writer, log *slog.Logger, progress func(string)) (admissionReport, goal, error) {
	var rep admissionReport
	off, err := serve("admission off", ath.engine(api.Deps{}))
	if err != nil {
		return rep, goal{}, err
	}
	defer closeServer(off, log)
	lo := admission.Options{
		Global:        admission.Limit{RPS: 1e7, Burst: 1e6, MaxInFlight: 1 << 20},
		ClientDefault: admission.Limit{RPS: 1e7, Burst: 1e6, MaxInFlight: 1 << 20},
		Prefix:        fmt.Sprintf("athena-bench:admission:%d:", os.Getpid()),
		Logger:        log,
	}
	shared := false
	if opts.xpRedis != "" {
		if rdb, err := cache.NewRedis(opts.xpRedis); err == nil {
			defer rdb.Close()
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			if cache.Ping(pctx, rdb) == nil {
				lo.Redis, shared = rdb, true
				defer func() {
					keys, _ := rdb.Keys(context.Background(), "rate:"+lo.Prefix+"*").Result()
					if len(keys) > 0 {
						rdb.Del(context.Background(), keys...)
					}
				}()
			}
			cancel()
		}
	}
	lim := admission.New(lo)
	o := ath.opts
	o.Admission = lim
	on, err := serve("admission on", api.New(api.Deps{Clients: ath.reg}, o, ath.log))
	if err != nil {
		return rep, goal{}, err
	}
	defer closeServer(on, log)

	self := os.Getpid()
	for _, n := range opts.levels {
		progress(fmt.Sprintf("running admission off/on interleaved (off on on off, %d×), %d clients, %s each ...", opts.rounds, n, opts.duration))
		urls := [2]string{off.url, on.url}
		var do [2]request
		for i := range do {
			hc := newHTTPClient(n)
			defer hc.CloseIdleConnections()
			do[i] = athenaFetch(hc, urls[i], "")
			if warm := load(ctx, n, opts.warmup(), do[i]); warm.Errors > 0 {
				return rep, goal{}, fmt.Errorf("admission warm-up: %s", warm.FirstErr)
			}
		}
		half := opts.duration / time.Duration(2*opts.rounds)
		var samples [2][]sample
		var cpu [2]time.Duration
		for r := range opts.rounds {
			for slot, i := range [...]int{0, 1, 1, 0} {
				before, err := procCPU(self)
				if err != nil {
					return rep, goal{}, err
				}
				samples[i] = append(samples[i], loadSample(ctx, n, half, uint64(4*r+slot+1)<<32, do[i]))
				after, err := procCPU(self)
				if err != nil {
					return rep, goal{}, err
				}
				cpu[i] += after - before
			}
		}
		runs := [2]admissionRun{}
		for i := range runs {
			res := summarize(samples[i]...)
			runs[i] = admissionRun{Clients: n, On: i == 1, SharedRate: i == 1 && shared, result: res}
			if res.Requests > 0 {
				runs[i].CPUPerReq = cpu[i] / time.Duration(res.Requests)
			}
		}
		rep.Runs = append(rep.Runs, runs[0], runs[1])
		rep.Ratios = append(rep.Ratios, admissionRatio{n, div(runs[1].RPS, runs[0].RPS), runs[1].CPUPerReq - runs[0].CPUPerReq})
	}
	for _, d := range lim.Decisions() {
		if d.Decision != admission.Admitted {
			return rep, goal{}, fmt.Errorf("admission refused %d requests (%s, %s): the limits were meant never to be reached", d.N, d.Decision, d.Reason)
		}
	}
	printAdmission(w, rep, shared, lim.Fallbacks())
	g := goal{Name: fmt.Sprintf("admission on/off >= %.2f at %d clients", goalAdmissionRatio, goalFetchClients), Outcome: "SKIP",
		Reason: fmt.Sprintf("-concurrency has no %d", goalFetchClients)}
	for _, r := range rep.Ratios {
		if r.Clients == goalFetchClients {
			g.Value, g.Outcome, g.Reason = r.OnOverOff, passFail(r.OnOverOff >= goalAdmissionRatio), ""
		}
	}
	return rep, g, nil
}

func printAdmission(w io.Writer, rep admissionReport, shared bool, redisFailures int64) {
	mode := "per process (no Redis)"
	if shared {
		mode = fmt.Sprintf("shared through Redis in chunks (%d failed Redis calls)", redisFailures)
	}
	fmt.Fprintf(w, "\nadmission limiter, every request admitted; rates %s; CPU is this process's (load generator included)\n", mode)
	fmt.Fprintf(w, "%-22s %7s %10s %10s %10s %12s\n", "scenario", "clients", "req/s", "p50", "p99", "CPU/request")
	for _, r := range rep.Runs {
		name := "admission off"
		if r.On {
			name = "admission on"
		}
		fmt.Fprintf(w, "%-22s %7d %10.0f %10s %10s %12s\n", name, r.Clients, r.RPS, fmtDur(r.P50), fmtDur(r.P99), fmtDur(r.CPUPerReq))
	}
	for _, r := range rep.Ratios {
		fmt.Fprintf(w, "on/off at %d clients: %.3f req/s, CPU/request %+.1fµs\n", r.Clients, r.OnOverOff, float64(r.CPUDiff)/float64(time.Microsecond))
	}
}

// benchAdmissionOnly is -only-admission: the fixture, c)'s engine and the
// comparison, nothing else.
func benchAdmissionOnly(ctx context.Context, opts options, w io.Writer, log *slog.Logger, sum *summary) error {
	pool, err := openPool(ctx, opts.databaseURL, sum.PoolConns)
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := setupFixture(ctx, pool); err != nil {
		return err
	}
	ath := newAthena(opts.databaseURL, sum.PoolConns, opts.insertRows, log)
	defer ath.reg.Close()
	progress := func(line string) {
		if opts.progress {
			fmt.Fprintln(w, line)
		}
	}
	adm, g, err := benchAdmission(ctx, opts, ath, w, log, progress)
	if err != nil {
		return err
	}
	sum.Admission = &adm
	printGoal(w, g)
	sum.Goals = append(sum.Goals, g)
	for _, r := range adm.Runs {
		sum.FailedTotal += r.Errors
	}
	return nil
}
