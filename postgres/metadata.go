package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/singleflight"
)

// tableMeta is what the builder needs to know about one relation. Names are
// as stored in pg_catalog, so they can be quoted and sent as they are.
type tableMeta struct {
	Schema     string       `json:"schema"`
	Name       string       `json:"name"`
	Kind       string       `json:"kind"` // pg_class.relkind
	Columns    []columnMeta `json:"columns"`
	PrimaryKey []string     `json:"pk"`
	ForeignKey []foreignKey `json:"fks"` // both directions; split by Outgoing/Incoming
	// Plain is an ordinary table with no inheritance parent or child: its
	// rows change only through statements naming it, so a read cache can
	// track it by name (see Tables).
	Plain bool `json:"plain"`
	// SideEffects: user triggers or rules may make a write to this table
	// change other tables.
	SideEffects bool `json:"side_effects"`

	byName   map[string]*columnMeta
	quoted   string       // ident(), computed once: it is written into every statement
	outgoing []foreignKey // this table references another (to-one)
	incoming []foreignKey // another table references this one (to-many)
	loadedAt time.Time
}

// columnMeta describes one column. Type is format_type() output: valid SQL
// type syntax produced by PostgreSQL itself, never by a request.
type columnMeta struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	IsArray    bool   `json:"array"`
	ElemType   string `json:"elem"`
	NotNull    bool   `json:"not_null"`
	HasDefault bool   `json:"has_default"`
}

// foreignKey is one FOREIGN KEY constraint: Schema.Table(Columns) references
// RefSchema.RefTable(RefColumns), columns in constraint order.
type foreignKey struct {
	Name       string   `json:"name"`
	Schema     string   `json:"schema"`
	Table      string   `json:"table"`
	Columns    []string `json:"columns"`
	RefSchema  string   `json:"ref_schema"`
	RefTable   string   `json:"ref_table"`
	RefColumns []string `json:"ref_columns"`
	// OnDelete and OnUpdate are pg_constraint.confdeltype/confupdtype:
	// a (no action), r (restrict), c (cascade), n (set null), d (set default).
	OnDelete string `json:"on_delete"`
	OnUpdate string `json:"on_update"`
}

// column returns the named column's metadata.
func (t *tableMeta) column(name string) (*columnMeta, bool) {
	c, ok := t.byName[name]
	return c, ok
}

// ident is the relation's fully qualified, quoted name. Using the resolved
// schema keeps statements independent of the connection's search_path.
func (t *tableMeta) ident() string {
	if t.quoted != "" {
		return t.quoted
	}
	return pgx.Identifier{t.Schema, t.Name}.Sanitize()
}

func (t *tableMeta) ref() gateway.TableRef {
	return gateway.TableRef{Schema: t.Schema, Name: t.Name}
}

// index fills the derived lookups after decoding.
func (t *tableMeta) index() {
	t.quoted = pgx.Identifier{t.Schema, t.Name}.Sanitize()
	t.byName = make(map[string]*columnMeta, len(t.Columns))
	for i := range t.Columns {
		t.byName[t.Columns[i].Name] = &t.Columns[i]
	}
	t.outgoing, t.incoming = nil, nil
	for _, fk := range t.ForeignKey {
		if fk.Schema == t.Schema && fk.Table == t.Name {
			t.outgoing = append(t.outgoing, fk)
		}
		if fk.RefSchema == t.Schema && fk.RefTable == t.Name {
			t.incoming = append(t.incoming, fk)
		}
	}
}

// hideUnexposed drops from the embed lookups (outgoing, incoming) every
// foreign key whose other table is in a schema that is not exposed, so an
// embed cannot reach it and no error names it: it does not exist for the
// caller. ForeignKey keeps them all, for WriteTables (a cascade into a
// hidden table still changes rows).
func (t *tableMeta) hideUnexposed(exposed func(string) bool) {
	t.outgoing = slices.DeleteFunc(t.outgoing, func(fk foreignKey) bool { return !exposed(fk.RefSchema) })
	t.incoming = slices.DeleteFunc(t.incoming, func(fk foreignKey) bool { return !exposed(fk.Schema) })
}

// catalog resolves table metadata. The DB's cache implements it; builder
// tests use a static map.
type catalog interface {
	table(ctx context.Context, ref gateway.TableRef) (*tableMeta, error)
}

// errNoRelation is returned by a loader when the relation does not exist.
var errNoRelation = errors.New("relation does not exist")

// tableQuery loads everything about one relation in one statement: the
// relation named $1 in the first of the schemas $2 that has one, so the
// answer never depends on a connection's search_path (raw SQL may have
// changed it, and the cache would then learn another table). Only
// relations a query can read are found (tables, views, materialized
// views, foreign and partitioned tables); anything else, like an unknown
// name, gives no row.
const tableQuery = `
SELECT json_build_object(
  'schema', n.nspname,
  'name', c.relname,
  'kind', c.relkind,
  'plain', c.relkind = 'r' AND NOT c.relhassubclass AND NOT c.relispartition
           AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.oid),
  'side_effects', c.relhasrules
           OR EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid AND NOT g.tgisinternal),
  'columns', (
    SELECT coalesce(json_agg(json_build_object(
      'name', a.attname,
      'type', format_type(a.atttypid, a.atttypmod),
      'array', t.typcategory = 'A',
      'elem', CASE WHEN t.typcategory = 'A' THEN format_type(t.typelem, NULL) END,
      'not_null', a.attnotnull,
      'has_default', a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> ''
    ) ORDER BY a.attnum), '[]')
    FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped),
  'pk', (
    SELECT coalesce(json_agg(a.attname ORDER BY k.ord), '[]')
    FROM pg_constraint p
    CROSS JOIN LATERAL unnest(p.conkey) WITH ORDINALITY AS k(attnum, ord)
    JOIN pg_attribute a ON a.attrelid = p.conrelid AND a.attnum = k.attnum
    WHERE p.conrelid = c.oid AND p.contype = 'p'),
  'fks', (
    SELECT coalesce(json_agg(json_build_object(
      'name', f.conname,
      'schema', fn.nspname, 'table', fc.relname,
      'columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                  FROM unnest(f.conkey) WITH ORDINALITY AS k(attnum, ord)
                  JOIN pg_attribute a ON a.attrelid = f.conrelid AND a.attnum = k.attnum),
      'ref_schema', rn.nspname, 'ref_table', rc.relname,
      'ref_columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                      FROM unnest(f.confkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = f.confrelid AND a.attnum = k.attnum),
      'on_delete', f.confdeltype, 'on_update', f.confupdtype
    ) ORDER BY f.conname), '[]')
    FROM pg_constraint f
    JOIN pg_class fc ON fc.oid = f.conrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
    JOIN pg_class rc ON rc.oid = f.confrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
    WHERE f.contype = 'f' AND (f.conrelid = c.oid OR f.confrelid = c.oid))
)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relname = $1 AND n.nspname = ANY ($2::text[]) AND c.relkind IN ('r', 'v', 'm', 'f', 'p')
ORDER BY array_position($2::text[], n.nspname::text)
LIMIT 1`

// metadataCache holds tableMeta per requested TableRef with a TTL: the
// builders' view of the catalog (introspection for clients is
// introspect.go). Reads take a read lock only; loads of the same table are
// collapsed by single-flight.
type metadataCache struct {
	ttl time.Duration
	// schemas are the exposed schemas in lookup order (Options.ExposedSchemas):
	// the cache is the one place table names are resolved, so every
	// operation and embed reaches these schemas and no other.
	schemas []string
	load    func(ctx context.Context, schemas []string, name string) (*tableMeta, error)

	mu     sync.RWMutex
	tables map[gateway.TableRef]*tableMeta
	group  singleflight.Group
	now    func() time.Time
	// version moves whenever a cached table is replaced or dropped, so
	// something derived from metadata (a FetchPlan) can tell it is current.
	version atomic.Uint64
	// joined, when set (tests only), runs when a caller joins a load.
	joined func()
}

func newMetadataCache(ttl time.Duration, schemas []string, load func(context.Context, []string, string) (*tableMeta, error)) *metadataCache {
	return &metadataCache{ttl: ttl, schemas: schemas, load: load, tables: map[gateway.TableRef]*tableMeta{}, now: time.Now}
}

// exposed reports whether schema may be reached by table operations.
func (c *metadataCache) exposed(schema string) bool {
	return slices.Contains(c.schemas, schema)
}

// metaLoadTimeout bounds a shared catalog load: it runs detached from the
// first caller's context so one impatient caller cannot fail the others.
const metaLoadTimeout = 10 * time.Second

// table returns cached metadata or loads it. A name in a schema that is
// not exposed is unknown, exactly as if it did not exist (spec §1.1).
func (c *metadataCache) table(ctx context.Context, ref gateway.TableRef) (*tableMeta, error) {
	if ref.Schema != "" && !c.exposed(ref.Schema) {
		return nil, unknownTableError(ref)
	}
	c.mu.RLock()
	m, ok := c.tables[ref]
	c.mu.RUnlock()
	if ok && c.now().Sub(m.loadedAt) < c.ttl {
		return m, nil
	}
	return c.reload(ctx, ref)
}

// reload loads ref from the catalog, sharing the load with concurrent callers.
func (c *metadataCache) reload(ctx context.Context, ref gateway.TableRef) (*tableMeta, error) {
	key := ref.Schema + "\x00" + ref.Name
	ch := c.group.DoChan(key, func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metaLoadTimeout)
		defer cancel()
		schemas := c.schemas
		if ref.Schema != "" {
			schemas = []string{ref.Schema}
		}
		m, err := c.load(lctx, schemas, ref.Name)
		if err != nil {
			return nil, err
		}
		m.index()
		m.hideUnexposed(c.exposed)
		m.loadedAt = c.now()
		c.mu.Lock()
		c.tables[ref] = m
		c.version.Add(1)
		c.mu.Unlock()
		return m, nil
	})
	if c.joined != nil {
		c.joined()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			if errors.Is(res.Err, errNoRelation) {
				return nil, unknownTableError(ref)
			}
			return nil, res.Err
		}
		return res.Val.(*tableMeta), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// refreshIfOlder reloads ref when the cached copy is older than age; it is
// used before answering "unknown column" so a freshly added column is seen
// without waiting for the TTL.
func (c *metadataCache) refreshIfOlder(ctx context.Context, ref gateway.TableRef, age time.Duration) (*tableMeta, bool, error) {
	c.mu.RLock()
	m, ok := c.tables[ref]
	c.mu.RUnlock()
	if ok && c.now().Sub(m.loadedAt) < age {
		return m, false, nil
	}
	if ref.Schema != "" && !c.exposed(ref.Schema) {
		return nil, false, unknownTableError(ref)
	}
	m, err := c.reload(ctx, ref)
	return m, err == nil, err
}

// invalidate drops every cached table; called after the server reported an
// unknown relation or column, which means some cached shape is stale.
func (c *metadataCache) invalidate() {
	c.mu.Lock()
	clear(c.tables)
	c.version.Add(1)
	c.mu.Unlock()
}

// loadTable runs tableQuery: name in the first of schemas that has it.
func (db *DB) loadTable(ctx context.Context, schemas []string, name string) (*tableMeta, error) {
	conn, err := db.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	var raw []byte
	err = conn.QueryRow(ctx, tableQuery, name, schemas).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoRelation
	}
	if err != nil {
		return nil, fmt.Errorf("load table metadata: %w", err)
	}
	var m tableMeta
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("decode table metadata: %w", err)
	}
	return &m, nil
}
