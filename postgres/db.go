package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune one DB (one per client database).
type Options struct {
	// StatementTimeout cancels any statement running longer; 0 means none.
	// Prefer ConfigurePool, which sets it once per connection for free; when
	// the pool was not configured that way, each operation sets it with
	// set_config(..., true) in the same round trip as its statement.
	StatementTimeout time.Duration
	// MetadataTTL is how long cached table metadata is trusted (default 60s).
	MetadataTTL time.Duration
	// AcquireTimeout bounds waiting for a pooled connection (default 5s), so a
	// full pool answers 503 pool_exhausted instead of hanging the request.
	// A wait ends between AcquireTimeout and 1.25×AcquireTimeout.
	AcquireTimeout time.Duration
	// DeadlineMargin is added to StatementTimeout to form the gateway-side
	// bound of a database call on a pool configured by ConfigurePool: a
	// server silent for longer (stalled) has its connection closed and the
	// call answers 504 (guard.go). Default DefaultDeadlineMargin.
	DeadlineMargin time.Duration
	// ExposedSchemas are the schemas table operations, embeds and RPC
	// reach, in lookup order for unqualified names (spec §1.1); default
	// gateway.DefaultExposedSchemas. System schemas are dropped even when
	// listed (gateway.SystemSchema).
	ExposedSchemas []string
}

// Defaults applied by New when an option is zero.
const (
	DefaultMetadataTTL    = 60 * time.Second
	DefaultAcquireTimeout = 5 * time.Second
	DefaultDeadlineMargin = 5 * time.Second
)

// DB executes gateway requests on one PostgreSQL database. It is safe for
// concurrent use; create one per client and share it.
type DB struct {
	pool *pgxpool.Pool
	opts Options
	meta *metadataCache
	// plans remembers fetch plans by normalised request (PlanFetch).
	plans planMemo
	// shapePlans remembers fetch plans by request shape (fetchshape.go).
	shapePlans shapePlans
	// acquireDeadline bounds waiting for a connection (acquire).
	acquireDeadline sharedDeadline
	// timeout is the statement_timeout value each operation sets itself, or
	// "" when none is wanted or the pool's connections already carry it.
	timeout string
}

// New wraps pool. It does no I/O; metadata loads lazily on first use.
func New(pool *pgxpool.Pool, opts Options) *DB {
	if opts.MetadataTTL <= 0 {
		opts.MetadataTTL = DefaultMetadataTTL
	}
	if opts.AcquireTimeout <= 0 {
		opts.AcquireTimeout = DefaultAcquireTimeout
	}
	var schemas []string
	for _, sc := range opts.ExposedSchemas {
		if !gateway.SystemSchema(sc) && !slices.Contains(schemas, sc) {
			schemas = append(schemas, sc)
		}
	}
	if len(opts.ExposedSchemas) == 0 {
		schemas = gateway.DefaultExposedSchemas
	}
	opts.ExposedSchemas = schemas
	db := &DB{pool: pool, opts: opts}
	if opts.StatementTimeout > 0 {
		want := timeoutSetting(opts.StatementTimeout)
		if pool.Config().ConnConfig.RuntimeParams["statement_timeout"] != want {
			db.timeout = want
		}
	}
	db.meta = newMetadataCache(opts.MetadataTTL, schemas, db.loadTable)
	return db
}

// ConfigurePool makes every connection of a pool built from cfg start with
// opts.StatementTimeout as its statement_timeout. A DB over such a pool then
// skips the per-operation set_config, so the timeout costs nothing per
// request. Its connections are dialled with TCP keepalive and a TCP user
// timeout, and each socket call is bounded by StatementTimeout +
// DeadlineMargin (guard.go). Call it before pgxpool.NewWithConfig.
func ConfigurePool(cfg *pgxpool.Config, opts Options) {
	var bound time.Duration
	if opts.StatementTimeout > 0 {
		margin := opts.DeadlineMargin
		if margin <= 0 {
			margin = DefaultDeadlineMargin
		}
		bound = opts.StatementTimeout + margin
	}
	cfg.ConnConfig.DialFunc = guardDialer(bound)
	if opts.StatementTimeout <= 0 {
		return
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = timeoutSetting(opts.StatementTimeout)
}

// timeoutSetting renders d as statement_timeout milliseconds (at least 1).
func timeoutSetting(d time.Duration) string {
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10)
}

// Pool returns the pool the DB runs on.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// acquire takes a connection, waiting at most AcquireTimeout (up to a
// quarter more: sharedDeadline). Running out
// of that time while the caller's own context is alive means the pool is
// full: errPoolExhausted, which MapError answers with 503 pool_exhausted.
func (db *DB) acquire(ctx context.Context) (*pgxpool.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	conn, err := db.pool.Acquire(acquireContext{ctx, db.acquireDeadline.get(db.opts.AcquireTimeout)})
	if err == nil {
		return conn, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if !isBackendDown(err) && errors.Is(err, context.DeadlineExceeded) {
		return nil, errPoolExhausted
	}
	return nil, fmt.Errorf("acquire connection: %w", err)
}

// setTimeoutSQL sets statement_timeout until the end of the current
// transaction. A pgx.Batch is one implicit transaction (one Sync), so the
// setting covers exactly the statements queued after it and then reverts.
const setTimeoutSQL = "SELECT set_config('statement_timeout', $1, true)"

// stmt is one statement whose single result row is scanned by scan.
type stmt struct {
	sql  string
	args []any
	scan func(pgx.Row) error
}

// exec runs stmts on one connection in one round trip: a lone statement
// without a timeout goes through QueryRow; anything else is one pgx.Batch,
// which PostgreSQL runs as one implicit transaction. Statements are prepared
// and cached per connection by pgx's default exec mode, so repeated shapes
// are parsed and planned once.
func (db *DB) exec(ctx context.Context, stmts ...stmt) error {
	conn, release, err := db.take(ctx, pgx.TxOptions{})
	if err != nil {
		return err
	}
	return db.execOn(ctx, conn, release, stmts)
}

// execRead is exec for a read, retried once when it failed because its
// pooled connection had been dropped (the backend was terminated or the
// server restarted while the connection sat idle): nothing was changed,
// and a live connection answers. The retry takes a connection that
// answered a ping, since a restart drops the pool's other idle ones too.
// Writes never come here: whether one reached the server is unknown.
func (db *DB) execRead(ctx context.Context, reset func(), stmts ...stmt) error {
	err := db.exec(ctx, stmts...)
	if err == nil || !isDroppedConn(err) || ctx.Err() != nil || db.pinnedIn(ctx) != nil {
		return err
	}
	conn, aerr := db.acquireLive(ctx)
	if aerr != nil {
		return err
	}
	reset()
	return db.execOn(ctx, conn, conn.Release, stmts)
}

// acquireLive acquires a connection that answers a ping, discarding up to
// the pool's size of dropped ones.
func (db *DB) acquireLive(ctx context.Context) (*pgxpool.Conn, error) {
	for range db.pool.Config().MaxConns + 1 {
		conn, err := db.acquire(ctx)
		if err != nil {
			return nil, err
		}
		err = conn.Ping(ctx)
		if err == nil {
			return conn, nil
		}
		conn.Release() // closed by the failed ping: the pool destroys it
		if !isDroppedConn(err) {
			return nil, err
		}
	}
	return nil, errors.New("no live connection")
}

// isDroppedConn reports a failure of a connection the server had dropped:
// its session was terminated (57P01 admin_shutdown, 57P02 crash_shutdown)
// or the socket was closed or reset. Not a connect failure (the server is
// down; a retry would fail again) nor a stall (errStalled: a retry would
// wait as long again).
func isDroppedConn(err error) bool {
	if isStalled(err) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "57P01" || pgErr.Code == "57P02"
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return false
	}
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

// execOn is exec on a taken connection, given back by release.
func (db *DB) execOn(ctx context.Context, conn *pgxpool.Conn, release func(), stmts []stmt) error {
	defer release()
	var err error
	if len(stmts) == 1 && db.timeout == "" {
		err = stmts[0].scan(conn.QueryRow(ctx, stmts[0].sql, stmts[0].args...))
	} else {
		b := &pgx.Batch{}
		if db.timeout != "" {
			b.Queue(setTimeoutSQL, db.timeout)
		}
		for _, s := range stmts {
			b.Queue(s.sql, s.args...).QueryRow(s.scan)
		}
		err = conn.SendBatch(ctx, b).Close()
	}
	if isStaleMetadata(err) {
		db.meta.invalidate()
	}
	return err
}

// staleAge is how old cached metadata must be before an "unknown column"
// found by validation triggers a reload: a column added a moment ago is then
// seen at once, while a typo cannot make every request hit the catalog.
const staleAge = time.Second

// withTable resolves ref and runs build with its metadata. When build finds
// an unknown column, the metadata is reloaded once (if older than staleAge)
// and build runs again, so ALTER TABLE ... ADD COLUMN is visible before the
// TTL runs out.
func (db *DB) withTable(ctx context.Context, ref gateway.TableRef, build func(*tableMeta) error) error {
	m, err := db.meta.table(ctx, ref)
	if err != nil {
		return err
	}
	err = build(m)
	var ge *gateway.Error
	if errors.As(err, &ge) && ge.Code == gateway.CodeUnknownColumn {
		fresh, reloaded, rerr := db.meta.refreshIfOlder(ctx, ref, staleAge)
		if rerr != nil {
			return rerr
		}
		if reloaded {
			return build(fresh)
		}
	}
	return err
}

// catalog adapts the DB's cache to the builder's catalog interface.
func (db *DB) catalog() catalog { return db.meta }

// mutationSQL wraps a data-modifying statement (without its RETURNING) so
// that one statement yields both the returned rows as a JSON array and the
// affected count. With head only the count is computed.
func mutationSQL(inner, returning string, head, stripNulls bool) string {
	if head {
		return "WITH _m AS (" + inner + " RETURNING 1) SELECT '[]'::json, count(*) FROM _m"
	}
	return "WITH _m AS (" + inner + " RETURNING " + returning + ") SELECT coalesce(json_agg(" + rowJSON("_m", stripNulls) + "), '[]'), count(*) FROM _m"
}

// rowJSON is the json_agg argument for the rows of alias: the row itself,
// or with X-Strip-Nulls / strip_nulls its JSON without null fields. Every
// route that returns rows (fetch, insert, update, delete, rpc) aggregates
// through it, so they strip alike.
func rowJSON(alias string, stripNulls bool) string {
	if stripNulls {
		return "json_strip_nulls(row_to_json(" + alias + ".*))"
	}
	return alias + ".*"
}

// returningList renders a RETURNING projection: plain columns or *.
func returningList(s scope, sel gateway.Selection) (string, error) {
	for _, it := range sel.Items {
		if it.Embed != nil {
			return "", gateway.Errorf(s.code, "embedding %q is not supported in returned columns", it.Embed.Name())
		}
	}
	return (&selectBuilder{}).list(s, sel, 0)
}

// sqlText is one built statement with its arguments.
type sqlText struct {
	sql  string
	args []any
}

// runMutation executes built mutation statements in one round trip (several
// statements form one implicit transaction, so they commit or fail
// together) and concatenates their returned rows.
func (db *DB) runMutation(ctx context.Context, op string, stmts []sqlText) (gateway.MutationResult, error) {
	parts := make([][]byte, len(stmts))
	counts := make([]int64, len(stmts))
	run := make([]stmt, len(stmts))
	for i, s := range stmts {
		run[i] = stmt{s.sql, s.args, func(r pgx.Row) error { return r.Scan(&parts[i], &counts[i]) }}
	}
	if err := db.exec(ctx, run...); err != nil {
		return gateway.MutationResult{}, fmt.Errorf("%s rows: %w", op, err)
	}
	var total int64
	for _, c := range counts {
		total += c
	}
	return gateway.MutationResult{Rows: joinArrays(parts), Affected: total}, nil
}

// joinArrays concatenates JSON arrays without decoding them.
func joinArrays(parts [][]byte) json.RawMessage {
	if len(parts) == 1 {
		return parts[0]
	}
	out := []byte{'['}
	for _, p := range parts {
		inner := bytes.TrimSpace(p)
		if len(inner) < 2 {
			continue
		}
		inner = bytes.TrimSpace(inner[1 : len(inner)-1])
		if len(inner) == 0 {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, inner...)
	}
	return append(out, ']')
}

// queryRows runs one statement that returns many rows and hands them to
// collect, applying the statement timeout like exec.
func (db *DB) queryRows(ctx context.Context, sql string, args []any, collect func(pgx.Rows) error) error {
	conn, release, err := db.take(ctx, pgx.TxOptions{})
	if err != nil {
		return err
	}
	defer release()
	if db.timeout == "" {
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			return err
		}
		return collect(rows)
	}
	b := &pgx.Batch{}
	b.Queue(setTimeoutSQL, db.timeout)
	b.Queue(sql, args...).Query(collect)
	return conn.SendBatch(ctx, b).Close()
}
