package gateway

// Selection is the parsed `columns`/`select` of a fetch: either every column
// (Star) or a list of items, some of which embed related tables.
type Selection struct {
	Star  bool
	Items []SelectItem
}

// SelectItem is one output column or one embedded relation.
//
//	"name"                  → Column "name"
//	"nick:name"             → Column "name", Alias "nick"
//	"author:author_id(name)"→ Embed{Target "author_id", Alias "author", ...}
//	"comments(body)"        → Embed{Target "comments", ...}
//	"users!author_id(name)" → Embed{Target "users", Hint "author_id"}
//	"user:athena.user(id)"  → Embed{Target "user", Schema "athena", Alias "user"}
type SelectItem struct {
	Column string
	Alias  string
	Embed  *Embed
}

// Embed is a related table pulled in through a foreign key. Target is either
// the related table's name or the name of the foreign-key column on this
// table; Hint disambiguates when several keys link the same tables. The
// builder resolves it: a key from this table to Target is to-one (object or
// null); a key from Target to this table is to-many (array). Schema, when
// set, is the schema of the embedded table: only keys to or from a table of
// that schema match (the SDK's `.include()` on a model with a schema and
// the object form's `schema` key produce it).
type Embed struct {
	Target    string
	Schema    string
	Hint      string
	Alias     string
	Selection Selection
}

// Name is the key the embed appears under in each returned row.
func (e *Embed) Name() string {
	if e.Alias != "" {
		return e.Alias
	}
	return e.Target
}

// OutputName is the key an item appears under in returned rows.
func (s SelectItem) OutputName() string {
	if s.Embed != nil {
		return s.Embed.Name()
	}
	if s.Alias != "" {
		return s.Alias
	}
	return s.Column
}
