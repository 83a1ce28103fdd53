package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
)

// The HTTP face of package auth: reading key headers, calling the
// Authenticator (Deps.Auth) and returning its refusals, which the route's
// adapter writes under the step "auth" (or "admin" for the admin check).
// With no Authenticator the gateway routes run anonymously and the admin
// API is closed.

// principalKey is where authenticate leaves the Principal on the gin
// context, for handlers that authorize more than once (transactions).
const principalKey = "athena.principal"

// Key headers, in the order they are read (spec §1.2). Old SDKs send
// apikey and x-api-key, new ones X-Athena-Key.
const (
	headerAthenaKey = "X-Athena-Key"
	headerAPIKey    = "apikey"
	headerXAPIKey   = "X-Api-Key"
	headerAdminKey  = "X-Athena-Admin-Key"
)

// presentedKey returns the key a request carries: the first non-empty of
// X-Athena-Key, apikey, x-api-key, then Authorization: Bearer. The bearer
// token counts only when it looks like an Athena key (ath_ prefix) or is the
// admin key: auth adapters forward end-user JWTs in Authorization, and those
// must not be mistaken for a bad API key.
func presentedKey(a *auth.Authenticator, r *http.Request) string {
	for _, h := range [...]string{headerAthenaKey, headerAPIKey, headerXAPIKey} {
		if v := strings.TrimSpace(r.Header.Get(h)); v != "" {
			return v
		}
	}
	if tok := bearerToken(r); tok != "" && (strings.HasPrefix(tok, auth.KeyPrefix) || a.IsAdmin(tok)) {
		return tok
	}
	return ""
}

// bearerToken returns the token of "Authorization: Bearer <token>" (the
// scheme is case-insensitive), or "".
func bearerToken(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("Authorization"))
	if len(v) < 7 || !strings.EqualFold(v[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(v[7:])
}

// authenticate decides whether the request may run against client (the
// resolved client name; "" for none). Call it before reading the body, so
// an unauthenticated caller gets 401 even with bad JSON. It fails with 401,
// 403 or 503, and records the key's public id in the request's
// gateway.RequestInfo.
func (s *Server) authenticate(c *gin.Context, client string) (auth.Principal, error) {
	a := s.deps.Auth
	if a == nil {
		p := auth.Principal{Anonymous: true}
		c.Set(principalKey, p)
		return p, nil
	}
	var p auth.Principal
	var err error
	if admin := strings.TrimSpace(c.GetHeader(headerAdminKey)); admin != "" {
		// An explicit admin header is never a tenant key: it is the admin key
		// or a mistake.
		if a.IsAdmin(admin) {
			p = auth.Principal{KeyID: auth.AdminKeyID, Admin: true, Enforced: true}
		} else {
			err = gateway.Errorf(gateway.CodeUnauthorized, "invalid admin key")
		}
	} else {
		p, err = a.Authenticate(c.Request.Context(), presentedKey(a, c.Request), client)
	}
	if err != nil {
		return auth.Principal{}, inStep("auth", err)
	}
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
		info.KeyID = p.KeyID
	}
	c.Set(principalKey, p)
	return p, nil
}

// authorize checks a fixed right (auth.RightQuery, auth.RightRPC, …): 403
// naming the right when it is missing.
func (s *Server) authorize(p auth.Principal, right string) error {
	if s.deps.Auth == nil {
		return nil
	}
	return inStep("auth", s.deps.Auth.Authorize(p, right))
}

// authorizeTable checks the right for action on table (see auth.AllowsTable
// for how schema-qualified names fall back to gateway.<action>).
func (s *Server) authorizeTable(p auth.Principal, table gateway.TableRef, action auth.Action) error {
	if s.deps.Auth == nil {
		return nil
	}
	return inStep("auth", s.deps.Auth.AuthorizeTable(p, table.Schema, table.Name, action))
}

// principalFrom returns the Principal authenticate stored, if any.
func principalFrom(c *gin.Context) (auth.Principal, bool) {
	v, ok := c.Get(principalKey)
	if !ok {
		return auth.Principal{}, false
	}
	p, ok := v.(auth.Principal)
	return p, ok
}

// adminOnly guards h with the admin check (/admin/*, /clients and
// /schema/clients).
func (s *Server) adminOnly(h handlerFunc) handlerFunc {
	return func(c *gin.Context) error {
		if err := s.checkAdmin(c); err != nil {
			return err
		}
		return h(c)
	}
}

// checkAdmin fails unless the request carries the admin key
// (X-Athena-Admin-Key or any key header): no key → 401; a valid tenant key
// → 403; anything else → 401. With no admin key configured every request
// is refused (401 without a key, 403 with one): the admin API is never
// open.
func (s *Server) checkAdmin(c *gin.Context) error {
	a := s.deps.Auth
	var presented []string
	if v := strings.TrimSpace(c.GetHeader(headerAdminKey)); v != "" {
		presented = append(presented, v)
	}
	for _, h := range [...]string{headerAthenaKey, headerAPIKey, headerXAPIKey} {
		if v := strings.TrimSpace(c.GetHeader(h)); v != "" {
			presented = append(presented, v)
		}
	}
	if tok := bearerToken(c.Request); tok != "" {
		presented = append(presented, tok)
	}
	if len(presented) == 0 {
		return inStep("admin", gateway.Errorf(gateway.CodeUnauthorized, "admin key required"))
	}
	if a == nil || !a.AdminConfigured() {
		return inStep("admin", gateway.Errorf(gateway.CodeForbidden, "admin API disabled: no admin key is configured (ATHENA_ADMIN_KEY)"))
	}
	for _, v := range presented {
		if a.IsAdmin(v) {
			if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
				info.KeyID = auth.AdminKeyID
			}
			return nil
		}
	}
	for _, v := range presented {
		if !strings.HasPrefix(v, auth.KeyPrefix) {
			continue
		}
		if _, err := a.Verify(c.Request.Context(), v); err == nil {
			return inStep("admin", gateway.Errorf(gateway.CodeForbidden, "admin key required: API keys cannot use admin routes"))
		}
	}
	return inStep("admin", gateway.Errorf(gateway.CodeUnauthorized, "invalid admin key"))
}
