package auth

import (
	"regexp"
	"strings"
)

// Fixed rights for operations that have no table (spec §1.2).
const (
	RightQuery          = "gateway.query"       // raw SQL
	RightRPC            = "gateway.rpc.execute" // database functions
	RightManagementRead = "management.read"
	RightPipelinesRun   = "pipelines.run"
)

// Action is what a CRUD operation does to a table.
type Action string

// Table actions; a table right is <table>.<action>.
const (
	ActionRead   Action = "read"
	ActionWrite  Action = "write"
	ActionDelete Action = "delete"
)

// ActionFor maps a gateway operation to its table action: fetch reads;
// insert, update and upsert write; delete deletes.
func ActionFor(operation string) (Action, bool) {
	switch operation {
	case "fetch", "read", "select":
		return ActionRead, true
	case "insert", "update", "upsert", "write":
		return ActionWrite, true
	case "delete":
		return ActionDelete, true
	}
	return "", false
}

// maxRightLen bounds a right name.
const maxRightLen = 128

var rightPattern = regexp.MustCompile(`^[A-Za-z0-9_*]+(\.[A-Za-z0-9_*]+)*$`)

// ValidRight reports whether r may be granted: dot-separated segments of
// letters, digits, underscores and '*', at most 128 characters.
func ValidRight(r string) bool {
	return len(r) <= maxRightLen && rightPattern.MatchString(r)
}

// Match reports whether the granted right pattern covers want. Both are
// dot-separated segments. In pattern:
//   - "*" alone covers every right;
//   - a "*" segment that is last covers one or more remaining segments
//     ("users.*" covers users.read; "gateway.*" covers gateway.read and
//     gateway.rpc.execute);
//   - a "*" segment elsewhere covers exactly one segment ("*.read" covers
//     users.read, not sales.orders.read);
//   - any other segment must equal want's segment exactly (case-sensitive).
//
// A '*' inside want is an ordinary character: only granted rights carry
// wildcards.
func Match(pattern, want string) bool {
	if pattern == "*" {
		return true
	}
	for {
		pseg, prest, pmore := strings.Cut(pattern, ".")
		wseg, wrest, wmore := strings.Cut(want, ".")
		if pseg == "*" && !pmore {
			return true // trailing wildcard: one or more segments
		}
		if pseg != "*" && pseg != wseg {
			return false
		}
		if !pmore || !wmore {
			return pmore == wmore
		}
		pattern, want = prest, wrest
	}
}

// Allows reports whether any granted right covers want (see Match).
func Allows(granted []string, want string) bool {
	for _, g := range granted {
		if Match(g, want) {
			return true
		}
	}
	return false
}

// TableRight is the right an action on a table needs, for messages and
// logs: <table>.<action>, or <schema>.<table>.<action> when qualified.
func TableRight(schema, table string, action Action) string {
	if schema == "" {
		return table + "." + string(action)
	}
	return schema + "." + table + "." + string(action)
}

// AllowsTable reports whether granted covers action on schema.table:
//
//   - unqualified table (schema ""): <table>.<action> matched with
//     wildcards (users.read, users.*, *.read, *);
//   - schema-qualified table: <schema>.<table>.<action> or
//     <schema>.<table>.* granted literally, or "*". Wildcard matching is not
//     applied to the qualified name because "sales.*" would be ambiguous
//     (all actions on table "sales", or every table in schema "sales");
//   - either way, the table-less gateway.<action> right matched with
//     wildcards (gateway.read, gateway.*, *.read, *) covers every table.
//
// Note that a table named like a fixed right's first segment (a table
// "management" read needs management.read) shares that right's name.
func AllowsTable(granted []string, schema, table string, action Action) bool {
	if Allows(granted, "gateway."+string(action)) {
		return true
	}
	if schema == "" {
		return Allows(granted, table+"."+string(action))
	}
	exact := schema + "." + table + "." + string(action)
	all := schema + "." + table + ".*"
	for _, g := range granted {
		if g == "*" || g == exact || g == all {
			return true
		}
	}
	return false
}

// NativeRight is a right the server itself understands, as GET
// /admin/rights/catalog lists it. Key is the right, or for a pattern
// (IsPattern) its shape with {placeholders}.
type NativeRight struct {
	Key         string `json:"key"`
	Source      string `json:"source"` // always "gateway": built into the server
	Kind        string `json:"kind"`   // fixed | gateway | table | wildcard
	IsPattern   bool   `json:"isPattern"`
	Resource    string `json:"resource,omitempty"`
	Action      string `json:"action,omitempty"`
	Description string `json:"description"`
}

// NativeRights lists every right the server checks and the wildcard forms
// that grant them (see Match and AllowsTable), in a fixed order.
func NativeRights() []NativeRight {
	rights := []NativeRight{
		{Key: RightQuery, Kind: "fixed", Resource: "gateway", Action: "query", Description: "raw SQL: POST /gateway/query (and /gateway/sql, /query/sql)"},
		{Key: RightRPC, Kind: "fixed", Resource: "gateway.rpc", Action: "execute", Description: "call database functions: /gateway/rpc, /rpc/{function}"},
		{Key: RightManagementRead, Kind: "fixed", Resource: "management", Action: "read", Description: "schema introspection: /schema/tables, /schema/columns, /schema/constraints"},
		{Key: RightPipelinesRun, Kind: "fixed", Resource: "pipelines", Action: "run", Description: "run pipelines"},
		{Key: "gateway.read", Kind: "gateway", Resource: "gateway", Action: "read", Description: "fetch from every table, schema-qualified ones included"},
		{Key: "gateway.write", Kind: "gateway", Resource: "gateway", Action: "write", Description: "insert, update and upsert into every table"},
		{Key: "gateway.delete", Kind: "gateway", Resource: "gateway", Action: "delete", Description: "delete from every table"},
		{Key: "{table}.read", Kind: "table", IsPattern: true, Action: "read", Description: "fetch from one table (schema-qualified: {schema}.{table}.read)"},
		{Key: "{table}.write", Kind: "table", IsPattern: true, Action: "write", Description: "insert, update and upsert into one table"},
		{Key: "{table}.delete", Kind: "table", IsPattern: true, Action: "delete", Description: "delete from one table"},
		{Key: "{table}.*", Kind: "wildcard", IsPattern: true, Description: "every action on one table"},
		{Key: "*.{action}", Kind: "wildcard", IsPattern: true, Description: "one action on every unqualified table (*.read)"},
		{Key: "gateway.*", Kind: "wildcard", IsPattern: true, Resource: "gateway", Description: "every gateway right: gateway.read|write|delete, gateway.query, gateway.rpc.execute"},
		{Key: "*", Kind: "wildcard", IsPattern: true, Description: "every right"},
	}
	for i := range rights {
		rights[i].Source = "gateway"
	}
	return rights
}
