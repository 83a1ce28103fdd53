package api

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// AuthDeps is what the HTTP layer needs for API keys (spec §1.2).
type AuthDeps struct {
	// Auth checks keys and rights. Nil means no key store is configured:
	// gateway routes run anonymously and every admin route is refused.
	Auth *auth.Authenticator
	// Keys serves the /admin/api-key* routes; nil answers them with 503.
	Keys *postgres.KeyStore
}

// keyAuth is the HTTP face of package auth: it reads key headers, calls the
// Authenticator and writes error envelopes. Server embeds it, so handlers
// call s.authenticate, s.authorize and s.requireAdmin directly. A nil
// *keyAuth behaves like empty AuthDeps.
type keyAuth struct {
	deps   AuthDeps
	logger *slog.Logger
}

func newKeyAuth(deps AuthDeps, log *slog.Logger) *keyAuth {
	return &keyAuth{deps: deps, logger: log}
}

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
func (k *keyAuth) presentedKey(r *http.Request) string {
	for _, h := range [...]string{headerAthenaKey, headerAPIKey, headerXAPIKey} {
		if v := strings.TrimSpace(r.Header.Get(h)); v != "" {
			return v
		}
	}
	if tok := bearerToken(r); tok != "" && (strings.HasPrefix(tok, auth.KeyPrefix) || k.authn().IsAdmin(tok)) {
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

// authn returns the Authenticator, or nil.
func (k *keyAuth) authn() *auth.Authenticator {
	if k == nil {
		return nil
	}
	return k.deps.Auth
}

func (k *keyAuth) log() *slog.Logger {
	if k == nil {
		return nil
	}
	return k.logger
}

// authenticate decides whether the request may run against client (the
// resolved client name; "" for none). Call it before reading the body, so
// an unauthenticated caller gets 401 even with bad JSON. On failure it has
// written the error envelope (401, 403 or 503) and returns false. It
// records the key's public id in the request's gateway.RequestInfo.
func (k *keyAuth) authenticate(c *gin.Context, client string) (auth.Principal, bool) {
	a := k.authn()
	if a == nil {
		p := auth.Principal{Anonymous: true}
		c.Set(principalKey, p)
		return p, true
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
		p, err = a.Authenticate(c.Request.Context(), k.presentedKey(c.Request), client)
	}
	if err != nil {
		writeError(c, k.log(), "auth", err)
		return auth.Principal{}, false
	}
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
		info.KeyID = p.KeyID
	}
	c.Set(principalKey, p)
	return p, true
}

// authorize checks a fixed right (auth.RightQuery, auth.RightRPC, …). On
// failure it has written 403 naming the right and returns false.
func (k *keyAuth) authorize(c *gin.Context, p auth.Principal, right string) bool {
	a := k.authn()
	if a == nil {
		return true
	}
	if err := a.Authorize(p, right); err != nil {
		writeError(c, k.log(), "auth", err)
		return false
	}
	return true
}

// authorizeTable checks the right for action on table (see auth.AllowsTable
// for how schema-qualified names fall back to gateway.<action>).
func (k *keyAuth) authorizeTable(c *gin.Context, p auth.Principal, table gateway.TableRef, action auth.Action) bool {
	a := k.authn()
	if a == nil {
		return true
	}
	if err := a.AuthorizeTable(p, table.Schema, table.Name, action); err != nil {
		writeError(c, k.log(), "auth", err)
		return false
	}
	return true
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

// requireAdmin is gin middleware guarding /admin/*, /clients and
// /schema/clients: only the admin key passes. No key → 401; a valid tenant
// key → 403; anything else → 401. With no admin key configured every
// request is refused (401 without a key, 403 with one): the admin API is
// never open.
func (k *keyAuth) requireAdmin(c *gin.Context) {
	if !k.checkAdmin(c) {
		return
	}
	c.Next()
}

// adminOnly wraps a handler with the admin check, for route tables that
// take one handler per route.
func (k *keyAuth) adminOnly(h gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if k.checkAdmin(c) {
			h(c)
		}
	}
}

// checkAdmin writes the refusal and returns false unless the request
// carries the admin key (X-Athena-Admin-Key or any key header).
func (k *keyAuth) checkAdmin(c *gin.Context) bool {
	const op = "admin"
	a := k.authn()
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
		writeError(c, k.log(), op, gateway.Errorf(gateway.CodeUnauthorized, "admin key required"))
		return false
	}
	if a == nil || !a.AdminConfigured() {
		writeError(c, k.log(), op, gateway.Errorf(gateway.CodeForbidden, "admin API disabled: no admin key is configured (ATHENA_ADMIN_KEY)"))
		return false
	}
	for _, v := range presented {
		if a.IsAdmin(v) {
			if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil {
				info.KeyID = auth.AdminKeyID
			}
			return true
		}
	}
	for _, v := range presented {
		if !strings.HasPrefix(v, auth.KeyPrefix) {
			continue
		}
		if _, err := a.Verify(c.Request.Context(), v); err == nil {
			writeError(c, k.log(), op, gateway.Errorf(gateway.CodeForbidden, "admin key required: API keys cannot use admin routes"))
			return false
		}
	}
	writeError(c, k.log(), op, gateway.Errorf(gateway.CodeUnauthorized, "invalid admin key"))
	return false
}
