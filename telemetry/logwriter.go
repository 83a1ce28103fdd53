package telemetry

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/athena-gateway/athena/postgres"
)

// RequestEntry is one row of gateway_request_log (spec §7).
type RequestEntry = postgres.RequestLog

// OperationEntry is one row of gateway_operation_log (spec §7); Rows < 0
// means unknown.
type OperationEntry = postgres.OperationLog

// AuditEntry is one row of admin_audit_log: an admin mutation (spec §1.2).
type AuditEntry = postgres.AuditLog

// AdmissionEntry is one row of gateway_admission_events: an admission
// decision (spec §5).
type AdmissionEntry = postgres.AdmissionEvent

// LogStore is where the batches go; *postgres.LogStore writes them with
// COPY on the dedicated logging pool.
type LogStore interface {
	CopyRequests(ctx context.Context, rows []RequestEntry) (int64, error)
	CopyOperations(ctx context.Context, rows []OperationEntry) (int64, error)
	CopyAudit(ctx context.Context, rows []AuditEntry) (int64, error)
	CopyAdmissions(ctx context.Context, rows []AdmissionEntry) (int64, error)
	// PruneAdmissions deletes at most limit admission events older than
	// before (the same retention as the request log).
	PruneAdmissions(ctx context.Context, before time.Time, limit int) (int64, error)
	// PruneLogs deletes at most limit rows older than before from the
	// request and operation logs and reports how many went. The audit log
	// is never pruned: it is the record of who changed what.
	PruneLogs(ctx context.Context, before time.Time, limit int) (requests, operations int64, err error)
}

var _ LogStore = (*postgres.LogStore)(nil)

// LogOptions tunes a LogWriter; zero values take the defaults.
type LogOptions struct {
	QueueSize         int           // entries waiting per log before new ones are dropped (10000)
	BatchSize         int           // a batch this large is written at once (500)
	FlushInterval     time.Duration // a smaller batch waits at most this long (1s)
	WriteTimeout      time.Duration // bound on one COPY (10s)
	Retention         time.Duration // rows older than this are deleted (336h); < 0 keeps everything
	RetentionInterval time.Duration // how often the retention job runs (1h)
	RetentionBatch    int           // rows per DELETE statement (10000)
	// Limiter, shared with the other background telemetry work of the
	// process, bounds how many connections the writes and the retention
	// job hold at once. Nil: no limit beyond the store's pool.
	Limiter *Limiter
}

func (o LogOptions) withDefaults() LogOptions {
	if o.QueueSize <= 0 {
		o.QueueSize = 10000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Retention == 0 {
		o.Retention = 14 * 24 * time.Hour
	}
	if o.RetentionInterval <= 0 {
		o.RetentionInterval = time.Hour
	}
	if o.RetentionBatch <= 0 {
		o.RetentionBatch = 10000
	}
	return o
}

// dropWarnEvery bounds the "log queue full" warning, so an overloaded
// logging database costs one log line per interval, not one per request.
const dropWarnEvery = 10 * time.Second

// LogWriter batches request, operation and audit log entries in memory and
// writes them in the background. Request, Operation and Audit never block:
// when a queue is full the entry is dropped and counted
// (athena_log_dropped_total). Each log has its own queue, so a flood of
// request entries never pushes out an audit entry. A nil *LogWriter
// accepts and discards everything.
type LogWriter struct {
	store LogStore
	opts  LogOptions
	log   *slog.Logger

	requests   chan RequestEntry
	operations chan OperationEntry
	audits     chan AuditEntry
	admissions chan AdmissionEntry
	// auditFlush asks the flusher to write every queued audit entry now;
	// it closes the channel it is handed when done (FlushAudit).
	auditFlush chan chan struct{}

	dropped  [numLogs]atomic.Int64 // by logKind
	written  [numLogs]atomic.Int64
	failed   [numLogs]atomic.Int64
	lastWarn atomic.Int64 // unix nanos of the last drop warning

	mu      sync.Mutex // guards started and the shutdown fields below
	started bool
	closed  atomic.Bool
	closing chan context.Context // Close hands the flusher its deadline
	cancel  context.CancelFunc   // aborts an in-flight write and the retention job
	done    chan struct{}        // closed when the flusher has returned
	bg      sync.WaitGroup       // the retention job
}

type logKind int

const (
	requestLog logKind = iota
	operationLog
	auditLog
	admissionLog
	numLogs
)

var logNames = [numLogs]string{"request", "operation", "audit", "admission"}

// NewLogWriter builds a writer over store. metrics may be nil (no
// instruments); log may be nil (discard). Nothing runs until Start.
func NewLogWriter(store LogStore, opts LogOptions, metrics *Metrics, log *slog.Logger) *LogWriter {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts = opts.withDefaults()
	w := &LogWriter{
		store:      store,
		opts:       opts,
		log:        log,
		requests:   make(chan RequestEntry, opts.QueueSize),
		operations: make(chan OperationEntry, opts.QueueSize),
		audits:     make(chan AuditEntry, opts.QueueSize),
		admissions: make(chan AdmissionEntry, opts.QueueSize),
		auditFlush: make(chan chan struct{}),
		closing:    make(chan context.Context),
		done:       make(chan struct{}),
	}
	if metrics != nil {
		labels := []string{"log"}
		per := func(v *[numLogs]atomic.Int64) func() []Sample {
			return func() []Sample {
				out := make([]Sample, numLogs)
				for k := range out {
					out[k] = Sample{Labels: []string{logNames[k]}, Value: float64(v[k].Load())}
				}
				return out
			}
		}
		metrics.AddCounters("athena_log_dropped_total", "Log entries dropped because the write queue was full.", labels, per(&w.dropped))
		metrics.AddCounters("athena_log_written_total", "Log entries written to the logging database.", labels, per(&w.written))
		metrics.AddCounters("athena_log_write_failures_total", "Log entries lost because their batch could not be written.", labels, per(&w.failed))
		metrics.AddGauges("athena_log_queue_depth", "Log entries waiting to be written.", labels, func() []Sample {
			return []Sample{
				{Labels: []string{logNames[requestLog]}, Value: float64(len(w.requests))},
				{Labels: []string{logNames[operationLog]}, Value: float64(len(w.operations))},
				{Labels: []string{logNames[auditLog]}, Value: float64(len(w.audits))},
				{Labels: []string{logNames[admissionLog]}, Value: float64(len(w.admissions))},
			}
		})
	}
	return w
}

// Request queues one request log entry, or drops it when the queue is full
// or the writer is closed. It never blocks.
func (w *LogWriter) Request(e RequestEntry) {
	if w == nil || w.closed.Load() {
		return
	}
	select {
	case w.requests <- e:
	default:
		w.drop(requestLog)
	}
}

// Operation queues one operation log entry; like Request it never blocks.
func (w *LogWriter) Operation(e OperationEntry) {
	if w == nil || w.closed.Load() {
		return
	}
	select {
	case w.operations <- e:
	default:
		w.drop(operationLog)
	}
}

// Audit queues one audit log entry; like Request it never blocks.
func (w *LogWriter) Audit(e AuditEntry) {
	if w == nil || w.closed.Load() {
		return
	}
	select {
	case w.audits <- e:
	default:
		w.drop(auditLog)
	}
}

// Admission queues one admission event; like Request it never blocks.
func (w *LogWriter) Admission(e AdmissionEntry) {
	if w == nil || w.closed.Load() {
		return
	}
	select {
	case w.admissions <- e:
	default:
		w.drop(admissionLog)
	}
}

// FlushAudit writes every audit entry queued before the call (and waits
// for the write), so a read of the audit table that follows sees them. A
// writer that is not running (nil, not started, closed) has nothing to
// flush: its entries are written by Close.
func (w *LogWriter) FlushAudit(ctx context.Context) error {
	if w == nil || w.closed.Load() {
		return nil
	}
	w.mu.Lock()
	started := w.started
	w.mu.Unlock()
	if !started {
		return nil
	}
	ack := make(chan struct{})
	select {
	case w.auditFlush <- ack:
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Dropped reports how many entries of the log ("request", "operation" or
// "audit") were dropped on a full queue.
func (w *LogWriter) Dropped(log string) int64 { return w.count(&w.dropped, log) }

// Written reports how many entries of the log were written, and Failed
// how many were lost because their batch could not be written.
func (w *LogWriter) Written(log string) int64 { return w.count(&w.written, log) }
func (w *LogWriter) Failed(log string) int64  { return w.count(&w.failed, log) }

func (w *LogWriter) count(v *[numLogs]atomic.Int64, log string) int64 {
	for k, n := range logNames {
		if n == log {
			return v[k].Load()
		}
	}
	return 0
}

func (w *LogWriter) drop(k logKind) {
	n := w.dropped[k].Add(1)
	now := time.Now().UnixNano()
	last := w.lastWarn.Load()
	if now-last < int64(dropWarnEvery) || !w.lastWarn.CompareAndSwap(last, now) {
		return
	}
	w.log.Warn("log queue full: dropping entries (the logging database is slow or down)",
		"log", logNames[k], "dropped_total", n, "queue_size", w.opts.QueueSize)
}

// Start runs the flusher and, unless retention is off, the retention job.
// Close stops both. Call it once.
func (w *LogWriter) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.closed.Load() {
		return
	}
	w.started = true
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel = cancel
	go w.flusher(ctx)
	if w.opts.Retention > 0 {
		w.bg.Add(1)
		go func() {
			defer w.bg.Done()
			w.retention(ctx)
		}()
	}
}

// Close stops accepting entries, writes what is queued within ctx's
// deadline, stops the retention job and waits for every goroutine. Entries
// still queued when ctx ends are lost; the error is then ctx's.
func (w *LogWriter) Close(ctx context.Context) error {
	if w == nil || !w.closed.CompareAndSwap(false, true) {
		return nil
	}
	w.mu.Lock()
	started := w.started
	w.mu.Unlock()
	if !started {
		w.drain(ctx)
		return ctx.Err()
	}
	var err error
	select {
	case w.closing <- ctx:
		select {
		case <-w.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	w.cancel()
	<-w.done
	w.bg.Wait()
	return err
}

// flusher collects entries into batches and writes a batch when it is full
// or FlushInterval has passed, until Close hands it the shutdown deadline.
func (w *LogWriter) flusher(ctx context.Context) {
	defer close(w.done)
	tick := time.NewTicker(w.opts.FlushInterval)
	defer tick.Stop()
	reqs := make([]RequestEntry, 0, w.opts.BatchSize)
	ops := make([]OperationEntry, 0, w.opts.BatchSize)
	var audits []AuditEntry // rare: allocated when the first one comes
	var adms []AdmissionEntry
	for ctx.Err() == nil {
		select {
		case e := <-w.requests:
			if reqs = append(reqs, e); len(reqs) >= w.opts.BatchSize {
				reqs = w.writeRequests(ctx, reqs)
			}
		case e := <-w.operations:
			if ops = append(ops, e); len(ops) >= w.opts.BatchSize {
				ops = w.writeOperations(ctx, ops)
			}
		case e := <-w.audits:
			if audits = append(audits, e); len(audits) >= w.opts.BatchSize {
				audits = w.writeAudits(ctx, audits)
			}
		case e := <-w.admissions:
			if adms = append(adms, e); len(adms) >= w.opts.BatchSize {
				adms = w.writeAdmissions(ctx, adms)
			}
		case ack := <-w.auditFlush:
			// Only this goroutine receives from w.audits, so every entry
			// queued before FlushAudit was called is among these.
			for n := len(w.audits); n > 0; n-- {
				audits = append(audits, <-w.audits)
			}
			audits = w.writeAudits(ctx, audits)
			close(ack)
		case <-tick.C:
			reqs = w.writeRequests(ctx, reqs)
			ops = w.writeOperations(ctx, ops)
			audits = w.writeAudits(ctx, audits)
			adms = w.writeAdmissions(ctx, adms)
		case cctx := <-w.closing:
			w.writeRequests(cctx, reqs)
			w.writeOperations(cctx, ops)
			w.writeAudits(cctx, audits)
			w.writeAdmissions(cctx, adms)
			w.drain(cctx)
			return
		case <-ctx.Done():
			return
		}
	}
}

// drain writes everything queued, in batches, with ctx bounding the work.
func (w *LogWriter) drain(ctx context.Context) {
	for {
		reqs := make([]RequestEntry, 0, w.opts.BatchSize)
		ops := make([]OperationEntry, 0, w.opts.BatchSize)
		var audits []AuditEntry
		var adms []AdmissionEntry
	fill:
		for len(reqs) < w.opts.BatchSize || len(ops) < w.opts.BatchSize || len(audits) < w.opts.BatchSize || len(adms) < w.opts.BatchSize {
			select {
			case e := <-w.requests:
				reqs = append(reqs, e)
			case e := <-w.operations:
				ops = append(ops, e)
			case e := <-w.audits:
				audits = append(audits, e)
			case e := <-w.admissions:
				adms = append(adms, e)
			default:
				break fill
			}
		}
		if len(reqs) == 0 && len(ops) == 0 && len(audits) == 0 && len(adms) == 0 {
			return
		}
		w.writeRequests(ctx, reqs)
		w.writeOperations(ctx, ops)
		w.writeAudits(ctx, audits)
		w.writeAdmissions(ctx, adms)
	}
}

// writeRequests writes one batch and returns the emptied slice for reuse.
func (w *LogWriter) writeRequests(ctx context.Context, rows []RequestEntry) []RequestEntry {
	if len(rows) == 0 {
		return rows
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.WriteTimeout)
	defer cancel()
	var n int64
	err := w.opts.Limiter.Do(ctx, func() (err error) { n, err = w.store.CopyRequests(ctx, rows); return err })
	w.account(requestLog, len(rows), n, err)
	clear(rows)
	return rows[:0]
}

func (w *LogWriter) writeOperations(ctx context.Context, rows []OperationEntry) []OperationEntry {
	if len(rows) == 0 {
		return rows
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.WriteTimeout)
	defer cancel()
	var n int64
	err := w.opts.Limiter.Do(ctx, func() (err error) { n, err = w.store.CopyOperations(ctx, rows); return err })
	w.account(operationLog, len(rows), n, err)
	clear(rows)
	return rows[:0]
}

func (w *LogWriter) writeAudits(ctx context.Context, rows []AuditEntry) []AuditEntry {
	if len(rows) == 0 {
		return rows
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.WriteTimeout)
	defer cancel()
	var n int64
	err := w.opts.Limiter.Do(ctx, func() (err error) { n, err = w.store.CopyAudit(ctx, rows); return err })
	w.account(auditLog, len(rows), n, err)
	clear(rows)
	return rows[:0]
}

func (w *LogWriter) writeAdmissions(ctx context.Context, rows []AdmissionEntry) []AdmissionEntry {
	if len(rows) == 0 {
		return rows
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.WriteTimeout)
	defer cancel()
	var n int64
	err := w.opts.Limiter.Do(ctx, func() (err error) { n, err = w.store.CopyAdmissions(ctx, rows); return err })
	w.account(admissionLog, len(rows), n, err)
	clear(rows)
	return rows[:0]
}

// account counts a written batch. A failed batch is not retried: the queue
// stays bounded and the next batch may succeed.
func (w *LogWriter) account(k logKind, size int, n int64, err error) {
	if err == nil {
		w.written[k].Add(n)
		return
	}
	w.failed[k].Add(int64(size))
	w.log.Warn("log batch lost: write failed", "log", logNames[k], "entries", size, "err", err)
}

// retention deletes rows older than Retention every RetentionInterval,
// starting right away, in statements of RetentionBatch rows so no single
// DELETE holds locks or bloats WAL for long.
func (w *LogWriter) retention(ctx context.Context) {
	t := time.NewTicker(w.opts.RetentionInterval)
	defer t.Stop()
	for {
		if _, err := w.Prune(ctx, time.Now().Add(-w.opts.Retention)); err != nil && ctx.Err() == nil {
			w.log.Warn("log retention failed; retrying next interval", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune deletes log rows older than before, batch by batch, until none
// are left or ctx ends, and reports how many went.
func (w *LogWriter) Prune(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for ctx.Err() == nil {
		var r, o, a int64
		err := w.opts.Limiter.Do(ctx, func() (err error) {
			if r, o, err = w.store.PruneLogs(ctx, before, w.opts.RetentionBatch); err != nil {
				return err
			}
			a, err = w.store.PruneAdmissions(ctx, before, w.opts.RetentionBatch)
			return err
		})
		total += r + o + a
		if err != nil {
			return total, err
		}
		if r < int64(w.opts.RetentionBatch) && o < int64(w.opts.RetentionBatch) && a < int64(w.opts.RetentionBatch) {
			return total, nil
		}
	}
	return total, ctx.Err()
}
