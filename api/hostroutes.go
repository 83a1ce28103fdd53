package api

import (
	"context"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/postgres"
)

// HostRouteAdmin manages the wildcard host routes (/admin/routes*).
// *registry.Registry implements it.
type HostRouteAdmin interface {
	ListRoutes(ctx context.Context) ([]postgres.Route, error)
	PutRoute(ctx context.Context, r postgres.Route) (postgres.Route, error)
	DeleteRoute(ctx context.Context, key string) error
}

// adminListHostRoutes serves GET /admin/routes.
func (s *Server) adminListHostRoutes(c *gin.Context) error {
	routes, err := s.deps.HostRoutes.ListRoutes(c.Request.Context())
	if err != nil {
		return err
	}
	newSuccess("Listed routes").value("data", routes).send(c, 200)
	return nil
}

// adminPutHostRoute serves PUT /admin/routes/:key with
// {"client_name", "is_active" (default true), "description"}.
func (s *Server) adminPutHostRoute(c *gin.Context) error {
	var b struct {
		Client      string `json:"client_name"`
		Active      *bool  `json:"is_active"`
		Description string `json:"description"`
	}
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	rt := postgres.Route{Key: c.Param("key"), Client: b.Client, Active: b.Active == nil || *b.Active, Description: b.Description}
	before, err := s.hostRoute(c.Request.Context(), rt.Key)
	if err != nil {
		return err
	}
	out, err := s.deps.HostRoutes.PutRoute(c.Request.Context(), rt)
	if err != nil {
		return err
	}
	s.audit(c, "host_route.put", "host_route:"+out.Key, before, out)
	newSuccess("Route saved").value("data", out).send(c, 200)
	return nil
}

// adminDeleteHostRoute serves DELETE /admin/routes/:key.
func (s *Server) adminDeleteHostRoute(c *gin.Context) error {
	key := c.Param("key")
	before, err := s.hostRoute(c.Request.Context(), key)
	if err != nil {
		return err
	}
	if err := s.deps.HostRoutes.DeleteRoute(c.Request.Context(), key); err != nil {
		return err
	}
	target := key
	if before != nil {
		target = before.Key
	}
	s.audit(c, "host_route.delete", "host_route:"+target, before, nil)
	newSuccess("Route deleted").value("data", map[string]any{"route_key": key, "deleted": true}).send(c, 200)
	return nil
}

// hostRoute returns the route whose key is key (route keys are Host labels:
// case-insensitive), nil when there is none: the audit's before.
func (s *Server) hostRoute(ctx context.Context, key string) (*postgres.Route, error) {
	routes, err := s.deps.HostRoutes.ListRoutes(ctx)
	if err != nil {
		return nil, err
	}
	for i := range routes {
		if strings.EqualFold(routes[i].Key, key) {
			return &routes[i], nil
		}
	}
	return nil, nil
}
