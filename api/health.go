package api

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Release identity (spec §2). The SDK's system.compatibility()
// (xylex-group/athena-js src/compatibility/report.ts) reads the major of
// release.version from GET /health, or GET / when /health fails: below 4
// it reports the server incompatible, above 5 best-effort, and a major-5
// release without a codename earns an info warning. So release.version is
// the wire protocol generation this server speaks, not the build (which
// stays in the top-level version).
const (
	protocolVersion = "5.0.0"
	releaseCodename = "glaukopis"
)

// release is the identity object of / and /health.
type release struct {
	Version  string `json:"version"`
	Codename string `json:"codename"`
	Channel  string `json:"channel"`
}

// release names this build's channel from its version: a development build
// ("0.1.0-dev", or none) is "development", a pre-release says which kind,
// anything else is "stable" (the SDK's channel words).
func (s *Server) release() release {
	v := strings.ToLower(s.opts.Version)
	channel := "stable"
	switch {
	case v == "" || strings.Contains(v, "dev"):
		channel = "development"
	case strings.Contains(v, "nightly"):
		channel = "nightly"
	case strings.Contains(v, "alpha"):
		channel = "alpha"
	case strings.Contains(v, "beta"):
		channel = "beta"
	case strings.Contains(v, "-rc"):
		channel = "rc"
	}
	return release{Version: protocolVersion, Codename: releaseCodename, Channel: channel}
}

// root serves GET /: the service banner and the route list.
func (s *Server) root(c *gin.Context) error {
	writeJSON(c, 200, map[string]any{
		"message":    "athena is online",
		"version":    s.opts.Version,
		"release":    s.release(),
		"athena_api": "online",
		"routes":     s.routes,
	})
	return nil
}

// ping serves GET /ping.
func (s *Server) ping(c *gin.Context) error {
	c.String(200, "pong")
	return nil
}

// check is one dependency's state in /health.
type check struct {
	Status    string  `json:"status"` // ok | down
	Required  bool    `json:"required"`
	LatencyMS float64 `json:"latency_ms"`
	Error     string  `json:"error,omitempty"`
}

// health serves GET /health: each configured dependency and, for the
// admin, each client database is checked in parallel with a short deadline,
// so a dead one shows as down instead of making the health check hang.
// Tenant databases are not required: one dead client must not take the
// gateway out of a load balancer. The answer is 503 only when a required
// dependency is down.
//
// Without the admin key the answer names no tenant and opens no pool
// (spec §2): /health is public, and pinging every client would tell anyone
// which tenants exist and let them make the gateway connect to every
// database, opening pools that are lazy on purpose.
func (s *Server) health(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	var names []string
	if s.healthAdmin(c) {
		names = s.deps.Clients.Names()
	}
	checks := make(map[string]check, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ck := check{Status: "ok"}
			start := time.Now()
			db, err := s.deps.Clients.Lookup(name)
			if err == nil {
				err = db.Pool().Ping(ctx)
			}
			ck.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
			if err != nil {
				ck.Status = "down"
				ck.Error = "database unreachable"
			}
			mu.Lock()
			checks["client:"+name] = ck
			mu.Unlock()
		}()
	}
	for _, hc := range s.opts.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ck := check{Status: "ok", Required: hc.Required}
			start := time.Now()
			if err := hc.Check(ctx); err != nil {
				ck.Status = "down"
				ck.Error = "unreachable or unhealthy"
				s.log.WarnContext(ctx, "health check failed", "check", hc.Name, "err", err)
			}
			ck.LatencyMS = float64(time.Since(start).Microseconds()) / 1000
			mu.Lock()
			checks[hc.Name] = ck
			mu.Unlock()
		}()
	}
	wg.Wait()
	status, code := "ok", 200
	for _, ck := range checks {
		// An optional dependency that is down shows in its check only:
		// SDKs read status "ok" as "serving", which is still true.
		if ck.Required && ck.Status != "ok" {
			status, code = "unavailable", 503
		}
	}
	writeJSON(c, code, map[string]any{
		"status":  status,
		"message": "athena is online",
		"version": s.opts.Version,
		"release": s.release(),
		"checks":  checks,
	})
	return nil
}

// healthAdmin reports whether a /health request carries the admin key. Any
// other header (none, a tenant key, a wrong admin key) gets the public
// answer rather than an error: load balancers probe without keys.
func (s *Server) healthAdmin(c *gin.Context) bool {
	if len(presentedAdminKeys(c)) == 0 {
		return false
	}
	return s.checkAdmin(c) == nil
}
