package gateway

import "encoding/json"

// TableRef names a table or view, optionally schema-qualified. Both parts
// have passed ValidIdentifier by the time a request reaches an adapter.
type TableRef struct {
	Schema string // "" means the connection's search_path (normally public)
	Name   string
}

// String renders the reference for messages (never for SQL).
func (t TableRef) String() string {
	if t.Schema == "" {
		return t.Name
	}
	return t.Schema + "." + t.Name
}

// Sort is one ORDER BY term.
type Sort struct {
	Column     string
	Descending bool
	NullsFirst *bool
}

// CountMode asks for a row count besides (or, with Head, instead of) rows.
type CountMode string

// Count modes (spec §3.2).
const (
	CountNone      CountMode = ""
	CountExact     CountMode = "exact"
	CountPlanned   CountMode = "planned"
	CountEstimated CountMode = "estimated"
)

// FetchRequest is a read of one table or view.
type FetchRequest struct {
	Table      TableRef
	Selection  Selection
	Conditions []Condition
	Sort       []Sort
	Limit      *int64
	Offset     *int64
	Count      CountMode
	Head       bool
	StripNulls bool
	Post       *PostProcessing
}

// PostProcessing groups fetched rows in the gateway (spec §3.2).
type PostProcessing struct {
	GroupBy             string // column to group on
	TimeGranularity     string // "", "day", "hour", "minute": truncate GroupBy timestamps
	AggregationColumn   string
	AggregationStrategy string // "sum" or "cumulative_sum"
	AggregationDedup    bool   // count each distinct row (by full content) once
}

// Group is one bucket produced by PostProcessing.
type Group struct {
	Label       string           `json:"label"`
	Rows        []map[string]any `json:"rows"`
	Aggregation *float64         `json:"aggregation"`
}

// ConflictAction says what an insert does when its conflict target matches.
type ConflictAction int

// Conflict actions.
const (
	ConflictNone      ConflictAction = iota // plain INSERT
	ConflictDoNothing                       // ON CONFLICT (...) DO NOTHING
	ConflictDoUpdate                        // ON CONFLICT (...) DO UPDATE SET ...
)

// InsertRequest inserts one or many rows in one statement.
type InsertRequest struct {
	Table      TableRef
	Rows       []map[string]any // at least one; values as decoded from JSON
	Single     bool             // insert_body was one object, not an array
	Returning  Selection        // RETURNING projection; Star by default
	OnConflict []string         // conflict target columns
	Action     ConflictAction
	// UpdateBody holds the SET values for ConflictDoUpdate; empty means
	// merge: every inserted column outside the target takes the proposed
	// row's value (EXCLUDED).
	UpdateBody map[string]any
	// DefaultToNull: when rows have different key sets, missing keys become
	// NULL instead of the column DEFAULT.
	DefaultToNull bool
	Count         CountMode
	Head          bool // return no rows, only the count
	StripNulls    bool // drop null fields from returned rows
}

// UpdateRequest updates the rows matching Conditions, narrowed by Bound.
type UpdateRequest struct {
	Table           TableRef
	Set             map[string]any
	Conditions      []Condition
	Bound           RowBound
	AllowUnfiltered bool
	Returning       Selection
	StripNulls      bool
}

// DeleteRequest deletes by primary key (ResourceID) and/or conditions,
// narrowed by Bound.
type DeleteRequest struct {
	Table      TableRef
	ResourceID any // nil when absent
	Conditions []Condition
	Bound      RowBound
	Returning  Selection
	StripNulls bool
}

// MutationResult is what insert, update and delete return.
type MutationResult struct {
	Rows     json.RawMessage // JSON array of returned rows (never null)
	Affected int64
}

// FetchResult is what a fetch returns.
type FetchResult struct {
	Rows  json.RawMessage // JSON array of rows (never null); "[]" with Head
	Count *int64          // set when a count was asked for
}

// QueryRequest is raw SQL with positional parameters.
type QueryRequest struct {
	SQL    string
	Params []any
	Schema string // search_path for this statement, "" for default
}

// QueryResult is the outcome of a raw query.
type QueryResult struct {
	Rows           []map[string]any // rows of the last statement that returned rows
	RowsAffected   int64
	StatementCount int
	Writes         bool // some statement was INSERT/UPDATE/DELETE/MERGE/DDL
}

// RPCRequest calls a database function with named arguments.
type RPCRequest struct {
	Schema    string
	Function  string
	Args      map[string]any
	Selection Selection // projection over the function's result rows
	Filters   []Condition
	Count     CountMode
	// Head asks for the count only (spec §3.7): no rows, the count of
	// every row the filters keep, whatever Count says.
	Head   bool
	Limit  *int64
	Offset *int64
	Sort   []Sort
	// StripNulls drops null fields from result rows (X-Strip-Nulls).
	StripNulls bool
}

// RPCResult is an RPC's rows (JSON array) and optional count.
type RPCResult struct {
	Rows  json.RawMessage
	Count *int64
}
