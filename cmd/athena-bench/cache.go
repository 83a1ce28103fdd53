package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/api"
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
)

// The read cache (issue #5) is measured two ways:
//
//	e) a cache hit: POST /gateway/fetch of one row, the same request over
//	   and over, to an engine with the read cache on. e/b says what a hit
//	   is worth against the floor, e/c against Athena without the cache.
//	cold reads: coldReaders identical requests for a row nobody read yet,
//	   released together at an engine with an empty cache; a pgx tracer on
//	   that engine's pool counts the statements that reach PostgreSQL. The
//	   single-flight load should make it one.

// hotRowID is the row scenario e) reads.
const hotRowID = 4242

// checkCacheHit makes sure scenario e) measures hits: the second of two
// identical requests must be answered from the local cache.
func checkCacheHit(ctx context.Context, baseURL string) error {
	hc := newHTTPClient(1)
	defer hc.CloseIdleConnections()
	var outcome string
	for range 2 {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/gateway/fetch", bytes.NewReader(athenaFetchBody(hotRowID)))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Athena-Client", benchClient)
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("cache check: %w", err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("cache check: status %d", resp.StatusCode)
		}
		outcome = resp.Header.Get("X-Athena-Cache-Outcome")
	}
	if outcome != string(cache.HitLocal) {
		return fmt.Errorf("cache check: a repeated fetch answered X-Athena-Cache-Outcome %q, want %q", outcome, cache.HitLocal)
	}
	return nil
}

// cachedFetch drives scenario e): always the same request.
func cachedFetch(client *http.Client, baseURL string) request {
	do := athenaFetch(client, baseURL, "")
	return func(ctx context.Context, _ workerRand) error {
		return do(ctx, rowOf(hotRowID))
	}
}

// queryCounter is a pgx tracer counting the statements sent: one per query
// and one per statement of a batch (Athena sends a fetch with a count as
// one batch). Prepares and pings are not statements and are not counted.
type queryCounter struct{ n atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (q *queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (q *queryCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	q.n.Add(int64(d.Batch.Len()))
	return ctx
}

func (q *queryCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (q *queryCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// tracedClients is the registry with client bench answered by a DB over a
// pool carrying the query counter. The registry's own pools install their
// own tracer, so the counting pool is built here the way the registry
// builds one (same size, same postgres.Options).
type tracedClients struct {
	*registry.Registry
	db *postgres.DB
}

func (t tracedClients) Lookup(name string) (*postgres.DB, error) {
	if name == benchClient {
		return t.db, nil
	}
	return t.Registry.Lookup(name)
}

// coldReport is the outcome of the cold-read stampedes.
type coldReport struct {
	Readers int     `json:"readers"`
	Queries []int64 `json:"queries"` // statements per trial
	Max     int64   `json:"max_queries"`
	Errors  int64   `json:"errors"`
	// FirstErr is the first failed request or setup error.
	FirstErr string `json:"first_error,omitempty"`
}

const (
	coldReaders = 64
	coldTrials  = 5
)

// coldReads runs coldTrials stampedes of coldReaders identical cold reads.
func coldReads(ctx context.Context, ath athena, dbURL string, maxConns int32, log *slog.Logger) coldReport {
	rep := coldReport{Readers: coldReaders}
	fail := func(err error) coldReport {
		rep.Errors++
		if rep.FirstErr == "" {
			rep.FirstErr = err.Error()
		}
		return rep
	}
	counter := &queryCounter{}
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fail(fmt.Errorf("parse database URL: %w", err))
	}
	pc.MaxConns = maxConns
	pc.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fail(fmt.Errorf("open traced pool: %w", err))
	}
	defer pool.Close()
	c, err := cache.New(cache.Options{Logger: log})
	if err != nil {
		return fail(err)
	}
	defer c.Close(context.Background())
	clients := tracedClients{Registry: ath.reg, db: postgres.New(pool, postgres.Options{ExposedSchemas: []string{benchSchema}})}
	srv, err := serve("cold reads", ath.engineWith(clients, api.Deps{}, c))
	if err != nil {
		return fail(err)
	}
	defer closeServer(srv, log)

	hc := newHTTPClient(coldReaders)
	defer hc.CloseIdleConnections()
	do := athenaFetch(hc, srv.url, "")
	// Warm-up: table metadata, prepared statements and one keep-alive
	// connection per reader, so the trials count data reads only. Row 1
	// is never a trial's row.
	var wg sync.WaitGroup
	errs := make([]error, coldReaders)
	for i := range coldReaders {
		wg.Go(func() { errs[i] = do(ctx, rowOf(1)) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fail(fmt.Errorf("cold-read warm-up: %w", err))
		}
	}
	for trial := range coldTrials {
		id := int64(itemRows - trial) // a row this cache has never seen
		counter.n.Store(0)
		start := make(chan struct{})
		for i := range coldReaders {
			wg.Go(func() {
				<-start
				errs[i] = do(ctx, rowOf(id))
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				fail(err)
			}
		}
		n := counter.n.Load()
		rep.Queries = append(rep.Queries, n)
		rep.Max = max(rep.Max, n)
	}
	return rep
}

// rowOf is a workerRand whose rowID is always id.
func rowOf(id int64) workerRand { return workerRand{fixed: id} }
