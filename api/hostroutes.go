package api

import (
	"context"

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
	out, err := s.deps.HostRoutes.PutRoute(c.Request.Context(), rt)
	if err != nil {
		return err
	}
	newSuccess("Route saved").value("data", out).send(c, 200)
	return nil
}

// adminDeleteHostRoute serves DELETE /admin/routes/:key.
func (s *Server) adminDeleteHostRoute(c *gin.Context) error {
	key := c.Param("key")
	if err := s.deps.HostRoutes.DeleteRoute(c.Request.Context(), key); err != nil {
		return err
	}
	newSuccess("Route deleted").value("data", map[string]any{"route_key": key, "deleted": true}).send(c, 200)
	return nil
}
