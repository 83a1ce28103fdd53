package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/telemetry"
)

// Telemetry is measured by two more engines over c)'s registry (same pool,
// no API keys, no read cache), for the issue's "fetch throughput with full
// logging + statistics on vs all telemetry off, same run: >= 0.9":
//
//	f) every telemetry off: api.Options.Metrics, Logs and Stats all nil, so
//	   the observe middleware only calls the next handler and /metrics
//	   answers 404;
//	g) all of it on, wired as app/ wires production: its own
//	   telemetry.Metrics, a LogWriter with the default LogOptions writing
//	   the request and operation logs with COPY into the real
//	   gateway_request_log and gateway_operation_log of the bench control
//	   plane (schema athena_bench_cp) on a dedicated logging pool of
//	   telemetry.log_pool_max_conns connections, and a Stats aggregator
//	   whose flush applies its delta to client_statistics and
//	   client_table_statistics every 5s.
//
// c) keeps its metrics-only setup, so c/f is what the metrics alone cost
// and g/f what everything costs.

// telemetryDeps is the telemetry of an engine; zero is every telemetry off.
type telemetryDeps struct {
	Metrics *telemetry.Metrics
	Logs    *telemetry.LogWriter
	Stats   *telemetry.Stats
}

// logCounts is what became of one log's entries.
type logCounts struct {
	Written int64 `json:"written"`
	Dropped int64 `json:"dropped"` // queue full: never written
	Failed  int64 `json:"failed"`  // their COPY failed
}

func (c logCounts) minus(o logCounts) logCounts {
	return logCounts{Written: c.Written - o.Written, Dropped: c.Dropped - o.Dropped, Failed: c.Failed - o.Failed}
}

// lost is the entries dropped or failed.
func (c logCounts) lost() int64 { return c.Dropped + c.Failed }

// accounted is the entries whose fate is known.
func (c logCounts) accounted() int64 { return c.Written + c.Dropped + c.Failed }

// telemetryCounts is a reading of g)'s metrics registry: what the request
// path recorded and what the LogWriter made of it.
type telemetryCounts struct {
	Requests        int64     `json:"requests"`         // answered by g), all routes
	GatewayRequests int64     `json:"gateway_requests"` // of those, /gateway/*: one operation entry each
	RequestLog      logCounts `json:"request_log"`
	OperationLog    logCounts `json:"operation_log"`
	queued          int64     // entries waiting in the LogWriter's queues
}

func (c telemetryCounts) minus(o telemetryCounts) telemetryCounts {
	return telemetryCounts{
		Requests:        c.Requests - o.Requests,
		GatewayRequests: c.GatewayRequests - o.GatewayRequests,
		RequestLog:      c.RequestLog.minus(o.RequestLog),
		OperationLog:    c.OperationLog.minus(o.OperationLog),
	}
}

// settled reports whether every request answered so far has had its log
// entries written, dropped or failed (none is still queued or batched).
func (c telemetryCounts) settled() bool {
	return c.queued == 0 && c.RequestLog.accounted() >= c.Requests && c.OperationLog.accounted() >= c.GatewayRequests
}

// telemetryLevel is g)'s logging at one concurrency: warm-up and both
// measured halves.
type telemetryLevel struct {
	Clients int `json:"clients"`
	telemetryCounts
}

// telemetryReport is what g)'s telemetry did over the whole run (the
// checks, every warm-up and every measured half) and per concurrency.
type telemetryReport struct {
	telemetryCounts
	Levels []telemetryLevel `json:"levels"`
	// StatsFlushes were applied to the statistics tables (StatsFailed were
	// not; a failed flush is retried with the next one); they counted
	// StatsRequests requests. StatsDropped records were refused by the
	// aggregator's key bound.
	StatsFlushes  int64 `json:"stats_flushes_applied"`
	StatsFailed   int64 `json:"stats_flushes_failed"`
	StatsRequests int64 `json:"stats_requests_counted"`
	StatsDropped  int64 `json:"stats_records_dropped"`
}

// level returns the counts at clients, if that level ran.
func (r *telemetryReport) level(clients int) (telemetryLevel, bool) {
	if r == nil {
		return telemetryLevel{}, false
	}
	for _, l := range r.Levels {
		if l.Clients == clients {
			return l, true
		}
	}
	return telemetryLevel{}, false
}

// The bench's log tables and statistics tables, in controlPlaneSchema.
const truncateTelemetrySQL = `truncate gateway_request_log, gateway_operation_log, stats_flushes, client_statistics, client_table_statistics`

// settleTimeout bounds the wait for g)'s log entries to be written after
// a slice: a COPY is bounded by LogOptions.WriteTimeout (10s) and a
// partial batch waits at most FlushInterval (1s).
const settleTimeout = 15 * time.Second

// telemetryAthena is g)'s telemetry over the control plane of d).
type telemetryAthena struct {
	cp      *pgxpool.Pool // the control plane (keys.pool); not ours to close
	logPool *pgxpool.Pool
	deps    telemetryDeps
	srv     *server // g)'s engine
	log     *slog.Logger

	flushes atomic.Int64 // statistics flushes applied
	counted atomic.Int64 // requests they counted

	last   telemetryCounts // at the end of the last level
	once   sync.Once
	report telemetryReport // complete after finish
}

// setupTelemetry empties the bench's log and statistics tables (migrated
// by setupKeys), builds g)'s telemetry as app/ does and serves g)'s engine
// built by engine. On success the caller must call finish; on failure
// everything is already released.
func setupTelemetry(ctx context.Context, keys *keyedAthena, engine func(telemetryDeps) *gin.Engine, log *slog.Logger) (_ *telemetryAthena, err error) {
	if _, err := keys.pool.Exec(ctx, truncateTelemetrySQL); err != nil {
		return nil, fmt.Errorf("empty the log tables in %s: %w", controlPlaneSchema, err)
	}
	// As app.newLogWriter: the control plane's settings (search_path
	// athena_bench_cp included) on a pool of its own, so log COPYs never
	// take a connection from the tenant pool or from the key lookups.
	pc := postgres.LogPoolConfig(keys.pool.Config(), config.Default().Telemetry.LogPoolMaxConns, "athena-bench-logs")
	logPool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open logging pool: %w", err)
	}
	t := &telemetryAthena{cp: keys.pool, logPool: logPool, log: log}
	metrics := telemetry.NewMetrics()
	// The shared limiter of background telemetry work, as app/ builds it.
	lim := telemetry.NewLimiter(config.Default().Telemetry.BackgroundTasks)
	lim.Register(metrics)
	logs := telemetry.NewLogWriter(postgres.NewLogStore(logPool), telemetry.LogOptions{Limiter: lim}, metrics, log.With("component", "logs"))
	var stats *telemetry.Stats
	// The flusher, the retention job and the statistics loop carry the
	// pprof label engine=g) background.
	pprof.Do(ctx, pprof.Labels("engine", string(scenarioTelOn)+" background"), func(context.Context) {
		logs.Start()
		stats = telemetry.NewStats(telemetry.StatsOptions{Log: log.With("component", "stats"), Flush: func(ctx context.Context, id string, d gateway.StatsDelta) error {
			return lim.Do(ctx, func() error { return t.applyStats(ctx, id, d) })
		}})
	})
	t.deps = telemetryDeps{Metrics: metrics, Logs: logs, Stats: stats}
	if t.srv, err = serve(string(scenarioTelOn), engine(t.deps)); err != nil {
		t.finish()
		return nil, err
	}
	return t, nil
}

// applyStats is g)'s StatsFlushFunc. In production it starts a StatsFlush
// workflow and returns; the worker's activity then runs exactly this Apply
// on the logging database. The bench applies the delta here, directly,
// because what the gateway process pays is Record on every request plus
// one flush every 5s; the workflow start (a gRPC call to Temporal, every
// 5s) would add nothing the comparison is about, and no Temporal server
// runs here. Apply in the process is, if anything, a heavier stand-in.
func (t *telemetryAthena) applyStats(ctx context.Context, flushID string, d gateway.StatsDelta) error {
	applied, err := postgres.NewStatsStore(t.cp).Apply(ctx, flushID, d)
	if err != nil {
		return err
	}
	if applied {
		t.flushes.Add(1)
		for _, c := range d.Clients {
			t.counted.Add(c.Total)
		}
	}
	return nil
}

// counts reads g)'s metrics registry, as a Prometheus scrape would.
func (t *telemetryAthena) counts() telemetryCounts {
	var c telemetryCounts
	mfs, err := t.deps.Metrics.Registry.Gather()
	if err != nil {
		t.log.Warn("read the telemetry metrics", "err", err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			label := func(name string) string {
				for _, l := range m.GetLabel() {
					if l.GetName() == name {
						return l.GetValue()
					}
				}
				return ""
			}
			lc := &c.RequestLog
			if label("log") == "operation" {
				lc = &c.OperationLog
			}
			switch mf.GetName() {
			case "athena_http_requests_total":
				n := int64(m.GetCounter().GetValue())
				c.Requests += n
				if strings.HasPrefix(label("route"), "/gateway/") {
					c.GatewayRequests += n
				}
			case "athena_log_written_total":
				lc.Written += int64(m.GetCounter().GetValue())
			case "athena_log_dropped_total":
				lc.Dropped += int64(m.GetCounter().GetValue())
			case "athena_log_write_failures_total":
				lc.Failed += int64(m.GetCounter().GetValue())
			case "athena_log_queue_depth":
				c.queued += int64(m.GetGauge().GetValue())
			}
		}
	}
	return c
}

// settle waits until every log entry of g)'s requests so far is written
// (or dropped, or failed), so that the COPYs one slice of g) caused are
// neither run during the next scenario's slice nor left out of the counts.
// In steady state the COPYs run while g) is measured, as in production.
func (t *telemetryAthena) settle(ctx context.Context) {
	deadline := time.Now().Add(settleTimeout)
	for ctx.Err() == nil && !t.counts().settled() {
		if time.Now().After(deadline) {
			t.log.Warn("g) log entries still unwritten; going on", "waited", settleTimeout)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// check proves f) and g) measure what they claim before anything is
// measured: f) answers a fetch and /metrics 404 (metrics off); g) answers
// a fetch that its LogWriter writes to both logs and its statistics apply
// at once (FlushNow), and /metrics 200.
func (t *telemetryAthena) check(ctx context.Context, offURL string) error {
	client := newHTTPClient(1)
	defer client.CloseIdleConnections()
	metricsStatus := func(url string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/metrics", nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	for _, url := range []string{offURL, t.srv.url} {
		if err := athenaFetch(client, url, "")(ctx, rowOf(1)); err != nil {
			return fmt.Errorf("check telemetry engines: fetch from %s: %w", url, err)
		}
	}
	if status, err := metricsStatus(offURL); err != nil || status != http.StatusNotFound {
		return fmt.Errorf("check telemetry: f) GET /metrics answered %d (%v), want 404: metrics are not off", status, err)
	}
	if status, err := metricsStatus(t.srv.url); err != nil || status != http.StatusOK {
		return fmt.Errorf("check telemetry: g) GET /metrics answered %d (%v), want 200: metrics are not on", status, err)
	}
	t.settle(ctx)
	c := t.counts()
	if c.RequestLog.Written == 0 || c.OperationLog.Written == 0 {
		return fmt.Errorf("check telemetry: g) answered %d requests but wrote request log %s, operation log %s (written/dropped/failed): the log writer is not wired",
			c.Requests, c.RequestLog, c.OperationLog)
	}
	if err := t.deps.Stats.FlushNow(ctx); err != nil {
		return fmt.Errorf("check telemetry: g) statistics flush: %w", err)
	}
	if t.counted.Load() == 0 {
		return errors.New("check telemetry: g) answered a fetch but its statistics counted none: the aggregator is not wired")
	}
	// The levels count from here: the checks' entries are in the totals
	// only.
	t.last = c
	return nil
}

// endLevel records what g)'s telemetry did since the last call (or the
// checks) as the level of clients. Call it once g)'s last slice of the
// level has settled.
func (t *telemetryAthena) endLevel(clients int) {
	now := t.counts()
	t.report.Levels = append(t.report.Levels, telemetryLevel{Clients: clients, telemetryCounts: now.minus(t.last)})
	t.last = now
}

// finish stops g): it drains g)'s server, closes the LogWriter (writing
// what is queued) and the Stats aggregator (applying a last flush), reads
// the counts, closes the logging pool and empties the log and statistics
// tables so repeated runs do not grow them. It runs once; later calls
// return the same report. It never uses the run's context: an interrupted
// run still cleans up.
func (t *telemetryAthena) finish() *telemetryReport {
	t.once.Do(func() {
		if t.srv != nil {
			closeServer(t.srv, t.log)
		}
		ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
		defer cancel()
		var errs []error
		if err := t.deps.Logs.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close log writer: %w", err))
		}
		if err := t.deps.Stats.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("last statistics flush: %w", err))
		}
		t.report.telemetryCounts = t.counts()
		t.report.StatsFlushes = t.flushes.Load()
		t.report.StatsFailed = t.deps.Stats.FailedFlushes()
		t.report.StatsRequests = t.counted.Load()
		t.report.StatsDropped = t.deps.Stats.Dropped()
		t.logPool.Close()
		if _, err := t.cp.Exec(ctx, truncateTelemetrySQL); err != nil {
			errs = append(errs, fmt.Errorf("empty the log tables: %w", err))
		}
		if err := errors.Join(errs...); err != nil {
			t.log.Warn("finish telemetry scenario", "err", err)
		}
	})
	return &t.report
}
