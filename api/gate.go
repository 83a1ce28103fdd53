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
//  3. the database is resolved (registry lookups are in memory);
//  4. admission decides whether the request runs now (admission.go; a
//     refusal is the answer: 429, or a deferred write's).
func (s *Server) begin(c *gin.Context) (Resolution, auth.Principal, error) {
	res, p, err := s.identify(c)
	if err != nil || s.admission == nil {
		return res, p, err
	}
	return res, p, s.admit(c, res, p)
}

// identify is begin's steps 1 to 3.
func (s *Server) identify(c *gin.Context) (Resolution, auth.Principal, error) {
	if directAllowed(c) {
		if raw := directHeader(c); raw != "" {
			d, err := registry.ParseDirectURI(raw)
			if err != nil {
				return Resolution{}, auth.Principal{}, err
			}
			var p auth.Principal
			if d.Keyless {
				p = auth.Principal{Anonymous: true}
				c.Set(principalKey, p)
			} else if p, err = s.authenticate(c, ""); err != nil {
				return Resolution{}, auth.Principal{}, err
			}
			res, err := s.resolveClient(c, true)
			if err != nil {
				return Resolution{}, auth.Principal{}, err
			}
			return res, p, nil
		}
	}
	name := strings.TrimSpace(c.GetHeader("X-Athena-Client"))
	if name == "" {
		// Wildcard host (or nothing): the name comes from the in-memory
		// route table, so resolve first.
		res, err := s.resolveClient(c, false)
		if err != nil {
			return Resolution{}, auth.Principal{}, err
		}
		p, err := s.authenticate(c, res.Client)
		if err != nil {
			return Resolution{}, auth.Principal{}, err
		}
		return res, p, nil
	}
	p, err := s.authenticate(c, name)
	if err != nil {
		return Resolution{}, auth.Principal{}, err
	}
	res, err := s.resolveClient(c, false)
	if err != nil {
		return Resolution{}, auth.Principal{}, err
	}
	return res, p, nil
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
func (s *Server) allowTable(c *gin.Context, p auth.Principal, op string, table gateway.TableRef) error {
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
		info.Table = table.String() // for the operation log and statistics
	}
	return s.authorizeTable(p, table, tableAction[op])
}

// decoded is the shared front of a tenant route with a JSON body: begin
// (resolve and authenticate before the body is read), read the body within
// the limit, decode it.
func decoded[T any](s *Server, c *gin.Context, decode func(body []byte) (T, error)) (res Resolution, p auth.Principal, req T, err error) {
	if res, p, err = s.begin(c); err != nil {
		return res, p, req, err
	}
	body, err := s.readBody(c)
	if err != nil {
		return res, p, req, err
	}
	if req, err = decode(body); err != nil {
		return res, p, req, err
	}
	// A valid write whose caller sent Prefer: respond-async is deferred
	// (deferred.go); errAnswered then tells the route its 202 is written.
	return res, p, req, s.deferIfAsked(c, res, p, body)
}
