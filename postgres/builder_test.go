package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/puddle/v2"

	"github.com/athena-gateway/athena/gateway"
)

// staticCatalog is table metadata without a database, for builder tests.
type staticCatalog map[gateway.TableRef]*tableMeta

func (c staticCatalog) table(_ context.Context, ref gateway.TableRef) (*tableMeta, error) {
	if ref.Schema == "" {
		ref.Schema = "public"
	}
	m, ok := c[ref]
	if !ok {
		return nil, unknownTableError(ref)
	}
	return m, nil
}

func metaOf(name string, pk []string, columns ...columnMeta) *tableMeta {
	m := &tableMeta{Schema: "public", Name: name, Kind: "r", Columns: columns, PrimaryKey: pk}
	m.index()
	return m
}

func testCatalog() staticCatalog {
	users := metaOf("users", []string{"id"},
		columnMeta{Name: "id", Type: "integer"}, columnMeta{Name: "name", Type: "text"},
		columnMeta{Name: "tags", Type: "text[]", IsArray: true, ElemType: "text"}, columnMeta{Name: "meta", Type: "jsonb"},
		columnMeta{Name: "weird$1", Type: "text"})
	posts := metaOf("posts", []string{"id"},
		columnMeta{Name: "id", Type: "integer"}, columnMeta{Name: "author_id", Type: "integer"}, columnMeta{Name: "title", Type: "text"})
	fk := foreignKey{Name: "posts_author_id_fkey", Schema: "public", Table: "posts", Columns: []string{"author_id"},
		RefSchema: "public", RefTable: "users", RefColumns: []string{"id"}}
	users.ForeignKey = []foreignKey{fk}
	posts.ForeignKey = []foreignKey{fk}
	users.index()
	posts.index()
	return staticCatalog{{Schema: "public", Name: "users"}: users, {Schema: "public", Name: "posts"}: posts}
}

func TestBuildFetchSQL(t *testing.T) {
	cat := testCatalog()
	users, _ := cat.table(context.Background(), tbl("users"))
	req := gateway.FetchRequest{
		Table: tbl("users"),
		Selection: gateway.Selection{Items: []gateway.SelectItem{{Column: "id"}, {Column: "name", Alias: "n"},
			{Embed: &gateway.Embed{Target: "posts", Selection: cols("title")}}}},
		Conditions: []gateway.Condition{leaf("name", gateway.OpEq, "'; DROP TABLE users; --"),
			{Group: gateway.GroupOr, Children: []gateway.Condition{leaf("id", gateway.OpIn, []any{num("1"), num("2")}), leaf("tags", gateway.OpContains, []any{"a"})}}},
		Sort:  []gateway.Sort{{Column: "id", Descending: true}},
		Limit: i64(10), Offset: i64(20), Count: gateway.CountExact,
	}
	q, err := buildFetch(context.Background(), cat, users, req)
	if err != nil {
		t.Fatal(err)
	}
	wantRows := `SELECT coalesce(json_agg(_r.*), '[]') FROM (SELECT t0."id", t0."name" AS "n", ` +
		`(SELECT coalesce(json_agg(_e.*), '[]') FROM (SELECT t1."title" FROM "public"."posts" t1 WHERE t1."author_id" = t0."id") _e) AS "posts" ` +
		`FROM "public"."users" t0 WHERE t0."name" = $1 AND (t0."id" = ANY($2) OR t0."tags" @> $3) ORDER BY t0."id" DESC LIMIT $4 OFFSET $5) _r`
	if q.rowsSQL != wantRows {
		t.Fatalf("got  %s\nwant %s", q.rowsSQL, wantRows)
	}
	wantArgs := []any{"'; DROP TABLE users; --", `{"1","2"}`, `{"a"}`, int64(10), int64(20)}
	if fmt.Sprint(q.rowsArgs) != fmt.Sprint(wantArgs) {
		t.Fatalf("got args %#v, want %#v", q.rowsArgs, wantArgs)
	}
	wantCount := `SELECT count(*) FROM "public"."users" t0 WHERE t0."name" = $1 AND (t0."id" = ANY($2) OR t0."tags" @> $3)`
	if q.countSQL != wantCount || len(q.countArgs) != 3 {
		t.Fatalf("got count %s %v", q.countSQL, q.countArgs)
	}
}

func TestBuildInsertSQL(t *testing.T) {
	cat := testCatalog()
	users, _ := cat.table(context.Background(), tbl("users"))
	tests := []struct {
		name string
		give gateway.InsertRequest
		want string
		args int
	}{
		{"single", gateway.InsertRequest{Rows: []map[string]any{{"name": "a", "id": num("1")}}},
			`WITH _m AS (INSERT INTO "public"."users" AS t0 ("id", "name") VALUES ($1,$2) RETURNING t0.*) SELECT coalesce(json_agg(_m.*), '[]'), count(*) FROM _m`, 2},
		{"bulk same keys", gateway.InsertRequest{Rows: []map[string]any{{"name": "a"}, {"name": "b"}}, Returning: cols("id")},
			`WITH _m AS (INSERT INTO "public"."users" AS t0 ("name") SELECT "name" FROM jsonb_to_recordset($1::jsonb) AS _x("name" text) RETURNING t0."id") SELECT coalesce(json_agg(_m.*), '[]'), count(*) FROM _m`, 1},
		{"mixed keys", gateway.InsertRequest{Rows: []map[string]any{{"name": "a"}, {"id": num("2")}}, Head: true},
			`WITH _m AS (INSERT INTO "public"."users" AS t0 ("id", "name") VALUES (DEFAULT,$1),($2,DEFAULT) RETURNING 1) SELECT '[]'::json, count(*) FROM _m`, 2},
		{"upsert body", gateway.InsertRequest{Rows: []map[string]any{{"id": num("1"), "name": "a"}}, OnConflict: []string{"id"},
			Action: gateway.ConflictDoUpdate, UpdateBody: map[string]any{"name": "z"}, Returning: cols("id")},
			`WITH _m AS (INSERT INTO "public"."users" AS t0 ("id", "name") VALUES ($1,$2) ON CONFLICT ("id") DO UPDATE SET "name" = $3 RETURNING t0."id") SELECT coalesce(json_agg(_m.*), '[]'), count(*) FROM _m`, 3},
		{"upsert excluded with $ in a name", gateway.InsertRequest{Rows: []map[string]any{{"id": num("1"), "weird$1": "a"}, {"id": num("2"), "weird$1": "b"}},
			Action: gateway.ConflictDoUpdate, UpdateBody: map[string]any{"weird$1": "z"}, Returning: cols("id")},
			`WITH _m AS (INSERT INTO "public"."users" AS t0 ("id", "weird$1") SELECT "id", "weird$1" FROM jsonb_to_recordset($1::jsonb) AS _x("id" integer, "weird$1" text) ON CONFLICT ("id") DO UPDATE SET "weird$1" = $2 RETURNING t0."id") SELECT coalesce(json_agg(_m.*), '[]'), count(*) FROM _m`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.give.Table = tbl("users")
			stmts, err := buildInsert(users, tt.give)
			if err != nil {
				t.Fatal(err)
			}
			if len(stmts) != 1 || stmts[0].sql != tt.want || len(stmts[0].args) != tt.args {
				t.Fatalf("got  %s (%d args)\nwant %s", stmts[0].sql, len(stmts[0].args), tt.want)
			}
		})
	}
}

func TestResolveEmbed(t *testing.T) {
	cat := testCatalog()
	users, _ := cat.table(context.Background(), tbl("users"))
	posts, _ := cat.table(context.Background(), tbl("posts"))
	tests := []struct {
		name  string
		m     *tableMeta
		give  gateway.Embed
		toOne bool
		err   bool
	}{
		{"fk column", posts, gateway.Embed{Target: "author_id"}, true, false},
		{"referenced table", posts, gateway.Embed{Target: "users"}, true, false},
		{"referencing table", users, gateway.Embed{Target: "posts"}, false, false},
		{"hint by constraint", users, gateway.Embed{Target: "posts", Hint: "posts_author_id_fkey"}, false, false},
		{"wrong hint", users, gateway.Embed{Target: "posts", Hint: "nope"}, false, true},
		{"plain column", posts, gateway.Embed{Target: "title"}, false, true},
		{"unrelated", posts, gateway.Embed{Target: "comments"}, false, true},
		{"bad name", posts, gateway.Embed{Target: `users"--`}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rel, err := resolveEmbed(tt.m, &tt.give)
			if (err != nil) != tt.err {
				t.Fatalf("got err %v, want error %v", err, tt.err)
			}
			if err == nil && rel.toOne != tt.toOne {
				t.Fatalf("got toOne %v, want %v", rel.toOne, tt.toOne)
			}
		})
	}
}

func TestArrayLiteral(t *testing.T) {
	tests := []struct {
		give []any
		want string
	}{
		{[]any{}, `{}`},
		{[]any{num("1"), nil, true}, `{"1",NULL,"true"}`},
		{[]any{`a"b\c`, "NULL", "{x,y}"}, `{"a\"b\\c","NULL","{x,y}"}`},
		{[]any{[]any{num("1"), num("2")}, []any{num("3"), num("4")}}, `{{"1","2"},{"3","4"}}`},
		{[]any{map[string]any{"k": "<v>"}}, `{"{\"k\":\"<v>\"}"}`},
	}
	for _, tt := range tests {
		got, err := arrayLiteral(tt.give)
		if err != nil || got != tt.want {
			t.Errorf("arrayLiteral(%v): got %s %v, want %s", tt.give, got, err, tt.want)
		}
	}
}

func TestMapErrorPassThrough(t *testing.T) {
	ge := gateway.Errorf(gateway.CodeInvalidJSON, "bad")
	if MapError(fmt.Errorf("wrap: %w", ge)) != ge {
		t.Fatal("gateway error was not passed through")
	}
	if MapError(nil) != nil {
		t.Fatal("nil did not map to nil")
	}
	if MapError(fmt.Errorf("boom")).Code != gateway.CodeInternal {
		t.Fatal("unknown error is not internal")
	}
	if got := MapError(errPoolExhausted); got.Code != gateway.CodePoolExhausted || got.RetryAfter != 1 {
		t.Fatalf("got %+v", got)
	}
	// A pool the registry replaced mid-request: retryable, not a 500.
	if got := MapError(fmt.Errorf("acquire: %w", puddle.ErrClosedPool)); got.Code != gateway.CodeBackendUnavailable || got.RetryAfter == 0 {
		t.Fatalf("closed pool: got %+v", got)
	}
}

// quotedIdent matches one double-quoted identifier as Sanitize writes it.
var quotedIdent = regexp.MustCompile(`"(?:[^"]|"")*"`)

// allowedRest is everything the builder may write outside quoted
// identifiers: keywords, our own aliases, placeholders, operators and the
// fixed cast type names. No user-supplied text can match it.
var allowedRest = regexp.MustCompile(`^(?:\s+|t0|\.|\(|\)|,|\$[0-9]+|::|\[\]|=|<>|<=|>=|<|>|@>|<@|\bWHERE\b|\bAND\b|\bOR\b|\bNOT\b|\bIS\b|\bNULL\b|\bTRUE\b|\bFALSE\b|\bLIKE\b|\bILIKE\b|\bANY\b|\btext\b|\buuid\b|\binteger\b|\bbigint\b|\bnumeric\b|\bboolean\b|\bdate\b|\btimestamptz\b|\bjsonb\b)*$`)

// checkWhereSQL asserts the safety properties of built WHERE text.
func checkWhereSQL(t *testing.T, sql string, args []any, columns []string) {
	t.Helper()
	for _, q := range quotedIdent.FindAllString(sql, -1) {
		name := strings.ReplaceAll(q[1:len(q)-1], `""`, `"`)
		if columns != nil && !slices.Contains(columns, name) {
			t.Fatalf("quoted identifier %q is not a known column in %s", name, sql)
		}
		if !gateway.ValidIdentifier(name) {
			t.Fatalf("quoted identifier %q is not a valid identifier in %s", name, sql)
		}
	}
	rest := quotedIdent.ReplaceAllString(sql, " ")
	if !allowedRest.MatchString(rest) {
		t.Fatalf("unexpected text outside identifiers: %q (from %s)", rest, sql)
	}
	placeholders := regexp.MustCompile(`\$[0-9]+`).FindAllString(rest, -1)
	if len(placeholders) != len(args) {
		t.Fatalf("%d placeholders for %d args in %s", len(placeholders), len(args), sql)
	}
	for i, p := range placeholders {
		if p != fmt.Sprintf("$%d", i+1) {
			t.Fatalf("placeholder %s out of order in %s", p, sql)
		}
	}
	for _, a := range args {
		if _, ok := a.(string); !ok && a != nil {
			t.Fatalf("arg %#v is not text", a)
		}
	}
}

// fuzzReader turns fuzz bytes into choices and strings.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *fuzzReader) str() string {
	n := int(r.next() % 24)
	n = min(n, len(r.b))
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

var fuzzOps = []gateway.Operator{gateway.OpEq, gateway.OpNeq, gateway.OpGt, gateway.OpGte, gateway.OpLt, gateway.OpLte,
	gateway.OpLike, gateway.OpIlike, gateway.OpIs, gateway.OpIn, gateway.OpContains, gateway.OpContainedBy}

var fuzzCasts = []gateway.Cast{"", "", "", "text", "int", "jsonb", "uuid", "bigint", "numeric", "boolean", "date", "timestamptz"}

func (r *fuzzReader) value(depth int) any {
	switch r.next() % 8 {
	case 0:
		return nil
	case 1:
		return r.next()%2 == 0
	case 2:
		return json.Number(r.str())
	case 3:
		n := int(r.next() % 4)
		arr := make([]any, n)
		for i := range arr {
			if depth < 2 {
				arr[i] = r.value(depth + 1)
			} else {
				arr[i] = r.str()
			}
		}
		return arr
	case 4:
		return map[string]any{r.str(): r.str()}
	}
	return r.str()
}

func (r *fuzzReader) condition(columns []string, depth int) gateway.Condition {
	k := r.next() % 10
	if depth < 4 && k >= 7 {
		c := gateway.Condition{Group: []gateway.GroupKind{gateway.GroupAnd, gateway.GroupOr, gateway.GroupNot}[k-7]}
		for range int(r.next() % 4) {
			c.Children = append(c.Children, r.condition(columns, depth+1))
		}
		return c
	}
	c := gateway.Condition{}
	if sel := r.next(); sel%6 == 0 || len(columns) == 0 {
		c.Column = r.str() // arbitrary text as a column name
	} else {
		c.Column = columns[int(sel)%len(columns)]
	}
	if o := r.next(); o%13 == 12 {
		c.Op = gateway.Operator(r.str())
	} else {
		c.Op = fuzzOps[int(o)%len(fuzzOps)]
	}
	c.Value = r.value(0)
	if x := r.next(); x%17 == 16 {
		c.ColumnCast = gateway.Cast(r.str())
	} else {
		c.ColumnCast = fuzzCasts[int(x)%len(fuzzCasts)]
	}
	c.ValueCast = fuzzCasts[int(r.next())%len(fuzzCasts)]
	return c
}

// FuzzBuildWhere builds random condition trees (arbitrary column names,
// operators, casts and values) and checks that whatever the builder emits
// contains user text only as bind arguments or as quoted, validated
// identifiers.
func FuzzBuildWhere(f *testing.F) {
	f.Add([]byte("\x00\x01\x02hello"))
	f.Add([]byte("\x09\x03\x00\x01\x05'; DROP TABLE users; --\x01\x02"))
	f.Add([]byte("\x08\x02\x06\x00\x0cname\" OR 1=1\x03\x04a\"b\\"))
	cat := testCatalog()
	users, _ := cat.table(context.Background(), tbl("users"))
	columns := make([]string, len(users.Columns))
	for i, c := range users.Columns {
		columns[i] = c.Name
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &fuzzReader{b: data}
		withMeta := r.next()%2 == 0
		s := scope{alias: "t0", code: gateway.CodeInvalidFetchCondition}
		known := []string(nil)
		if withMeta {
			s.meta = users
			known = columns
		}
		var conds []gateway.Condition
		for range int(r.next()%3) + 1 {
			conds = append(conds, r.condition(columns, 0))
		}
		var b sqlBuf
		if err := b.where(s, conds); err != nil {
			if _, ok := err.(*gateway.Error); !ok {
				t.Fatalf("error is not a gateway.Error: %T %v", err, err)
			}
			return
		}
		checkWhereSQL(t, b.String(), b.args, known)
	})
}

// TestWriteIdentMatchesSanitize: the allocation-free quoting writes exactly
// what pgx.Identifier.Sanitize writes, for every kind of name.
func TestWriteIdentMatchesSanitize(t *testing.T) {
	for _, name := range []string{"id", "Mixed_Case$1", `a"b`, "x\x00y", `"`, "", "ünï", "a b; drop"} {
		var b strings.Builder
		writeIdent(&b, name)
		want := pgx.Identifier{name}.Sanitize()
		if b.String() != want {
			t.Errorf("writeIdent(%q) = %s, want %s", name, b.String(), want)
		}
	}
}
