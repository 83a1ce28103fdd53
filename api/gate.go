package api

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/registry"
)

// begin is the front door of every tenant route, run before the body is
// read (an unauthenticated caller gets 401 even with a malformed body):
//
//  1. a direct-URI header (gateway routes only) is parsed without I/O; a URI
//     carrying user and password waives the API key (spec §1.1), any other
//     is authenticated before the gateway connects anywhere;
//  2. otherwise the key is checked against the named client before the
//     client is looked up, so unauthenticated callers cannot probe which
//     clients exist;
//  3. the database is resolved (registry lookups are in memory).
//
// On failure the envelope is written and ok is false.
func (s *Server) begin(c *gin.Context, op string) (res Resolution, p auth.Principal, ok bool) {
	fail := func(err error) (Resolution, auth.Principal, bool) {
		writeError(c, s.log, op, err)
		return Resolution{}, auth.Principal{}, false
	}
	if directAllowed(c) {
		if raw := directHeader(c); raw != "" {
			d, err := registry.ParseDirectURI(raw)
			if err != nil {
				return fail(err)
			}
			if d.Keyless {
				p = auth.Principal{Anonymous: true}
				c.Set(principalKey, p)
			} else if p, ok = s.authenticate(c, ""); !ok {
				return Resolution{}, auth.Principal{}, false
			}
			if res, err = s.resolveClient(c, true); err != nil {
				return fail(err)
			}
			return res, p, true
		}
	}
	name := strings.TrimSpace(c.GetHeader("X-Athena-Client"))
	if name == "" {
		// Wildcard host (or nothing): the name comes from the in-memory
		// route table, so resolve first.
		if res, err := s.resolveClient(c, false); err != nil {
			return fail(err)
		} else if p, ok = s.authenticate(c, res.Client); !ok {
			return Resolution{}, auth.Principal{}, false
		} else {
			return res, p, true
		}
	}
	if p, ok = s.authenticate(c, name); !ok {
		return Resolution{}, auth.Principal{}, false
	}
	res, err := s.resolveClient(c, false)
	if err != nil {
		return fail(err)
	}
	return res, p, true
}

// directHeader returns the first direct-URI header present.
func directHeader(c *gin.Context) string {
	for _, h := range directHeaders {
		if v := strings.TrimSpace(c.GetHeader(h)); v != "" {
			return v
		}
	}
	return ""
}

// tableAction is the right family an operation needs on its table.
var tableAction = map[string]auth.Action{
	"fetch": auth.ActionRead, "insert": auth.ActionWrite, "update": auth.ActionWrite, "delete": auth.ActionDelete,
}

// allowTable checks the table right for op (see auth.AllowsTable).
func (s *Server) allowTable(c *gin.Context, p auth.Principal, op string, table gateway.TableRef) bool {
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
		info.Table = table.String() // for the operation log and statistics
	}
	return s.authorizeTable(c, p, table, tableAction[op])
}

// decoded is the shared front of a tenant route with a JSON body: begin
// (resolve and authenticate before the body is read), read the body within
// the limit, decode it. On failure the envelope is written and ok is false.
func decoded[T any](s *Server, c *gin.Context, op string, decode func(body []byte) (T, error)) (res Resolution, p auth.Principal, req T, ok bool) {
	if res, p, ok = s.begin(c, op); !ok {
		return res, p, req, false
	}
	body, err := s.readBody(c)
	if err == nil {
		req, err = decode(body)
	}
	if err != nil {
		writeError(c, s.log, op, err)
		return res, p, req, false
	}
	return res, p, req, true
}
