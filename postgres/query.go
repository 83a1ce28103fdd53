package postgres

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Query runs raw SQL.
//
// With Params it is one statement on the extended protocol: parameters are
// bound (never interpolated) and the statement is prepared and cached like
// any other. Without Params the text may hold several statements separated
// by ';': it goes over the simple protocol in one round trip, and PostgreSQL
// runs all statements as one implicit transaction, so a failing statement
// rolls back the ones before it.
//
// Schema sets search_path and the DB's statement timeout applies, both only
// for this call's transaction (set_config(..., true) on the extended path,
// SET LOCAL in front of the text on the simple path). Because that makes the
// text a transaction block, statements that refuse to run in one (VACUUM,
// CREATE INDEX CONCURRENTLY) only work without Schema and without a
// per-call timeout.
//
// Rows are those of the last statement that returned rows, with values in
// JSON-friendly forms (see resultValue).
func (db *DB) Query(ctx context.Context, req gateway.QueryRequest) (gateway.QueryResult, error) {
	if strings.TrimSpace(req.SQL) == "" {
		return gateway.QueryResult{}, gateway.Errorf(gateway.CodeEmptyQuery, "query is empty")
	}
	if req.Schema != "" && !gateway.ValidIdentifier(req.Schema) {
		return gateway.QueryResult{}, gateway.Errorf(gateway.CodeInvalidQueryPayload, "invalid schema name %q", req.Schema)
	}
	if strings.ContainsRune(req.SQL, 0) {
		// The wire protocol ends strings at NUL: PostgreSQL would see a
		// malformed message (08P01, "database unavailable"), and no retry
		// can ever help.
		return gateway.QueryResult{}, gateway.Errorf(gateway.CodeInvalidQueryPayload, "query text contains a NUL byte (\\u0000), which PostgreSQL does not accept")
	}
	conn, _, err := db.take(ctx, pgx.TxOptions{})
	if err != nil {
		return gateway.QueryResult{}, err
	}
	if p := db.pinnedIn(ctx); p != nil {
		p.raw = true // RunRecorded resets the session when the run ends
	} else {
		defer db.releaseRaw(ctx, conn, req.SQL)
	}

	var res gateway.QueryResult
	if len(req.Params) > 0 {
		res, err = db.queryExtended(ctx, conn.Conn(), req)
		if want, ok := paramCountMismatch(err); ok {
			return gateway.QueryResult{}, gateway.Errorf(gateway.CodeInvalidQueryPayload,
				"wrong number of parameters: the query uses %d, params has %d", want, len(req.Params))
		}
	} else {
		res, err = db.querySimple(ctx, conn.Conn(), req)
	}
	if err != nil {
		if isStaleMetadata(err) || res.Writes {
			db.meta.invalidate()
		}
		return gateway.QueryResult{}, fmt.Errorf("query: %w", err)
	}
	if res.Writes {
		// Raw SQL may have altered tables; cached shapes cannot be trusted.
		db.meta.invalidate()
	}
	if res.StatementCount == 0 {
		return gateway.QueryResult{}, gateway.Errorf(gateway.CodeEmptyQuery, "query contains no statement")
	}
	if res.Rows == nil {
		res.Rows = []map[string]any{}
	}
	return res, nil
}

// sessionResetSQL undoes whatever raw SQL can leave on its session (spec
// §3.6), so the next caller of the pooled connection — raw or not — starts
// clean: session and current role (SET SESSION AUTHORIZATION, SET ROLE),
// every setting (SET search_path, SET statement_timeout, set_config(…,
// false): RESET ALL returns each to the connection's startup value, so the
// pool's statement_timeout RuntimeParam comes back), temporary tables,
// sequence state (currval), cursors WITH HOLD, LISTEN registrations and
// session advisory locks. The last statement counts statements created by
// SQL PREPARE (from_sql), which releaseRaw then deallocates.
//
// Not DISCARD ALL: it would also drop pgx's protocol-level prepared
// statements, so every statement shape would be prepared again (an extra
// round trip each) on the connection after every raw query, and it cannot
// run with the other statements in one round trip. Not DISCARD PLANS:
// PostgreSQL already replans a cached plan whose search_path changed. Role
// before RESET ALL: RESET ROLE returns to the startup role (an -c role=
// option) where SET SESSION AUTHORIZATION DEFAULT alone would drop it.
const sessionResetSQL = "RESET SESSION AUTHORIZATION; RESET ROLE; RESET ALL; DISCARD TEMP; DISCARD SEQUENCES; " +
	"CLOSE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); " +
	"SELECT count(*) FROM pg_prepared_statements WHERE from_sql"

// sessionResetTimeout bounds the reset; a connection that cannot be reset
// in this time is closed instead of reused.
const sessionResetTimeout = 5 * time.Second

// releaseRaw resets conn's session after raw SQL and returns it to the
// pool; a connection whose reset fails is closed, so the pool destroys it
// rather than hand its state to the next caller. Prepared statements are
// the one state shared with pgx: pgx caches statements it prepared on the
// connection by name, so a PREPARE (which could even take a cached name
// after a DEALLOCATE) or a DEALLOCATE / DISCARD in the text makes
// DeallocateAll clear both the server's statements and pgx's cache.
func (db *DB) releaseRaw(ctx context.Context, conn *pgxpool.Conn, sql string) {
	defer conn.Release()
	c := conn.Conn()
	if c.IsClosed() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sessionResetTimeout)
	defer cancel()
	err := func() error {
		results, err := c.PgConn().Exec(rctx, sessionResetSQL).ReadAll()
		if err != nil {
			return err
		}
		last := results[len(results)-1]
		if len(last.Rows) != 1 || len(last.Rows[0]) != 1 {
			return fmt.Errorf("session reset: unexpected prepared-statement count")
		}
		if string(last.Rows[0][0]) != "0" || touchesPrepared(sql) {
			return c.DeallocateAll(rctx)
		}
		return nil
	}()
	if err != nil {
		_ = c.Close(rctx) // closed: Release destroys it
	}
}

// touchesPrepared reports whether raw SQL text may have deallocated
// prepared statements (DEALLOCATE, DISCARD ALL), including pgx's own.
// A false positive costs only pgx's statement cache on one connection.
func touchesPrepared(sql string) bool {
	l := strings.ToLower(sql)
	return strings.Contains(l, "deallocate") || strings.Contains(l, "discard")
}

// pgxParamCount is the error pgx returns, before sending anything, when the
// arguments do not match the statement's parameters.
var pgxParamCount = regexp.MustCompile(`^expected (\d+) arguments, got \d+$`)

// paramCountMismatch reports an error of queryExtended that says params
// does not match the statement's parameters, and how many it uses. pgx
// reports it as a plain error (cached statements); on the pipeline path
// PostgreSQL answers 08P01 "bind message supplies …", which MapError would
// take for a broken connection.
func paramCountMismatch(err error) (want int, ok bool) {
	if err == nil {
		return 0, false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code != "08P01" || !strings.HasPrefix(pgErr.Message, "bind message supplies") {
			return 0, false
		}
		_, err := fmt.Sscanf(pgErr.Message[strings.LastIndex(pgErr.Message, "requires "):], "requires %d", &want)
		return want, err == nil
	}
	m := pgxParamCount.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	want, err = strconv.Atoi(m[1])
	return want, err == nil
}

// queryExtended runs one parameterised statement, inside a batch (one
// implicit transaction, one round trip) when settings must precede it.
func (db *DB) queryExtended(ctx context.Context, conn *pgx.Conn, req gateway.QueryRequest) (gateway.QueryResult, error) {
	args := make([]any, len(req.Params))
	for i, p := range req.Params {
		v, err := paramValue(p)
		if err != nil {
			return gateway.QueryResult{}, gateway.Errorf(gateway.CodeInvalidQueryPayload, "param $%d: %v", i+1, err)
		}
		args[i] = v
	}
	if db.timeout == "" && req.Schema == "" {
		rows, err := conn.Query(ctx, req.SQL, args...)
		if err != nil {
			return gateway.QueryResult{}, err
		}
		return collectRows(conn.TypeMap(), rows)
	}
	return db.queryPipeline(ctx, conn, req, args)
}

// queryPipeline sends the settings and the statement as one pipeline (one
// round trip, one implicit transaction). It bypasses pgx's statement cache
// on purpose: a cached statement is parsed before the settings run, so
// names would resolve against the wrong search_path. Parameters and
// results travel as text.
func (db *DB) queryPipeline(ctx context.Context, conn *pgx.Conn, req gateway.QueryRequest, args []any) (gateway.QueryResult, error) {
	p := conn.PgConn().StartPipeline(ctx)
	prelude := 0
	if db.timeout != "" {
		p.SendQueryParams(setTimeoutSQL, [][]byte{[]byte(db.timeout)}, nil, nil, nil)
		prelude++
	}
	if req.Schema != "" {
		p.SendQueryParams("SELECT set_config('search_path', $1, true)",
			[][]byte{[]byte(pgx.Identifier{req.Schema}.Sanitize())}, nil, nil, nil)
		prelude++
	}
	vals := make([][]byte, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			vals[i] = []byte(s)
		}
	}
	p.SendQueryParams(req.SQL, vals, nil, nil, nil)
	res, err := readPipeline(p, prelude, conn.TypeMap())
	if cerr := p.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return res, err
}

// readPipeline skips prelude results and collects the statement's rows.
func readPipeline(p *pgconn.Pipeline, prelude int, m *pgtype.Map) (gateway.QueryResult, error) {
	if err := p.Sync(); err != nil {
		return gateway.QueryResult{}, err
	}
	var res gateway.QueryResult
	for i := 0; ; i++ {
		r, err := p.GetResults()
		if err != nil {
			return gateway.QueryResult{}, err
		}
		switch rr := r.(type) {
		case *pgconn.ResultReader:
			if i < prelude {
				if _, err := rr.Close(); err != nil {
					return gateway.QueryResult{}, err
				}
				continue
			}
			cols := columnsOf(rr.FieldDescriptions())
			rows := []map[string]any{}
			var derr error
			for rr.NextRow() {
				if derr != nil {
					continue
				}
				row, err := decodeRow(m, cols, rr.Values())
				if err != nil {
					derr = err
					continue
				}
				rows = append(rows, row)
			}
			tag, err := rr.Close()
			if err != nil {
				return gateway.QueryResult{}, err
			}
			if derr != nil {
				return gateway.QueryResult{}, derr
			}
			res = gateway.QueryResult{RowsAffected: tag.RowsAffected(), StatementCount: 1, Writes: isWrite(tag)}
			if len(cols) > 0 {
				res.Rows = rows
			}
		case *pgconn.PipelineSync:
			return res, nil
		case nil:
			return res, nil
		}
	}
}

// collectRows reads a pgx result generically.
func collectRows(m *pgtype.Map, rows pgx.Rows) (gateway.QueryResult, error) {
	defer rows.Close()
	cols := columnsOf(rows.FieldDescriptions())
	out := []map[string]any{}
	for rows.Next() {
		row, err := decodeRow(m, cols, rows.RawValues())
		if err != nil {
			return gateway.QueryResult{}, err
		}
		out = append(out, row)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return gateway.QueryResult{}, err
	}
	tag := rows.CommandTag()
	res := gateway.QueryResult{RowsAffected: tag.RowsAffected(), StatementCount: 1, Writes: isWrite(tag)}
	if len(cols) > 0 {
		res.Rows = out
	}
	return res, nil
}

// querySimple runs possibly several statements over the simple protocol.
func (db *DB) querySimple(ctx context.Context, conn *pgx.Conn, req gateway.QueryRequest) (gateway.QueryResult, error) {
	var prefix strings.Builder
	skip := 0
	if db.timeout != "" {
		// db.timeout is digits we formatted ourselves, not request text.
		prefix.WriteString("SET LOCAL statement_timeout = " + db.timeout + "; ")
		skip++
	}
	if req.Schema != "" {
		prefix.WriteString("SET LOCAL search_path TO " + pgx.Identifier{req.Schema}.Sanitize() + "; ")
		skip++
	}
	pg := conn.PgConn()
	m := conn.TypeMap()
	mrr := pg.Exec(ctx, prefix.String()+req.SQL)
	var res gateway.QueryResult
	var rerr error
	for i := 0; mrr.NextResult(); i++ {
		rr := mrr.ResultReader()
		fds := rr.FieldDescriptions()
		var cols []resultColumn
		var rows []map[string]any
		if len(fds) > 0 && i >= skip {
			cols = columnsOf(fds)
			rows = []map[string]any{}
		}
		for rr.NextRow() {
			if cols == nil || rerr != nil {
				continue
			}
			row, err := decodeRow(m, cols, rr.Values())
			if err != nil {
				rerr = err
				continue
			}
			rows = append(rows, row)
		}
		tag, err := rr.Close()
		if err != nil || i < skip {
			continue // the error also ends the reader; mrr.Close reports it
		}
		if tag.String() == "" && cols == nil {
			continue // empty statement (";;" or a lone comment)
		}
		res.StatementCount++
		res.RowsAffected += tag.RowsAffected()
		res.Writes = res.Writes || isWrite(tag)
		if cols != nil {
			res.Rows = rows
		}
	}
	err := mrr.Close()
	// Inside a recorded run (a deferred request, RunRecorded) the text runs
	// in the run's open transaction, so that one is expected; RunRecorded
	// refuses a text that ended it (ErrLedgerBroken).
	if db.pinnedIn(ctx) == nil && pg.TxStatus() != 'I' {
		// The text opened a transaction it did not close (BEGIN without
		// COMMIT): roll it back rather than return a connection mid-transaction
		// or commit on the caller's behalf.
		if rbErr := pg.Exec(ctx, "ROLLBACK").Close(); rbErr != nil && err == nil {
			err = rbErr
		}
		if err == nil {
			err = gateway.Errorf(gateway.CodeInvalidQueryPayload,
				"query left a transaction open; it was rolled back (use /gateway/transaction or end it with COMMIT)")
		}
	}
	if err == nil {
		err = rerr
	}
	return res, err
}

// writeTags are the command tags that mean the statement changed data or
// schema.
var writeTags = []string{
	"INSERT", "UPDATE", "DELETE", "MERGE", "COPY",
	"CREATE", "ALTER", "DROP", "TRUNCATE", "GRANT", "REVOKE", "COMMENT", "REFRESH",
	"SELECT INTO", "CALL", "DO", // procedures and anonymous blocks may write anything
}

func isWrite(tag pgconn.CommandTag) bool {
	s := tag.String()
	for _, w := range writeTags {
		if strings.HasPrefix(s, w) {
			return true
		}
	}
	return false
}

// paramValue renders a raw-query parameter as text. Without the
// statement's parameter types at hand, a JSON array of scalars becomes a
// PostgreSQL array literal (for "= ANY($1)") and objects, or arrays holding
// objects, become JSON text; to pass a JSON array into a jsonb parameter,
// send it as a JSON string.
func paramValue(v any) (any, error) {
	if arr, ok := v.([]any); ok && !hasObject(arr) {
		return arrayLiteral(arr)
	}
	return textValue(v)
}
