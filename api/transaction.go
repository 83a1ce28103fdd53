package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/fetch"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// transaction serves POST /gateway/transaction (spec §3.9): the operations
// run in one database transaction, in order, all or nothing.
//
// Decisions:
//   - every operation's table right (fetch → read, insert/update → write,
//     delete → delete) is checked before anything runs; a missing one is 403
//     naming the operation;
//   - a failure answers with the failing operation's own error envelope
//     (its status: 409 for a unique violation, 404 for an unknown table, …),
//     the message prefixed with the operation ("operation 3 (c): …"),
//     PostgreSQL's wording kept verbatim in "error", and data.details
//     carrying operation_id, operation_index (0-based) and committed:false;
//   - a repeated idempotency_key (same database, same API key) answers the
//     first committed response byte for byte, with header
//     Idempotent-Replayed: true, without running again. Only committed
//     answers are kept, so a failed transaction may be retried with its key.
//     The same key with a different body, or while the first run is still
//     going, is 409 idempotency_conflict.
func (s *Server) transaction(c *gin.Context) error {
	var body []byte
	res, p, req, err := decoded(s, c, func(b []byte) (gateway.TransactionRequest, error) {
		body = b
		return gateway.DecodeTransaction(b, stripNullsHeader(c), s.opts.Limits)
	})
	if err != nil {
		return err
	}
	if err := s.authorizeOps(p, req); err != nil {
		return err
	}
	ctx := c.Request.Context()
	scope := res.Scope + "|" + p.KeyID // tenants never share a key space
	answer, replayed, err := gateway.RunIdempotent(ctx, s.idempotency, scope, req.IdempotencyKey, body, s.log, func() ([]byte, error) {
		out, err := res.DB.Transaction(ctx, req)
		if err != nil {
			return nil, err
		}
		// Committed: cached reads of the written tables must not outlive
		// the answer (see Server.invalidate).
		for _, t := range out.Written {
			s.invalidate(ctx, res, t)
		}
		answer, err := transactionBody(req, out)
		if err != nil {
			return nil, gateway.AfterCommit(err)
		}
		return answer, nil
	})
	if err != nil {
		return operationError(err)
	}
	if replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Data(200, "application/json; charset=utf-8", answer)
	return nil
}

// authorizeOps checks every operation's table right before anything runs
// (the route, and a deferred transaction when it is accepted).
func (s *Server) authorizeOps(p auth.Principal, req gateway.TransactionRequest) error {
	for i, o := range req.Ops {
		if err := s.authorizeTable(p, o.Table(), tableAction[string(o.Kind)]); err != nil {
			// Reported as the transaction's own failure (not the auth
			// step's), naming the operation.
			return operationError(&gateway.OpError{Index: i, ID: o.ID, Err: errors.Unwrap(err)})
		}
	}
	return nil
}

// operationError is err as the transaction answers it: an operation's
// failure carries which operation failed (see transaction); anything else,
// and internal errors (logged, never shown), pass unchanged.
func operationError(err error) error {
	var oe *gateway.OpError
	if !errors.As(err, &oe) {
		return err
	}
	mapped := postgres.MapError(oe.Err)
	if mapped.Code == gateway.CodeInternal {
		return err
	}
	e := *mapped
	label := gateway.OpLabel(oe.Index, oe.ID)
	if !strings.HasPrefix(e.Message, label) {
		e.Message = label + ": " + e.Message
	}
	e.Details = make(map[string]any, len(mapped.Details)+3)
	for k, v := range mapped.Details {
		e.Details[k] = v
	}
	e.Details["operation_id"] = oe.ID
	e.Details["operation_index"] = oe.Index
	e.Details["committed"] = false
	return &e
}

// transactionBody renders the committed answer; the rows PostgreSQL built
// are copied, not re-encoded.
func transactionBody(req gateway.TransactionRequest, out gateway.TransactionResult) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"status":"success","message":"Transaction committed","data":{"committed":true,"results":[`)
	for i, r := range out.Results {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":`)
		writeString(&b, r.ID)
		b.WriteString(`,"ok":true,"data":`)
		data := r.Rows
		if ins := req.Ops[i].Insert; ins != nil {
			var err error
			if data, err = insertData(*ins, r.Rows); err != nil {
				return nil, err
			}
		}
		b.Write(data)
		b.WriteString(`,"count":`)
		if r.Count != nil {
			n, _ := json.Marshal(*r.Count)
			b.Write(n)
		} else {
			b.WriteString("null")
		}
		b.WriteString(`,"error":null`)
		if f := req.Ops[i].Fetch; f != nil && f.Post != nil {
			grouped, err := fetch.PostProcess(r.Rows, *f.Post)
			if err != nil {
				return nil, err
			}
			g, err := json.Marshal(map[string]any{"grouped": grouped})
			if err != nil {
				return nil, err
			}
			b.WriteString(`,"post_processing":`)
			b.Write(g)
		}
		b.WriteByte('}')
	}
	b.WriteString(`]}}`)
	return b.Bytes(), nil
}
