package gateway

// Operator is a comparison in a condition (spec §3.1).
type Operator string

// Operators accepted in conditions. And/Or/Not are groups, not comparisons.
const (
	OpEq          Operator = "eq"
	OpNeq         Operator = "neq"
	OpGt          Operator = "gt"
	OpGte         Operator = "gte"
	OpLt          Operator = "lt"
	OpLte         Operator = "lte"
	OpLike        Operator = "like"
	OpIlike       Operator = "ilike"
	OpIs          Operator = "is"
	OpIn          Operator = "in"
	OpContains    Operator = "contains"
	OpContainedBy Operator = "containedBy"
)

// Cast is a type a column or value may be cast to; only the allow-list exists.
type Cast string

// Casts in the allow-list. Anything else is refused with invalid_fetch_condition.
var allowedCasts = map[Cast]bool{
	"text": true, "uuid": true, "int": true, "bigint": true, "numeric": true,
	"boolean": true, "date": true, "timestamptz": true, "jsonb": true,
}

// AllowedCast reports whether c is in the cast allow-list.
func AllowedCast(c Cast) bool { return allowedCasts[c] }

// GroupKind says how a condition combines its children.
type GroupKind string

// Group kinds. A condition with an empty Group is a leaf comparison.
const (
	GroupNone GroupKind = ""
	GroupAnd  GroupKind = "and"
	GroupOr   GroupKind = "or"
	GroupNot  GroupKind = "not" // negation of the AND of its children
)

// Condition is one node of a WHERE tree. A leaf has Column, Op and Value;
// a group has Group and Children. A list of conditions is ANDed.
//
// Value is what JSON decoding produced: nil, bool, string, json.Number,
// []any or map[string]any. For OpIs it is nil, true or false. For OpIn,
// OpContains and OpContainedBy it is a []any (contains/containedBy may also be
// a map for jsonb). The SQL builder binds it; it never reaches SQL text.
type Condition struct {
	Column     string
	Op         Operator
	Value      any
	ColumnCast Cast
	ValueCast  Cast

	Group    GroupKind
	Children []Condition
}

// IsGroup reports whether c combines children rather than comparing a column.
func (c Condition) IsGroup() bool { return c.Group != GroupNone }
