package api

import (
	"context"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
)

// clientResolver is what choosing a request's database needs beyond a
// name lookup (spec §1.1). *registry.Registry implements it.
type clientResolver interface {
	// Direct returns a pool for a direct-URI header value.
	Direct(ctx context.Context, raw string) (*postgres.DB, registry.DirectURI, error)
	// LookupHost routes a wildcard Host; client "" means not a wildcard host.
	LookupHost(host string) (db *postgres.DB, client string, err error)
}

// Resolution is the database a request runs on and how it was chosen.
type Resolution struct {
	DB *postgres.DB
	// Client is the registry client name; "" for a direct URI.
	Client string
	// Scope identifies the database for caches: the client name, or for a
	// direct URI an opaque "direct:<hmac>" of the whole URI (credentials
	// included), so two databases or two callers never share an entry.
	Scope string
	// Direct is set when a direct-URI header chose the database.
	Direct bool
	// Keyless is set for a direct URI carrying both user and password: the
	// API-key requirement is waived for the request (spec §1.1).
	Keyless bool
}

// Direct-URI headers, in the order they are read (spec §1.1).
var directHeaders = [...]string{"X-Pg-Uri", "X-Athena-Jdbc-Url", "X-Jdbc-Url"}

// resolutionKey caches the Resolution on the gin context, so middleware
// (authentication) and the handler resolve once.
const resolutionKey = "athena.resolution"

// resolveClient chooses the request's database, first match wins: a
// direct-URI header (only when allowDirect: gateway CRUD/query routes),
// X-Athena-Client, then the wildcard Host. Nothing → 400
// missing_client_header. It records the client in the request's
// gateway.RequestInfo.
func (s *Server) resolveClient(c *gin.Context, allowDirect bool) (Resolution, error) {
	if v, ok := c.Get(resolutionKey); ok {
		if res, ok := v.(Resolution); ok {
			return res, nil
		}
	}
	res, err := s.resolve(c, allowDirect)
	if err != nil {
		return Resolution{}, err
	}
	c.Set(resolutionKey, res)
	if info := gateway.RequestInfoFrom(c.Request.Context()); info != nil && res.Client != "" {
		info.Client = res.Client
	}
	return res, nil
}

func (s *Server) resolve(c *gin.Context, allowDirect bool) (Resolution, error) {
	if allowDirect {
		for _, h := range directHeaders {
			if v := strings.TrimSpace(c.GetHeader(h)); v != "" {
				db, d, err := s.deps.Clients.Direct(c.Request.Context(), v)
				return Resolution{DB: db, Direct: true, Keyless: d.Keyless, Scope: d.ID}, err
			}
		}
	}
	if name := strings.TrimSpace(c.GetHeader("X-Athena-Client")); name != "" {
		db, err := s.deps.Clients.Lookup(name)
		return Resolution{DB: db, Client: name, Scope: name}, err
	}
	if db, client, err := s.deps.Clients.LookupHost(c.Request.Host); err != nil || client != "" {
		return Resolution{DB: db, Client: client, Scope: client}, err
	}
	_, err := s.deps.Clients.Lookup("") // missing_client_header, worded in one place
	return Resolution{}, err
}

// directAllowed reports whether the matched route accepts direct-URI
// headers: the gateway CRUD and query routes (spec §1.1).
func directAllowed(c *gin.Context) bool {
	p := canonicalRoute(c.FullPath())
	return strings.HasPrefix(p, "/gateway/") || strings.HasPrefix(p, "/query/")
}

// stripNullsHeader reads X-Strip-Nulls; nil when absent or unparsable.
func stripNullsHeader(c *gin.Context) *bool {
	v := strings.TrimSpace(c.GetHeader("X-Strip-Nulls"))
	if v == "" {
		return nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil
	}
	return &b
}

// headerStripNulls sets *dst from X-Strip-Nulls when the body does not send
// strip_nulls itself (the body wins over the header, spec §1.3).
func headerStripNulls(c *gin.Context, body []byte, dst *bool) {
	if h := stripNullsHeader(c); h != nil && !bodyHasKey(body, "strip_nulls") {
		*dst = *h
	}
}
