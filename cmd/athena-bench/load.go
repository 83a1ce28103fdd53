package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// workerRand is one worker's private random source (no lock, no sharing),
// used to pick the row each request reads. With fixed set it always picks
// that row (scenario e and the cold reads repeat one request).
type workerRand struct {
	*rand.Rand
	fixed int64
}

// rowID picks an id in 1..n, or the fixed one.
func (r workerRand) rowID(n int64) int64 {
	if r.fixed > 0 {
		return r.fixed
	}
	return r.Int64N(n) + 1
}

// result is what one load run measured.
type result struct {
	Requests int64         `json:"requests"`
	Errors   int64         `json:"errors"`
	FirstErr string        `json:"first_error,omitempty"`
	Elapsed  time.Duration `json:"elapsed_ns"`
	RPS      float64       `json:"rps"`
	P50      time.Duration `json:"p50_ns"`
	P99      time.Duration `json:"p99_ns"`
}

// workerStats is filled by one worker only, so the hot loop takes no lock.
type workerStats struct {
	latencies []time.Duration
	errors    int64
	firstErr  error
}

// expectedLatency sizes the per-worker latency slices: a loopback request is
// rarely faster than this, so the slices almost never grow mid-run.
const expectedLatency = 25 * time.Microsecond

// load runs do from concurrency workers back to back until duration has
// passed (or ctx ends) and reports throughput and latency percentiles.
// Failed requests count as errors and are left out of the latencies.
func load(ctx context.Context, concurrency int, duration time.Duration, do func(context.Context, workerRand) error) result {
	return summarize(loadSample(ctx, concurrency, duration, 0, do))
}

// sample is the raw outcome of one load run; samples of one scenario taken
// at different times merge into one result (see summarize).
type sample struct {
	stats   []workerStats
	elapsed time.Duration
}

// loadSample is load without the summary. Worker i's random source is
// seeded from seedBase+i, so slices of one interleaved run (different
// seedBase) do not replay the same row sequence.
func loadSample(ctx context.Context, concurrency int, duration time.Duration, seedBase uint64, do func(context.Context, workerRand) error) sample {
	return loadBudget(ctx, concurrency, duration, 0, seedBase, do)
}

// loadBudget is loadSample bounded by a number of requests instead of a
// duration when budget > 0: the workers then make exactly budget requests
// between them (failed ones included), however long that takes, and
// duration is ignored. The cross-process measurement's scaled mode
// (-xp-requests) uses it so a short run is still a known amount of work.
func loadBudget(ctx context.Context, concurrency int, duration time.Duration, budget int64, seedBase uint64, do func(context.Context, workerRand) error) sample {
	perWorker := int(duration/expectedLatency)/concurrency + 1
	var left atomic.Int64
	if budget > 0 {
		perWorker = int(budget)/concurrency + 1
		left.Store(budget)
	}
	stats := make([]workerStats, concurrency)
	for i := range stats {
		stats[i].latencies = make([]time.Duration, 0, perWorker)
	}

	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(duration)
	for i := range stats {
		wg.Add(1)
		go func(st *workerStats, seed uint64) {
			defer wg.Done()
			rng := workerRand{Rand: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
			for ctx.Err() == nil {
				t0 := time.Now()
				if budget > 0 {
					if left.Add(-1) < 0 {
						return
					}
				} else if !t0.Before(deadline) {
					return
				}
				err := do(ctx, rng)
				if err != nil {
					if ctx.Err() != nil {
						return
					}
					st.errors++
					if st.firstErr == nil {
						st.firstErr = err
					}
					continue
				}
				st.latencies = append(st.latencies, time.Since(t0))
			}
		}(&stats[i], seedBase+uint64(i)+1)
	}
	wg.Wait()
	return sample{stats: stats, elapsed: time.Since(start)}
}

// summarize merges the workers' latencies of every sample and sorts them
// once, at the end. Throughput is all requests over the summed elapsed
// times, so gaps between samples do not count.
func summarize(samples ...sample) result {
	n := 0
	var res result
	for _, sm := range samples {
		res.Elapsed += sm.elapsed
		for _, s := range sm.stats {
			n += len(s.latencies)
		}
	}
	all := make([]time.Duration, 0, n)
	for _, sm := range samples {
		for _, s := range sm.stats {
			all = append(all, s.latencies...)
			res.Errors += s.errors
			if res.FirstErr == "" && s.firstErr != nil {
				res.FirstErr = s.firstErr.Error()
			}
		}
	}
	slices.Sort(all)
	res.Requests = int64(len(all))
	if res.Elapsed > 0 {
		res.RPS = float64(res.Requests) / res.Elapsed.Seconds()
	}
	res.P50 = percentile(all, 50)
	res.P99 = percentile(all, 99)
	return res
}

// percentile reads the p-th percentile (nearest rank) of sorted latencies.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := (len(sorted)*p + 99) / 100 // ceil(n*p/100)
	return sorted[max(rank, 1)-1]
}
