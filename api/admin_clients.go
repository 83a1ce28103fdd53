package api

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/registry"
)

// ClientAdmin manages the client registry (spec §8): /admin/clients* and
// /admin/pools. *registry.Registry implements it.
type ClientAdmin interface {
	ListClients(ctx context.Context) ([]registry.ClientView, error)
	CreateClient(ctx context.Context, in registry.ClientInput) (registry.ClientView, error)
	PatchClient(ctx context.Context, name string, p gateway.ClientPatch) (registry.ClientView, error)
	DeleteClient(ctx context.Context, name string) error
	FreezeClient(ctx context.Context, name string, frozen bool) (registry.ClientView, error)
	// Stats reports every open pool.
	Stats() []registry.PoolStat
}

// clientNames serves GET /clients and GET /schema/clients.
func (s *Server) clientNames(c *gin.Context) error {
	writeJSON(c, 200, map[string]any{"clients": s.deps.Clients.Names()})
	return nil
}

// adminListClients serves GET /admin/clients: the merged registry with
// source, flags and failure counts; URIs redacted.
func (s *Server) adminListClients(c *gin.Context) error {
	views, err := s.deps.ClientAdmin.ListClients(c.Request.Context())
	if err != nil {
		return err
	}
	newSuccess("Listed clients").value("data", views).send(c, 200)
	return nil
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

// adminCreateClient serves POST /admin/clients (201; 409 on a duplicate).
func (s *Server) adminCreateClient(c *gin.Context) error {
	var b clientBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	in := registry.ClientInput{Name: b.Name, Active: b.Active, Frozen: b.Frozen, Metadata: nullToNil(b.Metadata)}
	if b.URI != nil {
		in.URI = *b.URI
	}
	if b.URIEnvVar != nil {
		in.URIEnvVar = *b.URIEnvVar
	}
	v, err := s.deps.ClientAdmin.CreateClient(c.Request.Context(), in)
	if err != nil {
		return err
	}
	s.audit(c, "client.create", "client:"+v.Name, nil, v)
	newSuccess("Client created").value("data", v).send(c, 201)
	return nil
}

// adminPatchClient serves PATCH /admin/clients/:name.
func (s *Server) adminPatchClient(c *gin.Context) error {
	var b clientBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	if b.Name != "" && b.Name != c.Param("name") {
		return gateway.Errorf(gateway.CodeInvalidClient, "a client cannot be renamed; delete it and create the new name")
	}
	ch := gateway.ClientPatch{URI: b.URI, URIEnvVar: b.URIEnvVar, Active: b.Active, Frozen: b.Frozen, Metadata: nullToNil(b.Metadata)}
	before, err := s.clientView(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	v, err := s.deps.ClientAdmin.PatchClient(c.Request.Context(), c.Param("name"), ch)
	if err != nil {
		return err
	}
	s.audit(c, "client.update", "client:"+v.Name, before, v)
	newSuccess("Client updated").value("data", v).send(c, 200)
	return nil
}

// adminDeleteClient serves DELETE /admin/clients/:name (soft delete; a
// client defined in the config file is 409).
func (s *Server) adminDeleteClient(c *gin.Context) error {
	name := c.Param("name")
	before, err := s.clientView(c.Request.Context(), name)
	if err != nil {
		return err
	}
	if err := s.deps.ClientAdmin.DeleteClient(c.Request.Context(), name); err != nil {
		return err
	}
	s.audit(c, "client.delete", "client:"+name, before, nil)
	newSuccess("Client deleted").value("data", map[string]any{"client_name": name, "deleted": true}).send(c, 200)
	return nil
}

// adminFreezeClient serves PUT /admin/clients/:name/freeze with an
// optional {"frozen": bool} (default true). A frozen client answers 503
// client_frozen until thawed.
func (s *Server) adminFreezeClient(c *gin.Context) error {
	var b struct {
		Frozen *bool `json:"frozen"`
	}
	if err := decodeAdminBody(c, &b, true); err != nil {
		return err
	}
	frozen := b.Frozen == nil || *b.Frozen
	before, err := s.clientView(c.Request.Context(), c.Param("name"))
	if err != nil {
		return err
	}
	v, err := s.deps.ClientAdmin.FreezeClient(c.Request.Context(), c.Param("name"), frozen)
	if err != nil {
		return err
	}
	msg, action := "Client frozen", "client.freeze"
	if !frozen {
		msg, action = "Client unfrozen", "client.unfreeze"
	}
	s.audit(c, action, "client:"+v.Name, before, v)
	newSuccess(msg).value("data", v).send(c, 200)
	return nil
}

// clientView returns the registry's view of the named client, nil when
// there is none: the audit's before.
func (s *Server) clientView(ctx context.Context, name string) (*registry.ClientView, error) {
	views, err := s.deps.ClientAdmin.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	for i := range views {
		if views[i].Name == name {
			return &views[i], nil
		}
	}
	return nil, nil
}

// adminPools serves GET /admin/pools: per-pool size, idle, in use, acquire
// counts and waits.
func (s *Server) adminPools(c *gin.Context) error {
	newSuccess("Listed pools").value("data", s.deps.ClientAdmin.Stats()).send(c, 200)
	return nil
}

// nullToNil treats "metadata": null as absent.
func nullToNil(m json.RawMessage) json.RawMessage {
	if bytes.Equal(bytes.TrimSpace(m), []byte("null")) {
		return nil
	}
	return m
}
