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
// With no Authenticator newServer picks openAuth: the gateway routes run
// anonymously and the admin API is closed.

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

// keyCheck is how api checks keys and rights, decided once by newServer:
// keyAuth when a key store is configured (Deps.Auth), openAuth when not. So
// no handler or step asks whether an authenticator exists.
type keyCheck interface {
	// authenticate returns the request's Principal (see Server.authenticate)
	// and leaves it on c under principalKey.
	authenticate(c *gin.Context, client string) (auth.Principal, error)
	// checkAdmin is Server.checkAdmin.
	checkAdmin(c *gin.Context) error
	authorize(p auth.Principal, right string) error
	authorizeTable(p auth.Principal, schema, table string, action auth.Action) error
	// invalidate drops the cached view of a key ("" for all).
	invalidate(publicID string)
}

// newKeyCheck chooses the mode: a nil Authenticator means no key store.
func newKeyCheck(a *auth.Authenticator) keyCheck {
	if a == nil {
		return openAuth{}
	}
	return keyAuth{a: a}
}

// openAuth is the gateway without a key store: every tenant request runs
// anonymously with every right, and the admin API is closed (401 without a
// key, 403 with one).
type openAuth struct{}

func (openAuth) authenticate(c *gin.Context, _ string) (auth.Principal, error) {
	// A constant literal: storing it in the context allocates nothing.
	c.Set(principalKey, auth.Principal{Anonymous: true})
	return auth.Principal{Anonymous: true}, nil
}

func (openAuth) checkAdmin(c *gin.Context) error {
	if len(presentedAdminKeys(c)) == 0 {
		return errAdminKeyRequired()
	}
	return errAdminDisabled()
}

func (openAuth) authorize(auth.Principal, string) error { return nil }

func (openAuth) authorizeTable(auth.Principal, string, string, auth.Action) error { return nil }

func (openAuth) invalidate(string) {}

// keyAuth checks keys and rights with the Authenticator.
type keyAuth struct{ a *auth.Authenticator }

func (k keyAuth) authenticate(c *gin.Context, client string) (auth.Principal, error) {
	p, err := k.principal(c, client)
	if err != nil {
		return auth.Principal{}, err
	}
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
		info.KeyID = p.KeyID
	}
	c.Set(principalKey, p)
	return p, nil
}

// principal checks the admin header or else the presented key.
func (k keyAuth) principal(c *gin.Context, client string) (auth.Principal, error) {
	a := k.a
	if admin := strings.TrimSpace(c.GetHeader(headerAdminKey)); admin != "" {
		// An explicit admin header is never a tenant key: it is the admin key
		// or a mistake.
		if a.IsAdmin(admin) {
			return auth.Principal{KeyID: auth.AdminKeyID, Admin: true, Enforced: true}, nil
		}
		return auth.Principal{}, gateway.Errorf(gateway.CodeUnauthorized, "invalid admin key")
	}
	return a.Authenticate(c.Request.Context(), presentedKey(a, c.Request), client)
}

func (k keyAuth) checkAdmin(c *gin.Context) error {
	a := k.a
	presented := presentedAdminKeys(c)
	if len(presented) == 0 {
		return errAdminKeyRequired()
	}
	if !a.AdminConfigured() {
		return errAdminDisabled()
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

func (k keyAuth) authorize(p auth.Principal, right string) error { return k.a.Authorize(p, right) }

func (k keyAuth) authorizeTable(p auth.Principal, schema, table string, action auth.Action) error {
	return k.a.AuthorizeTable(p, schema, table, action)
}

func (k keyAuth) invalidate(publicID string) { k.a.Invalidate(publicID) }

// The admin check's refusals shared by both modes, built per call so that
// no envelope shares an error value.
func errAdminKeyRequired() error {
	return inStep("admin", gateway.Errorf(gateway.CodeUnauthorized, "admin key required"))
}

func errAdminDisabled() error {
	return inStep("admin", gateway.Errorf(gateway.CodeForbidden, "admin API disabled: no admin key is configured (ATHENA_ADMIN_KEY)"))
}

// authenticate decides whether the request may run against client (the
// resolved client name; "" for none). Call it before reading the body, so
// an unauthenticated caller gets 401 even with bad JSON. It fails with 401,
// 403 or 503, and records the key's public id in the request's
// gateway.RequestInfo. Without a key store (openAuth) the request is
// anonymous.
func (s *Server) authenticate(c *gin.Context, client string) (auth.Principal, error) {
	if run := deferredRunFrom(c.Request.Context()); run != nil {
		// A worker running a deferred request: it was authenticated and
		// admitted when accepted, and runs as that principal.
		c.Set(principalKey, run.principal)
		return run.principal, nil
	}
	p, err := s.keys.authenticate(c, client)
	if err != nil {
		return auth.Principal{}, inStep("auth", err)
	}
	return p, nil
}

// authorize checks a fixed right (auth.RightQuery, auth.RightRPC, …): 403
// naming the right when it is missing.
func (s *Server) authorize(p auth.Principal, right string) error {
	return inStep("auth", s.keys.authorize(p, right))
}

// authorizeTable checks the right for action on table (see auth.AllowsTable
// for how schema-qualified names fall back to gateway.<action>).
func (s *Server) authorizeTable(p auth.Principal, table gateway.TableRef, action auth.Action) error {
	return inStep("auth", s.keys.authorizeTable(p, table.Schema, table.Name, action))
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
// → 403; anything else → 401. With no admin key configured, or no key
// store at all (openAuth), every request is refused (401 without a key,
// 403 with one): the admin API is never open.
func (s *Server) checkAdmin(c *gin.Context) error { return s.keys.checkAdmin(c) }

// presentedAdminKeys lists every key the request carries, in the order the
// admin check tries them.
func presentedAdminKeys(c *gin.Context) []string {
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
	return presented
}
