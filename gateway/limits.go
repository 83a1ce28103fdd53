package gateway

// Limits bounds what a request may ask for; zero fields mean the defaults.
// They exist so one request cannot make the gateway build an enormous
// statement or recurse without end while parsing.
type Limits struct {
	MaxInsertRows      int   // rows in one insert; default 10000
	MaxConditions      int   // condition nodes (leaves and groups) in one request; default 1000
	MaxExpressionDepth int   // nesting of and/or/not groups; default 32
	MaxInValues        int   // elements of one `in` list; default 10000
	MaxLimit           int64 // largest fetch/rpc limit; 0 means unlimited
}

// Default values for Limits fields left at zero.
const (
	DefaultMaxInsertRows      = 10000
	DefaultMaxConditions      = 1000
	DefaultMaxExpressionDepth = 32
	DefaultMaxInValues        = 10000
)

// maxSelectionDepth bounds embed nesting in a selection; embeds deeper than
// this are never meaningful and the parser is recursive.
const maxSelectionDepth = DefaultMaxExpressionDepth

// DefaultLimits returns the limits used when a field is zero.
func DefaultLimits() Limits {
	return Limits{
		MaxInsertRows:      DefaultMaxInsertRows,
		MaxConditions:      DefaultMaxConditions,
		MaxExpressionDepth: DefaultMaxExpressionDepth,
		MaxInValues:        DefaultMaxInValues,
	}
}

// withDefaults fills zero (or negative) fields with the defaults, so callers
// may pass Limits{} and get sane bounds.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxInsertRows <= 0 {
		l.MaxInsertRows = d.MaxInsertRows
	}
	if l.MaxConditions <= 0 {
		l.MaxConditions = d.MaxConditions
	}
	if l.MaxExpressionDepth <= 0 {
		l.MaxExpressionDepth = d.MaxExpressionDepth
	}
	if l.MaxInValues <= 0 {
		l.MaxInValues = d.MaxInValues
	}
	if l.MaxLimit < 0 {
		l.MaxLimit = 0
	}
	return l
}
