package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/postgres"
)

// Start reads the control plane and keeps the registry live: it migrates
// the logging database (Migrate, unless it already ran), mirrors the file's
// clients into athena_clients, loads the merged view, and starts the
// listener, the poll and the failure recorder, which Close stops. An
// unreachable logging database does not fail the start: the file's clients
// are served and the loop keeps retrying. Without a control plane it only
// starts the direct-URI janitor. Call it once.
func (r *Registry) Start(ctx context.Context) error {
	if r.cpErr != nil {
		return r.cpErr
	}
	r.startMu.Lock()
	defer r.startMu.Unlock()
	if r.started || r.closed.Load() {
		return errors.New("registry: Start called twice or after Close")
	}
	r.started = true
	bg, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	r.bg.Add(1)
	go func() {
		defer r.bg.Done()
		r.direct.janitor(bg)
	}()
	if r.store == nil {
		return nil
	}
	ready := true
	if err := r.bootstrap(ctx); err != nil {
		if !isBackendDown(err) {
			cancel()
			return err
		}
		ready = false
		r.log.Warn("control plane unreachable at start: serving config-file clients, retrying", "client", r.cp.Client, "err", redactText(err.Error()))
	}
	r.bg.Add(3)
	go func() {
		defer r.bg.Done()
		r.loop(bg, ready)
	}()
	go func() {
		defer r.bg.Done()
		_ = r.store.Listen(bg, postgres.ListenFuncs{
			Connected: r.requestReload, // anything sent while we were away was lost
			Notified:  func(string, string) { r.requestReload() },
			Failed: func(err error) {
				r.log.Warn("control plane listener disconnected; reconnecting", "err", redactText(err.Error()))
			},
		})
	}()
	go func() {
		defer r.bg.Done()
		r.recordFailures(bg)
	}()
	return nil
}

// Migrate brings the logging database up to date when
// control_plane.migrate_on_start is set; without a control plane, or once
// it has succeeded, it does nothing. The app runs it in its own start hook
// before Start; Start (and its retries while the logging database is down)
// runs it too, so the database is migrated before clients are loaded
// whoever calls it first.
func (r *Registry) Migrate(ctx context.Context) error {
	if r.cpPool == nil || !r.cp.MigrateOnStart || r.migrated.Load() {
		return nil
	}
	from, to, err := postgres.Migrate(ctx, r.cpPool)
	if err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	r.migrated.Store(true)
	if from != to {
		r.log.Info("control plane migrated", "from", from, "to", to)
	}
	return nil
}

// bootstrap is the start-up I/O: migrate, sync the file, load.
func (r *Registry) bootstrap(ctx context.Context) error {
	if err := r.Migrate(ctx); err != nil {
		return err
	}
	mirror := make(map[string]string, len(r.file))
	for name, c := range r.file {
		if name != r.cp.Client {
			// The file owns these URIs; the table only shows them, so it
			// never receives a password.
			mirror[name] = RedactURI(c.URI)
		}
	}
	if err := r.store.SyncConfigClients(ctx, mirror); err != nil {
		return fmt.Errorf("control plane: %w", err)
	}
	return r.Reload(ctx)
}

// Reload reads athena_clients and public_gateway_routes and installs the
// merged view now. The listener and the poll call it; tests and the admin
// handlers call it for read-your-writes.
func (r *Registry) Reload(ctx context.Context) error {
	if r.store == nil {
		return nil
	}
	rows, err := r.store.List(ctx)
	if err != nil {
		return fmt.Errorf("reload clients: %w", err)
	}
	routes, err := r.routes.Active(ctx)
	if err != nil {
		return fmt.Errorf("reload routes: %w", err)
	}
	r.apply(rows, routes)
	return nil
}

// requestReload asks the loop for a reload; bursts coalesce into one.
func (r *Registry) requestReload() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// loop reloads on notification and every poll interval; until the
// control plane has been reached once it retries the whole bootstrap.
func (r *Registry) loop(ctx context.Context, ready bool) {
	t := time.NewTicker(r.cp.PollInterval)
	defer t.Stop()
	healthy := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-t.C:
		}
		var err error
		octx, cancel := context.WithTimeout(ctx, 30*time.Second)
		if ready {
			err = r.Reload(octx)
		} else if err = r.bootstrap(octx); err == nil {
			ready = true
			r.log.Info("control plane reachable: database clients loaded", "client", r.cp.Client)
		}
		cancel()
		switch {
		case err != nil && healthy && ctx.Err() == nil:
			healthy = false
			r.log.Warn("control plane reload failed; keeping the last view", "err", redactText(err.Error()))
		case err == nil && !healthy:
			healthy = true
			r.log.Info("control plane reload recovered")
		}
	}
}

// recordFailures writes queued connect failures and recoveries to
// athena_clients, off the request path.
func (r *Registry) recordFailures(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-r.failures:
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if f.text == "" {
				if err := r.store.ResetFailures(wctx, f.client); err != nil && ctx.Err() == nil {
					r.log.Warn("reset load failures", "client", f.client, "err", redactText(err.Error()))
				}
			} else {
				disabled, err := r.store.RecordLoadFailure(wctx, f.client, f.text, r.cp.AutoDisableFailures, r.cp.AutoDisableWindow)
				switch {
				case err != nil && ctx.Err() == nil:
					r.log.Warn("record load failure", "client", f.client, "err", redactText(err.Error()))
				case disabled:
					r.log.Warn("client auto-disabled after repeated load failures", "client", f.client,
						"failures", r.cp.AutoDisableFailures, "window", r.cp.AutoDisableWindow)
				}
			}
			cancel()
		}
	}
}

// connectWatch is a pgx tracer on a client pool that reports connection
// attempts: a failure is queued for recording at most once per
// failureEvery per client, a success after failures queues a reset. It
// adds nothing to queries.
type connectWatch struct {
	r      *Registry
	client string
	h      *holder
}

func (w *connectWatch) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (w *connectWatch) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (w *connectWatch) TraceConnectStart(ctx context.Context, _ pgx.TraceConnectStartData) context.Context {
	return ctx
}

func (w *connectWatch) TraceConnectEnd(ctx context.Context, d pgx.TraceConnectEndData) {
	if d.Err == nil {
		if w.h.failing.Swap(false) {
			w.r.queueFailure(failure{client: w.client})
		}
		return
	}
	if errors.Is(d.Err, context.Canceled) && ctx.Err() != nil {
		return // the request went away; the database said nothing
	}
	now := time.Now().UnixNano()
	last := w.h.lastFailure.Load()
	if now-last < int64(w.r.failureEvery) || !w.h.lastFailure.CompareAndSwap(last, now) {
		return
	}
	w.h.failing.Store(true)
	w.r.queueFailure(failure{client: w.client, text: redactText(d.Err.Error())})
}

func (r *Registry) queueFailure(f failure) {
	select {
	case r.failures <- f:
	default: // the recorder is behind; the next interval will count
	}
}
