package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/postgres"
)

// The catalogue of right definitions (spec §1.2): /admin/api-key-rights
// lists and keeps {name, description} as the SDK's CLI uses it ("rights
// list", "rights create"), and /admin/rights/catalog adds the rights the
// server itself understands. A definition documents a right; it grants
// nothing (grants are rights[] on a key, or /admin/api-key-grants).

// listRightDefinitions serves GET /admin/api-key-rights. A key filter
// (public_id, api_key_id) belongs to the grants now, and is refused rather
// than ignored.
func (s *Server) listRightDefinitions(c *gin.Context) error {
	if c.Query("public_id") != "" || c.Query("api_key_id") != "" {
		return invalidValue("/admin/api-key-rights lists right definitions; a key's rights are at /admin/api-key-grants?public_id=")
	}
	defs, err := s.deps.APIKeys.ListRightDefinitions(c.Request.Context())
	return sendList(c, "right definitions", defs, err)
}

// rightDefinitionBody is POST /admin/api-key-rights, as the SDK's
// createGatewayApiKeyRight sends it ({name, description?}), and PATCH
// /admin/api-key-rights/:id. PublicID, APIKeyID and Right are the grant
// body this route took before it became the catalogue: recognised only to
// point the caller to /admin/api-key-grants.
type rightDefinitionBody struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	PublicID    any     `json:"public_id"`
	APIKeyID    any     `json:"api_key_id"`
	Right       any     `json:"right"`
}

func (b rightDefinitionBody) check() error {
	if b.PublicID != nil || b.APIKeyID != nil || b.Right != nil {
		return invalidValue("/admin/api-key-rights keeps right definitions {name, description}; to grant a right to a key use POST /admin/api-key-grants {public_id, right} (or rights[] on PATCH /admin/api-keys/{id})")
	}
	return nil
}

// createRightDefinition serves POST /admin/api-key-rights {name,
// description?}: 201 with the definition (the SDK reads data.name).
func (s *Server) createRightDefinition(c *gin.Context) error {
	var b rightDefinitionBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	if b.Name == nil || strings.TrimSpace(*b.Name) == "" {
		return invalidValue("name is required (the right, e.g. gateway.query)")
	}
	desc := ""
	if b.Description != nil {
		desc = *b.Description
	}
	d, err := s.deps.APIKeys.CreateRightDefinition(c.Request.Context(), *b.Name, desc)
	if err != nil {
		return err
	}
	s.audit(c, "api_key_right.create", "api_key_right:"+d.Name, nil, d)
	newSuccess("Right definition created").value("data", d).send(c, http.StatusCreated)
	return nil
}

// patchRightDefinition serves PATCH /admin/api-key-rights/:id (the
// definition's id or name) {name?, description?}.
func (s *Server) patchRightDefinition(c *gin.Context) error {
	var b rightDefinitionBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	if err := b.check(); err != nil {
		return err
	}
	if b.Name == nil && b.Description == nil {
		return invalidValue("nothing to change: give name and/or description")
	}
	store := s.deps.APIKeys
	before, err := store.RightDefinition(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	d, err := store.UpdateRightDefinition(c.Request.Context(), c.Param("id"), postgres.RightPatch{Name: b.Name, Description: b.Description})
	if err != nil {
		return err
	}
	s.audit(c, "api_key_right.update", "api_key_right:"+before.Name, before, d)
	newSuccess("Right definition updated").value("data", d).send(c, 200)
	return nil
}

// deleteRightDefinition serves DELETE /admin/api-key-rights/:id (id or
// name). Keys keep the rights they were granted.
func (s *Server) deleteRightDefinition(c *gin.Context) error {
	d, err := s.deps.APIKeys.DeleteRightDefinition(c.Request.Context(), c.Param("id"))
	if err != nil {
		return err
	}
	s.audit(c, "api_key_right.delete", "api_key_right:"+d.Name, d, nil)
	newSuccess("Right definition deleted").value("data", d).send(c, 200)
	return nil
}

// rightsCatalog is GET /admin/rights/catalog in the shape the SDK's
// listGatewayRightsCatalog reads (RightsCatalogData in
// src/cli/gateway-admin.ts).
type rightsCatalog struct {
	NativeRights        []auth.NativeRight  `json:"nativeRights"`
	DynamicAPIKeyRights []dynamicRight      `json:"dynamicApiKeyRights"`
	Counts              rightsCatalogCounts `json:"counts"`
	APIKeyRightsStatus  string              `json:"apiKeyRightsStatus"`
	Sources             map[string]string   `json:"sources"`
}

type rightsCatalogCounts struct {
	Native              int `json:"native"`
	DynamicAPIKeyRights int `json:"dynamicApiKeyRights"`
	Total               int `json:"total"`
}

// dynamicRight is a right definition as the catalogue lists it.
type dynamicRight struct {
	Key         string  `json:"key"`
	Source      string  `json:"source"`
	ID          int64   `json:"id"`
	Description *string `json:"description"`
}

// listRightsCatalog serves GET /admin/rights/catalog: the rights the server
// understands plus the catalogue of definitions.
func (s *Server) listRightsCatalog(c *gin.Context) error {
	defs, err := s.deps.APIKeys.ListRightDefinitions(c.Request.Context())
	if err != nil {
		return err
	}
	native := auth.NativeRights()
	dynamic := make([]dynamicRight, len(defs))
	for i, d := range defs {
		dynamic[i] = dynamicRight{Key: d.Name, Source: "api_key_rights", ID: d.ID, Description: d.Description}
	}
	newSuccess("Listed Athena rights catalog").value("data", rightsCatalog{
		NativeRights:        native,
		DynamicAPIKeyRights: dynamic,
		Counts:              rightsCatalogCounts{Native: len(native), DynamicAPIKeyRights: len(dynamic), Total: len(native) + len(dynamic)},
		APIKeyRightsStatus:  "available",
		Sources: map[string]string{
			"gateway":        "rights the server checks (built in)",
			"api_key_rights": "right definitions kept with /admin/api-key-rights",
		},
	}).send(c, 200)
	return nil
}
