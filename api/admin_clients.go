package api

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
)

// clientAdmin manages the client registry and wildcard routes (spec §8).
// *registry.Registry implements it.
type clientAdmin interface {
	ListClients(ctx context.Context) ([]registry.ClientView, error)
	CreateClient(ctx context.Context, in registry.ClientInput) (registry.ClientView, error)
	PatchClient(ctx context.Context, name string, p gateway.ClientPatch) (registry.ClientView, error)
	DeleteClient(ctx context.Context, name string) error
	FreezeClient(ctx context.Context, name string, frozen bool) (registry.ClientView, error)
	ListRoutes(ctx context.Context) ([]postgres.Route, error)
	PutRoute(ctx context.Context, r postgres.Route) (postgres.Route, error)
	DeleteRoute(ctx context.Context, key string) error
}

// clientNames serves GET /clients and GET /schema/clients.
func (s *Server) clientNames(c *gin.Context) {
	writeJSON(c, 200, map[string]any{"clients": s.clients.Names()})
}

// adminListClients serves GET /admin/clients: the merged registry with
// source, flags and failure counts; URIs redacted.
func (s *Server) adminListClients(c *gin.Context) {
	const op = "admin_clients"
	views, err := s.clients.ListClients(c.Request.Context())
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Listed clients").value("data", views).send(c, 200)
}

// clientBody is the JSON of POST and PATCH /admin/clients. PATCH changes
// only the keys present.
type clientBody struct {
	Name      string          `json:"client_name"`
	URI       *string         `json:"pg_uri"`
	URIEnvVar *string         `json:"pg_uri_env_var"`
	Active    *bool           `json:"is_active"`
	Frozen    *bool           `json:"is_frozen"`
	Metadata  json.RawMessage `json:"metadata"`
}

// decodeAdminBody decodes a JSON object, refusing unknown keys (a typo in
// an admin call must not silently do nothing).
func (s *Server) decodeAdminBody(c *gin.Context, v any) error {
	body, err := s.readBody(c)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return gateway.Errorf(gateway.CodeInvalidJSON, "invalid JSON body: %v", err)
	}
	return nil
}

// adminCreateClient serves POST /admin/clients (201; 409 on a duplicate).
func (s *Server) adminCreateClient(c *gin.Context) {
	const op = "admin_clients"
	var b clientBody
	if err := s.decodeAdminBody(c, &b); err != nil {
		writeError(c, s.log, op, err)
		return
	}
	in := registry.ClientInput{Name: b.Name, Active: b.Active, Frozen: b.Frozen, Metadata: nullToNil(b.Metadata)}
	if b.URI != nil {
		in.URI = *b.URI
	}
	if b.URIEnvVar != nil {
		in.URIEnvVar = *b.URIEnvVar
	}
	v, err := s.clients.CreateClient(c.Request.Context(), in)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Client created").value("data", v).send(c, 201)
}

// adminPatchClient serves PATCH /admin/clients/:name.
func (s *Server) adminPatchClient(c *gin.Context) {
	const op = "admin_clients"
	var b clientBody
	if err := s.decodeAdminBody(c, &b); err != nil {
		writeError(c, s.log, op, err)
		return
	}
	if b.Name != "" && b.Name != c.Param("name") {
		writeError(c, s.log, op, gateway.Errorf(gateway.CodeInvalidClient, "a client cannot be renamed; delete it and create the new name"))
		return
	}
	ch := gateway.ClientPatch{URI: b.URI, URIEnvVar: b.URIEnvVar, Active: b.Active, Frozen: b.Frozen, Metadata: nullToNil(b.Metadata)}
	v, err := s.clients.PatchClient(c.Request.Context(), c.Param("name"), ch)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Client updated").value("data", v).send(c, 200)
}

// adminDeleteClient serves DELETE /admin/clients/:name (soft delete; a
// client defined in the config file is 409).
func (s *Server) adminDeleteClient(c *gin.Context) {
	const op = "admin_clients"
	name := c.Param("name")
	if err := s.clients.DeleteClient(c.Request.Context(), name); err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Client deleted").value("data", map[string]any{"client_name": name, "deleted": true}).send(c, 200)
}

// adminFreezeClient serves PUT /admin/clients/:name/freeze with an
// optional {"frozen": bool} (default true). A frozen client answers 503
// client_frozen until thawed.
func (s *Server) adminFreezeClient(c *gin.Context) {
	const op = "admin_clients"
	body, err := s.readBody(c)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	var b struct {
		Frozen *bool `json:"frozen"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&b); err != nil {
			writeError(c, s.log, op, gateway.Errorf(gateway.CodeInvalidJSON, "invalid JSON body: %v", err))
			return
		}
	}
	frozen := b.Frozen == nil || *b.Frozen
	v, err := s.clients.FreezeClient(c.Request.Context(), c.Param("name"), frozen)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	msg := "Client frozen"
	if !frozen {
		msg = "Client unfrozen"
	}
	newSuccess(msg).value("data", v).send(c, 200)
}

// adminPools serves GET /admin/pools: per-pool size, idle, in use, acquire
// counts and waits.
func (s *Server) adminPools(c *gin.Context) {
	newSuccess("Listed pools").value("data", s.clients.Stats()).send(c, 200)
}

// adminListRoutes serves GET /admin/routes (wildcard host routes).
func (s *Server) adminListRoutes(c *gin.Context) {
	const op = "admin_routes"
	routes, err := s.clients.ListRoutes(c.Request.Context())
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Listed routes").value("data", routes).send(c, 200)
}

// adminPutRoute serves PUT /admin/routes/:key with
// {"client_name", "is_active" (default true), "description"}.
func (s *Server) adminPutRoute(c *gin.Context) {
	const op = "admin_routes"
	var b struct {
		Client      string `json:"client_name"`
		Active      *bool  `json:"is_active"`
		Description string `json:"description"`
	}
	if err := s.decodeAdminBody(c, &b); err != nil {
		writeError(c, s.log, op, err)
		return
	}
	rt := postgres.Route{Key: c.Param("key"), Client: b.Client, Active: b.Active == nil || *b.Active, Description: b.Description}
	out, err := s.clients.PutRoute(c.Request.Context(), rt)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Route saved").value("data", out).send(c, 200)
}

// adminDeleteRoute serves DELETE /admin/routes/:key.
func (s *Server) adminDeleteRoute(c *gin.Context) {
	const op = "admin_routes"
	key := c.Param("key")
	if err := s.clients.DeleteRoute(c.Request.Context(), key); err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Route deleted").value("data", map[string]any{"route_key": key, "deleted": true}).send(c, 200)
}

// nullToNil treats "metadata": null as absent.
func nullToNil(m json.RawMessage) json.RawMessage {
	if bytes.Equal(bytes.TrimSpace(m), []byte("null")) {
		return nil
	}
	return m
}
