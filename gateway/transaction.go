package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// OpKind is the kind of one operation inside a transaction.
type OpKind string

// Operation kinds a transaction may hold (spec §3.9): the four table routes.
const (
	OpFetch  OpKind = "fetch"
	OpInsert OpKind = "insert"
	OpUpdate OpKind = "update"
	OpDelete OpKind = "delete"
)

// IsolationLevel is a transaction's isolation level; "" is the server's
// default (normally read committed).
type IsolationLevel string

// Isolation levels accepted in options.isolation_level.
const (
	IsolationDefault        IsolationLevel = ""
	IsolationReadCommitted  IsolationLevel = "read committed"
	IsolationRepeatableRead IsolationLevel = "repeatable read"
	IsolationSerializable   IsolationLevel = "serializable"
)

// Transaction limits.
const (
	// DefaultMaxTransactionOps bounds the operations of one transaction: a
	// transaction holds one connection and its locks until every operation
	// ran, so it must stay small.
	DefaultMaxTransactionOps = 100
	// MaxIdempotencyKeyLen bounds idempotency_key (it is stored as a key).
	MaxIdempotencyKeyLen = 255
)

// TransactionOp is one operation: exactly one of the request pointers is
// set, matching Kind. ID is the caller's label (echoed in results and
// errors); when the caller sent none it is the operation's 1-based
// position.
type TransactionOp struct {
	ID     string
	Kind   OpKind
	Fetch  *FetchRequest
	Insert *InsertRequest
	Update *UpdateRequest
	Delete *DeleteRequest
}

// Table is the table the operation touches.
func (op TransactionOp) Table() TableRef {
	switch {
	case op.Fetch != nil:
		return op.Fetch.Table
	case op.Insert != nil:
		return op.Insert.Table
	case op.Update != nil:
		return op.Update.Table
	case op.Delete != nil:
		return op.Delete.Table
	}
	return TableRef{}
}

// Writes reports whether the operation modifies its table.
func (op TransactionOp) Writes() bool { return op.Kind != OpFetch }

// TransactionOptions are the transaction's modes.
type TransactionOptions struct {
	ReadOnly  bool
	Isolation IsolationLevel
	// Deferrable is PostgreSQL's DEFERRABLE mode, sent by the SDK on every
	// transaction (src/gateway/transaction.ts). It goes to BEGIN as it is:
	// PostgreSQL honours it only for SERIALIZABLE READ ONLY (the transaction
	// waits for a snapshot that cannot conflict, then never fails to
	// serialize) and ignores it in every other mode, so Athena does too
	// rather than refusing what PostgreSQL accepts.
	Deferrable bool
}

// TransactionRequest is a list of table operations that run in one
// database transaction, in order: all commit or none do.
type TransactionRequest struct {
	IdempotencyKey string // "" when absent
	Ops            []TransactionOp
	Options        TransactionOptions
}

// OpResult is one operation's outcome in a committed transaction.
type OpResult struct {
	ID   string
	Kind OpKind
	Rows json.RawMessage // JSON array (never null), as the route returns it
	// Count is the route's count: for fetch the count asked for (nil when
	// none was), for insert/update/delete the affected rows.
	Count *int64
}

// TransactionResult is a committed transaction: one result per operation,
// positional, and the tables written (each once, as the requests named
// them), so callers can invalidate what they cache about them.
type TransactionResult struct {
	Results []OpResult
	Written []TableRef
}

// OpError is the failure of one operation of a transaction; the whole
// transaction was rolled back. Index is 0-based into the operations.
type OpError struct {
	Index int
	ID    string
	Err   error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("%s: %v", OpLabel(e.Index, e.ID), e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// OpLabel names an operation in messages: "operation 2 (b)", counting from 1
// as people do.
func OpLabel(index int, id string) string {
	return "operation " + strconv.Itoa(index+1) + " (" + id + ")"
}

// DecodeTransaction decodes a transaction body (spec §3.9). Each payload is
// decoded by the decoder of its own route (DecodeFetch, DecodeInsert, …),
// so a transaction accepts exactly what the routes accept; a payload error
// keeps its route's code and its message names the operation
// ("operation 2 (b): …"). stripNullsHeader applies to every payload that
// does not send strip_nulls, as on the routes.
//
// Decisions: operations must be a non-empty array of at most
// DefaultMaxTransactionOps; ids are optional (default: the 1-based
// position) but must be unique; idempotency_key is a string of at most
// MaxIdempotencyKeyLen bytes, null or "" meaning none; unknown option names
// are refused, so a misspelt "read_only" cannot silently run a write.
func DecodeTransaction(body []byte, stripNullsHeader *bool, lim Limits) (TransactionRequest, error) {
	return decodeStrict(body, CodeInvalidTransactionPayload, func(p payload) (TransactionRequest, error) {
		return transactionFrom(p, stripNullsHeader, lim)
	})
}

// transactionFrom reads the fields of a transaction body.
func transactionFrom(p payload, stripNullsHeader *bool, lim Limits) (TransactionRequest, error) {
	const code = CodeInvalidTransactionPayload
	var err error
	var req TransactionRequest
	if req.IdempotencyKey, err = p.str("idempotency_key", "idempotencyKey"); err != nil {
		return TransactionRequest{}, err
	}
	if len(req.IdempotencyKey) > MaxIdempotencyKeyLen {
		return TransactionRequest{}, Errorf(code, "idempotency_key is %d bytes; at most %d are allowed", len(req.IdempotencyKey), MaxIdempotencyKeyLen)
	}
	if req.Options, err = transactionOptions(p); err != nil {
		return TransactionRequest{}, err
	}

	_, raw := p.raw("operations")
	if raw == nil {
		return TransactionRequest{}, Errorf(code, "operations is required (an array of {id, kind, payload})")
	}
	var elems []json.RawMessage
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' {
		return TransactionRequest{}, Errorf(code, "operations must be an array")
	}
	if err := json.Unmarshal(raw, &elems); err != nil {
		return TransactionRequest{}, Errorf(CodeInvalidJSON, "malformed JSON in operations: %s", jsonErrText(err))
	}
	if len(elems) == 0 {
		return TransactionRequest{}, Errorf(code, "operations is empty; send at least one operation")
	}
	if len(elems) > DefaultMaxTransactionOps {
		return TransactionRequest{}, Errorf(code, "operations has %d entries; at most %d are allowed in one transaction", len(elems), DefaultMaxTransactionOps)
	}
	req.Ops = make([]TransactionOp, len(elems))
	seen := make(map[string]int, len(elems))
	for i, el := range elems {
		op, err := decodeOp(i, el, stripNullsHeader, lim)
		if err != nil {
			return TransactionRequest{}, err
		}
		if j, dup := seen[op.ID]; dup {
			return TransactionRequest{}, Errorf(code, "%s: id %q is already used by operation %d", OpLabel(i, op.ID), clip(op.ID), j+1)
		}
		seen[op.ID] = i
		req.Ops[i] = op
	}
	return req, nil
}

// decodeOp decodes operations[i].
func decodeOp(i int, raw json.RawMessage, stripNullsHeader *bool, lim Limits) (TransactionOp, error) {
	const code = CodeInvalidTransactionPayload
	label := "operation " + strconv.Itoa(i+1)
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return TransactionOp{}, Errorf(code, "%s must be an object {id, kind, payload}", label)
	}
	p, err := decodePayload(raw, code)
	if err != nil {
		return TransactionOp{}, prefixed(label, err)
	}
	op := TransactionOp{ID: strconv.Itoa(i + 1)}
	if n, v, err := p.value("id"); err != nil {
		return TransactionOp{}, prefixed(label, err)
	} else if n != "" {
		switch t := v.(type) {
		case string:
			if strings.TrimSpace(t) != "" {
				op.ID = t
			}
		case json.Number:
			op.ID = t.String()
		default:
			return TransactionOp{}, Errorf(code, "%s: id must be a string, got %s", label, jsonKind(v))
		}
	}
	if len(op.ID) > MaxIdempotencyKeyLen {
		return TransactionOp{}, Errorf(code, "%s: id is longer than %d bytes", label, MaxIdempotencyKeyLen)
	}
	label = OpLabel(i, op.ID)
	kind, err := p.str("kind", "type", "action")
	if err != nil {
		return TransactionOp{}, prefixed(label, err)
	}
	op.Kind = OpKind(strings.ToLower(strings.TrimSpace(kind)))
	_, payload := p.raw("payload", "body")
	if payload == nil {
		return TransactionOp{}, Errorf(code, "%s: payload is required (the body its route takes)", label)
	}
	var strip *bool // the decoded request's StripNulls, for the header
	switch op.Kind {
	case OpFetch:
		var r FetchRequest
		r, err = DecodeFetch(payload, stripNullsHeader, lim)
		op.Fetch = &r
	case OpInsert:
		var r InsertRequest
		r, err = DecodeInsert(payload, lim)
		op.Insert, strip = &r, &r.StripNulls
	case OpUpdate:
		var r UpdateRequest
		r, err = DecodeUpdate(payload, lim)
		op.Update, strip = &r, &r.StripNulls
	case OpDelete:
		var r DeleteRequest
		r, err = DecodeDelete(payload, lim)
		op.Delete, strip = &r, &r.StripNulls
	case "":
		return TransactionOp{}, Errorf(code, "%s: kind is required (fetch, insert, update or delete)", label)
	default:
		return TransactionOp{}, Errorf(code, "%s: unknown kind %q; use fetch, insert, update or delete", label, clip(kind))
	}
	if err != nil {
		return TransactionOp{}, prefixed(label, err)
	}
	if strip != nil && stripNullsHeader != nil && !sendsField(payload, "strip_nulls") {
		*strip = *stripNullsHeader // the payload wins over the header
	}
	return op, nil
}

// sendsField reports whether the object raw (an operation's payload, already
// decoded once by its route's decoder) sends key with a non-null value.
func sendsField(raw json.RawMessage, key string) bool {
	pp, err := decodePayload(raw, CodeInvalidTransactionPayload)
	return err == nil && pp.has(key)
}

// transactionOptions reads options {read_only, isolation_level, deferrable}.
func transactionOptions(p payload) (TransactionOptions, error) {
	const code = CodeInvalidTransactionPayload
	var o TransactionOptions
	_, raw := p.raw("options")
	if raw == nil {
		return o, nil
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return o, Errorf(code, "options must be an object")
	}
	op, err := decodePayload(raw, code)
	if err != nil {
		return o, err
	}
	for k := range op.fields {
		switch k {
		case "read_only", "readOnly", "isolation_level", "isolationLevel", "deferrable":
		default:
			return o, Errorf(code, "unknown option %q; options are read_only, isolation_level and deferrable", clip(k))
		}
	}
	for _, name := range []string{"read_only", "readOnly"} {
		if b, present, err := op.boolean(name); err != nil {
			return o, err
		} else if present {
			o.ReadOnly = b
			break
		}
	}
	if o.Deferrable, _, err = op.boolean("deferrable"); err != nil {
		return o, err
	}
	level, err := op.str("isolation_level", "isolationLevel")
	if err != nil {
		return o, err
	}
	norm := strings.Join(strings.Fields(strings.ToLower(strings.ReplaceAll(level, "_", " "))), " ")
	switch IsolationLevel(norm) {
	case IsolationDefault, IsolationReadCommitted, IsolationRepeatableRead, IsolationSerializable:
		o.Isolation = IsolationLevel(norm)
	default:
		return o, Errorf(code, "isolation_level %q is not supported; use \"read committed\", \"repeatable read\" or \"serializable\"", clip(level))
	}
	return o, nil
}

// prefixed returns err with label in front of its message (and detail),
// keeping its code: a payload error inside a transaction names its
// operation.
func prefixed(label string, err error) error {
	e := AsError(err)
	if e.Code == CodeInternal {
		return err
	}
	out := *e
	out.Message = label + ": " + e.Message
	if e.Detail != "" {
		out.Detail = label + ": " + e.Detail
	}
	return &out
}
