package api

import (
	"context"
	"encoding/json"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/telemetry"
)

// The admin audit trail (spec §1.2): every admin mutation queues one row
// (actor, action, target, before/after, request id) on the batched log
// writer (Options.Audit), and GET /admin/audit pages through the table.
// The write is asynchronous, like the request log: a mutation never waits
// on or fails because of its audit row. GET /admin/audit first flushes the
// queued rows, so a change is listed as soon as its answer was sent.

// AuditReader reads the audit trail (GET /admin/audit).
// *postgres.AuditStore implements it.
type AuditReader interface {
	ListAudit(ctx context.Context, q postgres.AuditQuery) ([]postgres.AuditRow, error)
}

// errNoAudit answers GET /admin/audit when no logging database is
// configured (routes.go).
var errNoAudit = &gateway.Error{Code: gateway.CodeBackendUnavailable,
	Message: "audit log unavailable", Detail: "no logging database is configured"}

// audit queues the audit row of a committed admin mutation. before and
// after are the record as it was and as it is (nil for none); they are
// stored as JSON. The actor is the key that passed the admin check: the
// admin key ("admin") or, were a key ever allowed, its public id.
func (s *Server) audit(c *gin.Context, action, target string, before, after any) {
	e := telemetry.AuditEntry{Time: time.Now(), Action: action, Target: target, Actor: auth.AdminKeyID,
		Before: auditDoc(before), After: auditDoc(after)}
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
		e.RequestID = info.RequestID
		if info.KeyID != "" {
			e.Actor = info.KeyID
		}
	}
	s.opts.Audit.Audit(e)
}

// auditDoc is v as JSON; nil (or a value that cannot be encoded, which the
// records audited here never are) is none.
func auditDoc(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// adminAudit serves GET /admin/audit?limit=&offset=&action=&target=&actor=:
// the trail, newest first.
func (s *Server) adminAudit(c *gin.Context) error {
	q := postgres.AuditQuery{Action: c.Query("action"), Target: c.Query("target"), Actor: c.Query("actor")}
	var err error
	if q.Limit, err = queryInt(c, "limit", 100, 1, postgres.MaxAuditLimit); err != nil {
		return err
	}
	if q.Offset, err = queryInt(c, "offset", 0, 0, 1<<31-1); err != nil {
		return err
	}
	if err := s.opts.Audit.FlushAudit(c.Request.Context()); err != nil {
		return err
	}
	rows, err := s.deps.Audit.ListAudit(c.Request.Context(), q)
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []postgres.AuditRow{}
	}
	newSuccess("Fetched audit log rows").value("data", rows).
		int("limit", int64(q.Limit)).int("offset", int64(q.Offset)).send(c, 200)
	return nil
}
