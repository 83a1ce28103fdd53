package gateway

import (
	"regexp"
	"strings"
)

// MaxIdentifierLength is PostgreSQL's NAMEDATALEN-1.
const MaxIdentifierLength = 63

// ValidIdentifier reports whether name is a plain SQL identifier Athena will
// quote and send: ASCII letter or underscore first, then letters, digits,
// underscores or dollars, at most 63 bytes. This deliberately refuses quotes,
// semicolons, whitespace, comment markers and every non-ASCII rune (so
// look-alike unicode cannot smuggle a different name through).
func ValidIdentifier(name string) bool {
	if name == "" || len(name) > MaxIdentifierLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case (c >= '0' && c <= '9') || c == '$':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// ParseTableRef parses "table" or "schema.table" and validates both parts.
// schema, when not empty, is the separate schema_name field; giving both a
// qualified name and schema_name is an error.
func ParseTableRef(name, schema string, code Code) (TableRef, error) {
	name = strings.TrimSpace(name)
	schema = strings.TrimSpace(schema)
	if name == "" {
		return TableRef{}, Errorf(code, "table_name is required")
	}
	ref := TableRef{Name: name, Schema: schema}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		if schema != "" {
			return TableRef{}, Errorf(code, "table_name %q is schema-qualified; do not also send schema_name", name)
		}
		ref = TableRef{Schema: name[:i], Name: name[i+1:]}
	}
	if ref.Schema != "" && !ValidIdentifier(ref.Schema) {
		return TableRef{}, Errorf(code, "invalid schema name %q", ref.Schema)
	}
	if !ValidIdentifier(ref.Name) {
		return TableRef{}, Errorf(code, "invalid table name %q", ref.Name)
	}
	return ref, nil
}

// clientNamePattern is the one rule for client names (config file, database
// clients, key bindings): letters, digits and '_' first, then also '.' and
// '-', at most 63 characters. Names reach SQL only as bind parameters; the
// rule keeps them readable in logs, URLs and metric labels.
var clientNamePattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$`)

// ValidClientName reports whether name is a legal client name.
func ValidClientName(name string) bool { return clientNamePattern.MatchString(name) }
