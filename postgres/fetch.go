package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
)

// estimatedExactBelow is where count=estimated switches from an exact count
// to the planner's estimate. The exact part is a count over at most this
// many rows (LIMIT), so it stays cheap on any table and still runs in the
// same round trip as the rows: fewer rows than this → exact count; otherwise
// the planner's estimate (never less than this bound, which we know holds).
const estimatedExactBelow = 1000

// fetchQuery is a built fetch: the rows statement and, per count mode, the
// statements that produce the count. All run in one round trip.
type fetchQuery struct {
	rowsSQL  string
	rowsArgs []any

	countSQL  string // exact count, or the capped count for "estimated"
	planSQL   string // EXPLAIN for "planned" and "estimated"
	countArgs []any  // the WHERE arguments, shared by countSQL and planSQL

	// tables are the relations the statements read, in the order the
	// builder met them (root first, then every embed at any depth).
	tables []*tableMeta
}

// FetchPlan is one fetch planned once: its statements and the relations
// they read, built by a single pass over the table metadata. Running it
// (ReadFetch) needs no metadata; the read cache keys it by Tables. A plan is
// immutable and may be shared by concurrent reads.
type FetchPlan struct {
	// Tables are the relations the fetch reads (its table and every
	// embedded one), resolved as the statements resolve them.
	Tables Tables

	q     fetchQuery
	head  bool
	count gateway.CountMode

	// The metadata the plan was built from is current while the metadata
	// cache's version is unchanged and none of it has outlived the TTL.
	version uint64
	expires time.Time
}

// PlanFetch plans req: one metadata pass resolves the table, every embed,
// the columns and the relations read. memoKey, when not nil, is the
// normalised request (equal bytes mean an equal plan): the plan is then
// remembered per DB and reused while its metadata is current, so a
// repeated read builds no SQL. Errors are never remembered.
func (db *DB) PlanFetch(ctx context.Context, req *gateway.FetchRequest, memoKey []byte) (*FetchPlan, error) {
	if memoKey != nil {
		if p := db.plans.get(memoKey); p != nil && p.current(db.meta) {
			return p, nil
		}
	}
	version := db.meta.version.Load() // before reading any metadata: see FetchPlan.version
	var q *fetchQuery
	err := db.withTable(ctx, req.Table, func(m *tableMeta) error {
		var err error
		q, err = buildFetch(ctx, db.catalog(), m, *req)
		return err
	})
	if err != nil {
		return nil, err
	}
	p := &FetchPlan{q: *q, head: req.Head, count: req.Count, version: version}
	for i, m := range q.tables {
		p.Tables.add(m, !m.Plain)
		if exp := m.loadedAt.Add(db.meta.ttl); i == 0 || exp.Before(p.expires) {
			p.expires = exp
		}
	}
	slices.Sort(p.Tables.Names)
	p.Tables.Names = slices.Compact(p.Tables.Names)
	p.q.tables = nil // the plan keeps no metadata alive
	if memoKey != nil {
		db.plans.put(memoKey, p)
	}
	return p, nil
}

// current reports whether the metadata p was built from is still what the
// cache holds.
func (p *FetchPlan) current(meta *metadataCache) bool {
	return meta.version.Load() == p.version && meta.now().Before(p.expires)
}

// planMemo remembers FetchPlans by normalised request. It is bounded in
// entries; when full it starts over (cheap, and memory stays predictable).
type planMemo struct {
	mu sync.RWMutex
	m  map[string]*FetchPlan
}

const planMemoEntries = 1024

func (pm *planMemo) get(key []byte) *FetchPlan {
	pm.mu.RLock()
	p := pm.m[string(key)] // no allocation: the conversion is only a lookup
	pm.mu.RUnlock()
	return p
}

func (pm *planMemo) put(key []byte, p *FetchPlan) {
	pm.mu.Lock()
	if pm.m == nil || len(pm.m) >= planMemoEntries {
		pm.m = make(map[string]*FetchPlan, 64)
	}
	pm.m[string(key)] = p
	pm.mu.Unlock()
}

// Fetch reads rows from a table or view. PostgreSQL renders the rows as one
// JSON array; counts run in the same round trip (see CountMode handling in
// buildFetch).
func (db *DB) Fetch(ctx context.Context, req gateway.FetchRequest) (gateway.FetchResult, error) {
	p, err := db.PlanFetch(ctx, &req, nil)
	if err != nil {
		return gateway.FetchResult{}, err
	}
	rows, count, err := db.ReadFetch(ctx, p, nil)
	if err != nil {
		return gateway.FetchResult{}, err
	}
	return gateway.FetchResult{Rows: rows, Count: count}, nil
}

// ReadFetch runs a plan. The rows (a JSON array, "[]" for none or for a
// head request) are appended to dst straight from the connection's read
// buffer, so they are copied once; the result is dst extended. count is
// set when the plan asked for one.
func (db *DB) ReadFetch(ctx context.Context, p *FetchPlan, dst []byte) (rows []byte, count *int64, err error) {
	out := fetchScan{dst: dst}
	stmts := out.stmts(&p.q, p.head)
	if len(stmts) > 0 { // head without count: nothing to read
		// A read: retried once on a dropped connection, with the scan
		// state reset (the failed try may have appended part of a row).
		if err := db.execRead(ctx, func() { out = fetchScan{dst: dst} }, stmts...); err != nil {
			return nil, nil, fmt.Errorf("fetch rows: %w", err)
		}
	}
	return out.result(p.count)
}

// fetchScan receives a built fetch's results; ReadFetch and Transaction
// share it so both run the same statements and read them the same way.
type fetchScan struct {
	dst     []byte // rows are appended here
	gotRows bool
	plan    []byte
	count   int64
}

// rowsSlack is the spare capacity left after the rows in ReadFetch's
// result, so a short envelope tail does not copy them again.
const rowsSlack = 128

// ScanBytes receives the rows column: pgx hands over its read buffer
// (pgtype.BytesScanner), which is appended to dst, the one copy.
func (f *fetchScan) ScanBytes(src []byte) error {
	if src != nil {
		// One exact growth at most, with room for what a caller appends
		// after the rows (the envelope's tail).
		f.dst = slices.Grow(f.dst, len(src)+rowsSlack)
		f.dst = append(f.dst, src...)
		f.gotRows = true
	}
	return nil
}

// stmts returns q's statements (rows, exact count, plan; each only when
// needed), scanning into f.
func (f *fetchScan) stmts(q *fetchQuery, head bool) []stmt {
	var stmts []stmt
	if !head {
		stmts = append(stmts, stmt{q.rowsSQL, q.rowsArgs, func(r pgx.Row) error { return r.Scan(f) }})
	}
	if q.countSQL != "" {
		stmts = append(stmts, stmt{q.countSQL, q.countArgs, func(r pgx.Row) error { return r.Scan(&f.count) }})
	}
	if q.planSQL != "" {
		stmts = append(stmts, stmt{q.planSQL, q.countArgs, func(r pgx.Row) error { return r.Scan(&f.plan) }})
	}
	return stmts
}

// result returns the rows (dst extended) and the count of the given mode
// once the statements ran.
func (f *fetchScan) result(mode gateway.CountMode) ([]byte, *int64, error) {
	rows := f.dst
	if !f.gotRows {
		rows = append(rows, "[]"...)
	}
	count := f.count
	switch mode {
	case gateway.CountExact:
		return rows, &count, nil
	case gateway.CountPlanned, gateway.CountEstimated:
		est, err := planRows(f.plan)
		if err != nil {
			return nil, nil, err
		}
		if mode == gateway.CountEstimated {
			if count < estimatedExactBelow {
				est = count
			} else {
				est = max(est, estimatedExactBelow)
			}
		}
		return rows, &est, nil
	}
	return rows, nil, nil
}

// planRows extracts the top plan node's row estimate from EXPLAIN (FORMAT JSON).
func planRows(raw []byte) (int64, error) {
	var plans []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) == 0 {
		return 0, fmt.Errorf("read query plan: %w", err)
	}
	return int64(math.Round(plans[0].Plan.Rows)), nil
}

// buildFetch builds the statements for req against table m. It does no I/O
// except resolving embedded tables through cat (cached in production).
func buildFetch(ctx context.Context, cat catalog, m *tableMeta, req gateway.FetchRequest) (*fetchQuery, error) {
	root := scope{alias: "t0", meta: m, code: gateway.CodeInvalidFetchPayload}
	sel := &selectBuilder{ctx: ctx, cat: cat, tables: []*tableMeta{m}}
	cols, err := sel.list(root, req.Selection, 0)
	if err != nil {
		return nil, err
	}

	// FROM + WHERE first: its placeholders are $1..$k, shared verbatim by
	// the count statements, which take exactly those k arguments.
	var from sqlBuf
	from.WriteString(" FROM ")
	from.WriteString(m.ident())
	from.WriteString(" t0")
	cond := root
	cond.code = gateway.CodeInvalidFetchCondition
	if err := from.where(cond, req.Conditions); err != nil {
		return nil, err
	}
	whereArgs := from.args
	fromWhere := from.String()

	q := &fetchQuery{countArgs: whereArgs, tables: sel.tables}
	switch req.Count {
	case gateway.CountNone:
	case gateway.CountExact:
		q.countSQL = "SELECT count(*)" + fromWhere
	case gateway.CountPlanned:
		q.planSQL = "EXPLAIN (FORMAT JSON) SELECT 1" + fromWhere
	case gateway.CountEstimated:
		q.countSQL = "SELECT count(*) FROM (SELECT 1" + fromWhere + " LIMIT " + strconv.Itoa(estimatedExactBelow) + ") c"
		q.planSQL = "EXPLAIN (FORMAT JSON) SELECT 1" + fromWhere
	default:
		return nil, gateway.Errorf(gateway.CodeInvalidFetchPayload, "unknown count mode %q", req.Count)
	}

	b := &from // continue after WHERE so placeholders keep counting
	if err := b.orderBy(root, req.Sort); err != nil {
		return nil, err
	}
	if err := b.limitOffset(req.Limit, req.Offset, gateway.CodeInvalidFetchPayload); err != nil {
		return nil, err
	}
	q.rowsSQL = "SELECT coalesce(json_agg(" + rowJSON("_r", req.StripNulls) + "), '[]') FROM (SELECT " + cols + b.String() + ") _r"
	q.rowsArgs = b.args
	return q, nil
}

// orderBy writes " ORDER BY ..." for sorts on scope s.
func (b *sqlBuf) orderBy(s scope, sorts []gateway.Sort) error {
	for i, so := range sorts {
		if _, err := s.column(so.Column); err != nil {
			return err
		}
		if i == 0 {
			b.WriteString(" ORDER BY ")
		} else {
			b.WriteString(", ")
		}
		b.writeColumn(s, so.Column)
		if so.Descending {
			b.WriteString(" DESC")
		} else {
			b.WriteString(" ASC")
		}
		if so.NullsFirst != nil {
			if *so.NullsFirst {
				b.WriteString(" NULLS FIRST")
			} else {
				b.WriteString(" NULLS LAST")
			}
		}
	}
	return nil
}

// limitOffset binds LIMIT and OFFSET as parameters, so every page of one
// query shape shares one prepared statement.
func (b *sqlBuf) limitOffset(limit, offset *int64, code gateway.Code) error {
	if limit != nil {
		if *limit < 0 {
			return gateway.Errorf(code, "limit must not be negative")
		}
		b.WriteString(" LIMIT ")
		b.bind(*limit)
	}
	if offset != nil {
		if *offset < 0 {
			return gateway.Errorf(code, "offset must not be negative")
		}
		b.WriteString(" OFFSET ")
		b.bind(*offset)
	}
	return nil
}

// maxEmbedDepth bounds nested embeds.
const maxEmbedDepth = 8

// selectBuilder renders select lists, resolving embeds through cat and
// handing out a fresh table alias (t1, t2, …) to every embedded relation.
type selectBuilder struct {
	ctx    context.Context
	cat    catalog
	aliasN int
	tables []*tableMeta // every relation rendered, for FetchPlan.Tables
}

// list renders the select list of sel over scope s. Embeds bind no
// parameters (they only join on columns), so the list is plain text.
func (sb *selectBuilder) list(s scope, sel gateway.Selection, depth int) (string, error) {
	var b strings.Builder
	if sel.Star || len(sel.Items) == 0 {
		b.WriteString(s.alias)
		b.WriteString(".*")
	}
	for _, it := range sel.Items {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		if it.Embed != nil {
			if err := sb.embed(&b, s, it.Embed, depth); err != nil {
				return "", err
			}
			continue
		}
		if it.Column == "*" {
			b.WriteString(s.alias)
			b.WriteString(".*")
			continue
		}
		if _, err := s.column(it.Column); err != nil {
			return "", err
		}
		b.WriteString(s.alias)
		b.WriteByte('.')
		writeIdent(&b, it.Column)
		if it.Alias != "" && it.Alias != it.Column {
			if !gateway.ValidIdentifier(it.Alias) {
				return "", gateway.Errorf(gateway.CodeInvalidFetchPayload, "invalid alias %q", it.Alias)
			}
			b.WriteString(" AS ")
			writeIdent(&b, it.Alias)
		}
	}
	return b.String(), nil
}

// embed renders one embedded relation as a correlated scalar subquery:
// to-one gives an object or null, to-many an array (possibly empty).
func (sb *selectBuilder) embed(b *strings.Builder, parent scope, e *gateway.Embed, depth int) error {
	if depth >= maxEmbedDepth {
		return gateway.Errorf(gateway.CodeInvalidFetchPayload, "embeds nested deeper than %d levels", maxEmbedDepth)
	}
	if parent.meta == nil {
		return gateway.Errorf(gateway.CodeInvalidFetchPayload, "embedding %q needs a table", e.Target)
	}
	if !gateway.ValidIdentifier(e.Name()) {
		return gateway.Errorf(gateway.CodeInvalidFetchPayload, "invalid embed name %q", e.Name())
	}
	rel, err := resolveEmbed(parent.meta, e)
	if err != nil {
		return err
	}
	targetRef := gateway.TableRef{Schema: rel.fk.Schema, Name: rel.fk.Table}
	if rel.toOne {
		targetRef = gateway.TableRef{Schema: rel.fk.RefSchema, Name: rel.fk.RefTable}
	}
	target, err := sb.cat.table(sb.ctx, targetRef)
	if err != nil {
		return err
	}
	sb.tables = append(sb.tables, target)
	sb.aliasN++
	child := scope{alias: "t" + strconv.Itoa(sb.aliasN), meta: target, code: gateway.CodeInvalidFetchPayload}
	cols, err := sb.list(child, e.Selection, depth+1)
	if err != nil {
		return err
	}
	if rel.toOne {
		b.WriteString("(SELECT row_to_json(_e.*) FROM (SELECT ")
	} else {
		b.WriteString("(SELECT coalesce(json_agg(_e.*), '[]') FROM (SELECT ")
	}
	b.WriteString(cols)
	b.WriteString(" FROM ")
	b.WriteString(target.ident())
	b.WriteByte(' ')
	b.WriteString(child.alias)
	b.WriteString(" WHERE ")
	for i := range rel.fk.Columns {
		if i > 0 {
			b.WriteString(" AND ")
		}
		// to-one: child holds the referenced columns; to-many: the referencing ones.
		childCol, parentCol := rel.fk.RefColumns[i], rel.fk.Columns[i]
		if !rel.toOne {
			childCol, parentCol = rel.fk.Columns[i], rel.fk.RefColumns[i]
		}
		b.WriteString(child.alias)
		b.WriteByte('.')
		b.WriteString(pgx.Identifier{childCol}.Sanitize())
		b.WriteString(" = ")
		b.WriteString(parent.alias)
		b.WriteByte('.')
		b.WriteString(pgx.Identifier{parentCol}.Sanitize())
	}
	b.WriteString(") _e) AS ")
	b.WriteString(pgx.Identifier{e.Name()}.Sanitize())
	return nil
}

// relation is a resolved embed: the foreign key and its direction.
type relation struct {
	fk    foreignKey
	toOne bool // fk goes from the parent to the target
}

// resolveEmbed finds the one foreign key an embed refers to:
//   - Target is a column of the parent that is (part of) a foreign key →
//     to-one through that key;
//   - otherwise keys from the parent to a table named Target (to-one) and
//     from a table named Target to the parent (to-many).
//
// Schema, when set, keeps only keys whose embedded table is in that schema
// ("athena.users(…)" picks athena.users over public.users). Hint (a
// constraint name or a referencing column) picks among several.
func resolveEmbed(m *tableMeta, e *gateway.Embed) (relation, error) {
	if !gateway.ValidIdentifier(e.Target) {
		return relation{}, gateway.Errorf(gateway.CodeInvalidFetchPayload, "invalid embed target %q", e.Target)
	}
	if e.Schema != "" && !gateway.ValidIdentifier(e.Schema) {
		return relation{}, gateway.Errorf(gateway.CodeInvalidFetchPayload, "invalid embed schema %q", e.Schema)
	}
	if e.Hint != "" && !gateway.ValidIdentifier(e.Hint) {
		return relation{}, gateway.Errorf(gateway.CodeInvalidFetchPayload, "invalid embed hint %q", e.Hint)
	}
	matchHint := func(fk foreignKey) bool {
		if e.Hint == "" {
			return true
		}
		return fk.Name == e.Hint || contains(fk.Columns, e.Hint)
	}
	inSchema := func(schema string) bool { return e.Schema == "" || schema == e.Schema }
	target := e.Target
	if e.Schema != "" {
		target = e.Schema + "." + e.Target
	}
	var cands []relation
	if _, isCol := m.column(e.Target); isCol {
		for _, fk := range m.outgoing {
			if contains(fk.Columns, e.Target) && matchHint(fk) && inSchema(fk.RefSchema) {
				cands = append(cands, relation{fk: fk, toOne: true})
			}
		}
		if len(cands) == 0 {
			if e.Schema != "" {
				return relation{}, gateway.Errorf(gateway.CodeInvalidFetchPayload,
					"column %q of %q is not a foreign key to a table of schema %q", e.Target, m.Name, e.Schema)
			}
			return relation{}, gateway.Errorf(gateway.CodeInvalidFetchPayload,
				"column %q of %q is not a foreign key, so it cannot be embedded", e.Target, m.Name)
		}
	} else {
		for _, fk := range m.outgoing {
			if fk.RefTable == e.Target && inSchema(fk.RefSchema) && matchHint(fk) {
				cands = append(cands, relation{fk: fk, toOne: true})
			}
		}
		for _, fk := range m.incoming {
			if fk.Table == e.Target && inSchema(fk.Schema) && matchHint(fk) {
				cands = append(cands, relation{fk: fk, toOne: false})
			}
		}
	}
	switch len(cands) {
	case 0:
		return relation{}, gateway.Errorf(gateway.CodeInvalidFetchPayload,
			"could not find a relationship between %q and %q", m.Name, target)
	case 1:
		return cands[0], nil
	}
	names := make([]string, len(cands))
	for i, c := range cands {
		dir := "to-one"
		if !c.toOne {
			dir = "to-many"
		}
		names[i] = fmt.Sprintf("%s (%s, %s.%s.%s)", c.fk.Name, dir, c.fk.Schema, c.fk.Table, strings.Join(c.fk.Columns, ","))
	}
	return relation{}, gateway.Errorf(gateway.CodeInvalidFetchPayload,
		"more than one relationship between %q and %q: %s; pick one with a hint such as %s!%s",
		m.Name, target, strings.Join(names, "; "), target, cands[0].fk.Name)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
