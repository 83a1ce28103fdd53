package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// The /admin/api-key* handlers (spec §1.2). Every one runs behind the admin
// check (adminOnly in routes.go); they validate input, call the APIKeyAdmin
// and answer with the spec envelope. Changes made here drop this process's
// cached entries at once; other processes see them within the cache window.

// APIKeyAdmin is the API-key store of the /admin/api-key* routes.
// *postgres.KeyStore implements it.
type APIKeyAdmin interface {
	// Keys.
	ListKeys(ctx context.Context) ([]auth.Key, error)
	GetKey(ctx context.Context, publicID string) (auth.Key, error)
	CreateKey(ctx context.Context, n postgres.NewKey) (auth.Key, string, error)
	RevokeKey(ctx context.Context, publicID string) (auth.Key, error)
	UpdateKey(ctx context.Context, publicID string, p postgres.KeyPatch) (auth.Key, error)
	PublicIDByRowID(ctx context.Context, id int64) (string, error)
	// Grants: which key holds which right.
	ListGrants(ctx context.Context, publicID string) ([]postgres.KeyGrant, error)
	AddGrant(ctx context.Context, publicID, right string) (postgres.KeyGrant, error)
	RemoveGrant(ctx context.Context, publicID, right string) error
	// Right definitions: the catalogue of /admin/api-key-rights.
	ListRightDefinitions(ctx context.Context) ([]postgres.RightDefinition, error)
	RightDefinition(ctx context.Context, ref string) (postgres.RightDefinition, error)
	CreateRightDefinition(ctx context.Context, name, description string) (postgres.RightDefinition, error)
	UpdateRightDefinition(ctx context.Context, ref string, p postgres.RightPatch) (postgres.RightDefinition, error)
	DeleteRightDefinition(ctx context.Context, ref string) (postgres.RightDefinition, error)
	// Enforcement, global and per client.
	GetConfig(ctx context.Context) (postgres.GlobalConfig, error)
	SetConfig(ctx context.Context, enforce *bool, mode *auth.FailMode) (postgres.GlobalConfig, error)
	ListClientConfigs(ctx context.Context) ([]auth.ClientEnforcement, error)
	SetClientConfig(ctx context.Context, client string, enforce *bool, mode *auth.FailMode) (auth.ClientEnforcement, error)
	DeleteClientConfig(ctx context.Context, client string) error
}

// errNoKeyStore is the answer of every /admin/api-key* route when no key
// store is configured (routes.go).
var errNoKeyStore = &gateway.Error{Code: gateway.CodeBackendUnavailable,
	Message: "API key store unavailable", Detail: "no logging database is configured for API keys"}

func invalidValue(format string, args ...any) *gateway.Error {
	return gateway.Errorf(gateway.CodeInvalidValue, format, args...)
}

// pathKeyID reads the :id path parameter and returns the key's public id.
// The SDK tools name a key by its record id (the "id" of the record, a
// number here); the public id is accepted too. A public id made only of
// digits (about one in 500 million) that is no record id still works.
func pathKeyID(c *gin.Context, store APIKeyAdmin) (string, error) {
	id := c.Param("id")
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 {
		pid, err := store.PublicIDByRowID(c.Request.Context(), n)
		var ge *gateway.Error
		if errors.As(err, &ge) && ge.Code == gateway.CodeNotFound && auth.ValidPublicID(id) {
			return id, nil
		}
		return pid, err
	}
	if !auth.ValidPublicID(id) {
		return "", invalidValue("invalid API key id: want the key's record id or its public id (lowercase letters and digits)")
	}
	return id, nil
}

// invalidateKey drops this process's cached view of a key ("" for all).
func (s *Server) invalidateKey(publicID string) {
	s.keys.invalidate(publicID)
}

// listAPIKeys serves GET /admin/api-keys: every key, never a secret.
func (s *Server) listAPIKeys(c *gin.Context) error {
	store := s.deps.APIKeys
	keys, err := store.ListKeys(c.Request.Context())
	return sendList(c, "API keys", keys, err)
}

// createKeyBody is POST /admin/api-keys. expires_at (RFC 3339) and
// expires_in (a Go duration such as "720h") are alternatives.
type createKeyBody struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	ClientName  string   `json:"client_name"`
	Rights      []string `json:"rights"`
	ExpiresAt   *string  `json:"expires_at"`
	ExpiresIn   *string  `json:"expires_in"`
}

// createdKey is the answer to a creation: the plaintext, this once, and the
// key's record under "record", where the SDK's CLI reads it
// (createGatewayApiKey reads data.api_key and data.record). The record's
// fields are also repeated at the top level, where earlier clients read
// them.
type createdKey struct {
	auth.Key
	APIKey string   `json:"api_key"`
	Record auth.Key `json:"record"`
}

// createAPIKey serves POST /admin/api-keys. The plaintext key is in the
// answer and nowhere else.
func (s *Server) createAPIKey(c *gin.Context) error {
	store := s.deps.APIKeys
	var b createKeyBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	n := postgres.NewKey{Name: b.Name, Description: b.Description, ClientName: strings.TrimSpace(b.ClientName), Rights: b.Rights}
	exp, err := parseExpiry(b.ExpiresAt, b.ExpiresIn, time.Now())
	if err != nil {
		return err
	}
	n.ExpiresAt = exp
	key, plaintext, err := store.CreateKey(c.Request.Context(), n)
	if err != nil {
		return err
	}
	s.invalidateKey(key.PublicID) // a negative cache entry for this id would hide it
	s.audit(c, "api_key.create", "api_key:"+key.PublicID, nil, key)
	newSuccess("API key created; store it now, it is not shown again").
		value("data", createdKey{Key: key, APIKey: plaintext, Record: key}).send(c, http.StatusCreated)
	return nil
}

// parseExpiry reads expires_at or expires_in; neither means no expiry.
func parseExpiry(at, in *string, now time.Time) (*time.Time, error) {
	switch {
	case at != nil && in != nil:
		return nil, invalidValue("give expires_at or expires_in, not both")
	case at != nil:
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			return nil, invalidValue("expires_at: want an RFC 3339 time such as 2027-01-01T00:00:00Z")
		}
		return &t, nil
	case in != nil:
		d, err := time.ParseDuration(*in)
		if err != nil || d <= 0 {
			return nil, invalidValue("expires_in: want a positive duration such as 720h")
		}
		t := now.Add(d)
		return &t, nil
	}
	return nil, nil
}

// revokeAPIKey serves DELETE /admin/api-keys/:id: the key is revoked (kept
// for the audit trail, never deleted).
func (s *Server) revokeAPIKey(c *gin.Context) error {
	store := s.deps.APIKeys
	id, err := pathKeyID(c, store)
	if err != nil {
		return err
	}
	before, err := store.GetKey(c.Request.Context(), id)
	if err != nil {
		return err
	}
	key, err := store.RevokeKey(c.Request.Context(), id)
	if err != nil {
		return err
	}
	s.invalidateKey(id)
	s.audit(c, "api_key.revoke", "api_key:"+id, before, key)
	newSuccess("API key revoked").value("data", key).send(c, 200)
	return nil
}

// patchKeyBody is PATCH /admin/api-keys/:id. expires_at: null clears the
// expiry; absent leaves it. rights replaces the key's rights.
type patchKeyBody struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	IsActive    *bool           `json:"is_active"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
	ExpiresIn   *string         `json:"expires_in"`
	Rights      *[]string       `json:"rights"`
}

// patchAPIKey serves PATCH /admin/api-keys/:id (name, description, active
// flag, expiry, rights).
func (s *Server) patchAPIKey(c *gin.Context) error {
	store := s.deps.APIKeys
	id, err := pathKeyID(c, store)
	if err != nil {
		return err
	}
	var b patchKeyBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	p := postgres.KeyPatch{Name: b.Name, Description: b.Description, Active: b.IsActive, Rights: b.Rights}
	switch {
	case string(b.ExpiresAt) == "null":
		if b.ExpiresIn != nil {
			return invalidValue("give expires_at or expires_in, not both")
		}
		p.ClearExpiry = true
	case len(b.ExpiresAt) > 0 || b.ExpiresIn != nil:
		var at *string
		if len(b.ExpiresAt) > 0 {
			var v string
			if err := json.Unmarshal(b.ExpiresAt, &v); err != nil {
				return invalidValue("expires_at: want an RFC 3339 time string or null")
			}
			at = &v
		}
		if p.ExpiresAt, err = parseExpiry(at, b.ExpiresIn, time.Now()); err != nil {
			return err
		}
	}
	if p.Name == nil && p.Description == nil && p.Active == nil && p.ExpiresAt == nil && !p.ClearExpiry && p.Rights == nil {
		return invalidValue("nothing to change: give name, description, is_active, expires_at, expires_in or rights")
	}
	before, err := store.GetKey(c.Request.Context(), id)
	if err != nil {
		return err
	}
	key, err := store.UpdateKey(c.Request.Context(), id, p)
	if err != nil {
		return err
	}
	s.invalidateKey(id)
	s.audit(c, "api_key.update", "api_key:"+id, before, key)
	newSuccess("API key updated").value("data", key).send(c, 200)
	return nil
}

// grantBody names a key and a right. The key is public_id, or api_key_id
// as either the public id (string) or the record id (number).
type grantBody struct {
	PublicID string          `json:"public_id"`
	APIKeyID json.RawMessage `json:"api_key_id"`
	Right    string          `json:"right"`
}

// resolveKey turns public_id / api_key_id into a public id.
func resolveKey(c *gin.Context, store APIKeyAdmin, publicID string, apiKeyID json.RawMessage) (string, error) {
	publicID = strings.TrimSpace(publicID)
	if len(apiKeyID) > 0 && string(apiKeyID) != "null" {
		var s string
		var n int64
		switch {
		case json.Unmarshal(apiKeyID, &s) == nil:
			if publicID != "" && publicID != s {
				return "", invalidValue("public_id and api_key_id name different keys")
			}
			publicID = strings.TrimSpace(s)
		case json.Unmarshal(apiKeyID, &n) == nil:
			pid, err := store.PublicIDByRowID(c.Request.Context(), n)
			if err != nil {
				return "", err
			}
			if publicID != "" && publicID != pid {
				return "", invalidValue("public_id and api_key_id name different keys")
			}
			publicID = pid
		default:
			return "", invalidValue("api_key_id: want the key's public id or its numeric id")
		}
	}
	if publicID == "" {
		return "", invalidValue("public_id (or api_key_id) is required")
	}
	if !auth.ValidPublicID(publicID) {
		return "", invalidValue("invalid API key id: want the key's public id (lowercase letters and digits)")
	}
	return publicID, nil
}

// queryKey reads ?public_id= or ?api_key_id= (a public id or a record id);
// "" when neither is given.
func queryKey(c *gin.Context, store APIKeyAdmin) (string, error) {
	pid, aid := c.Query("public_id"), c.Query("api_key_id")
	if pid == "" && aid == "" {
		return "", nil
	}
	raw := json.RawMessage(nil)
	if aid != "" {
		if _, err := strconv.ParseInt(aid, 10, 64); err == nil {
			raw = json.RawMessage(aid)
		} else {
			raw, _ = json.Marshal(aid)
		}
	}
	return resolveKey(c, store, pid, raw)
}

// listAPIKeyGrants serves GET /admin/api-key-grants[?public_id=|api_key_id=]:
// which key holds which right (what /admin/api-key-rights listed before it
// became the catalogue of right definitions).
func (s *Server) listAPIKeyGrants(c *gin.Context) error {
	store := s.deps.APIKeys
	id, err := queryKey(c, store)
	if err != nil {
		return err
	}
	grants, err := store.ListGrants(c.Request.Context(), id)
	return sendList(c, "API key grants", grants, err)
}

// grantRequest decodes and checks a grant body (POST and DELETE).
func grantRequest(c *gin.Context, store APIKeyAdmin) (string, string, error) {
	var b grantBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return "", "", err
	}
	id, err := resolveKey(c, store, b.PublicID, b.APIKeyID)
	if err != nil {
		return "", "", err
	}
	r := strings.TrimSpace(b.Right)
	if !auth.ValidRight(r) {
		return "", "", invalidValue("invalid right: want dot-separated segments of letters, digits, '_' or '*', at most 128 characters (e.g. users.read, orders.*, gateway.query)")
	}
	return id, r, nil
}

// addAPIKeyGrant serves POST /admin/api-key-grants {public_id, right}.
func (s *Server) addAPIKeyGrant(c *gin.Context) error {
	store := s.deps.APIKeys
	id, right, err := grantRequest(c, store)
	if err != nil {
		return err
	}
	before, err := store.GetKey(c.Request.Context(), id)
	if err != nil {
		return err
	}
	g, err := store.AddGrant(c.Request.Context(), id, right)
	if err != nil {
		return err
	}
	s.invalidateKey(id)
	s.auditKeyChange(c, "api_key.grant", before)
	newSuccess("Right granted").value("data", g).send(c, http.StatusCreated)
	return nil
}

// removeAPIKeyGrant serves DELETE /admin/api-key-grants {public_id, right}.
func (s *Server) removeAPIKeyGrant(c *gin.Context) error {
	store := s.deps.APIKeys
	id, right, err := grantRequest(c, store)
	if err != nil {
		return err
	}
	before, err := store.GetKey(c.Request.Context(), id)
	if err != nil {
		return err
	}
	if err := store.RemoveGrant(c.Request.Context(), id, right); err != nil {
		return err
	}
	s.invalidateKey(id)
	s.auditKeyChange(c, "api_key.ungrant", before)
	newSuccess("Right withdrawn").value("data", postgres.KeyGrant{PublicID: id, Right: right}).send(c, 200)
	return nil
}

// auditKeyChange records a change to a key's grants: before is the key as
// it was, after is read back (the grant calls answer the grant, not the key).
// A failed read leaves after empty rather than failing a change that is
// already committed.
func (s *Server) auditKeyChange(c *gin.Context, action string, before auth.Key) {
	var after any
	if k, err := s.deps.APIKeys.GetKey(c.Request.Context(), before.PublicID); err == nil {
		after = k
	}
	s.audit(c, action, "api_key:"+before.PublicID, before, after)
}

// keyConfigView is GET and PUT /admin/api-key-config: the global switch
// (under "global", and also at the top level where earlier clients read
// it) and every per-client override.
type keyConfigView struct {
	postgres.GlobalConfig
	Global  postgres.GlobalConfig    `json:"global"`
	Clients []auth.ClientEnforcement `json:"clients"`
}

// keyConfig reads the whole enforcement configuration.
func (s *Server) keyConfig(ctx context.Context) (keyConfigView, error) {
	store := s.deps.APIKeys
	cfg, err := store.GetConfig(ctx)
	if err != nil {
		return keyConfigView{}, err
	}
	clients, err := store.ListClientConfigs(ctx)
	if err != nil {
		return keyConfigView{}, err
	}
	if clients == nil {
		clients = []auth.ClientEnforcement{}
	}
	if cfg.Enforce == nil {
		// Not set by an operator: the gateway's api_keys.required decides.
		on := s.deps.Auth == nil || s.deps.Auth.RequiredByDefault()
		cfg.Enforce = &on
	}
	return keyConfigView{GlobalConfig: cfg, Global: cfg, Clients: clients}, nil
}

// getAPIKeyConfig serves GET /admin/api-key-config.
func (s *Server) getAPIKeyConfig(c *gin.Context) error {
	v, err := s.keyConfig(c.Request.Context())
	if err != nil {
		return err
	}
	newSuccess("API key configuration").value("data", v).send(c, 200)
	return nil
}

// configBody is PUT /admin/api-key-config and /admin/api-key-clients/:client.
// enforce_api_keys is the switch (the original server's name, which the
// SDK tools send); enforce is accepted as an alias. For a client, null (or
// absent) inherits the global value.
type configBody struct {
	EnforceAPIKeys *bool          `json:"enforce_api_keys"`
	Enforce        *bool          `json:"enforce"`
	FailMode       *auth.FailMode `json:"fail_mode"`
}

// enforce returns the switch, from either spelling.
func (b configBody) enforce() (*bool, error) {
	if b.EnforceAPIKeys != nil && b.Enforce != nil && *b.EnforceAPIKeys != *b.Enforce {
		return nil, invalidValue("enforce_api_keys and its alias enforce disagree; give one")
	}
	if b.EnforceAPIKeys != nil {
		return b.EnforceAPIKeys, nil
	}
	return b.Enforce, nil
}

// decodeConfig reads and checks a configBody.
func decodeConfig(c *gin.Context) (*bool, *auth.FailMode, error) {
	var b configBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return nil, nil, err
	}
	if b.FailMode != nil && !b.FailMode.Valid() {
		return nil, nil, invalidValue("fail_mode: want fail_closed or fail_open")
	}
	enforce, err := b.enforce()
	return enforce, b.FailMode, err
}

// putAPIKeyConfig serves PUT /admin/api-key-config {enforce_api_keys,
// fail_mode}; an absent field keeps its value.
func (s *Server) putAPIKeyConfig(c *gin.Context) error {
	store := s.deps.APIKeys
	enforce, mode, err := decodeConfig(c)
	if err != nil {
		return err
	}
	if enforce == nil && mode == nil {
		return invalidValue("nothing to change: give enforce_api_keys and/or fail_mode")
	}
	before, err := store.GetConfig(c.Request.Context())
	if err != nil {
		return err
	}
	cfg, err := store.SetConfig(c.Request.Context(), enforce, mode)
	if err != nil {
		return err
	}
	s.invalidateKey("")
	s.audit(c, "api_key_config.update", "api_key_config", before, cfg)
	v, err := s.keyConfig(c.Request.Context())
	if err != nil {
		return err
	}
	newSuccess("API key configuration updated").value("data", v).send(c, 200)
	return nil
}

// listAPIKeyClients serves GET /admin/api-key-clients: per-client overrides.
func (s *Server) listAPIKeyClients(c *gin.Context) error {
	store := s.deps.APIKeys
	list, err := store.ListClientConfigs(c.Request.Context())
	return sendList(c, "client overrides", list, err)
}

// pathClient reads and checks the :client path parameter.
func pathClient(c *gin.Context) (string, error) {
	name := c.Param("client")
	if !gateway.ValidClientName(name) {
		return "", invalidValue("invalid client name: want letters, digits, '_', '.', '-' (at most 63, not starting with '.' or '-')")
	}
	return name, nil
}

// clientOverride returns client's override, nil when it has none (the
// audit's before).
func (s *Server) clientOverride(ctx context.Context, client string) (*auth.ClientEnforcement, error) {
	list, err := s.deps.APIKeys.ListClientConfigs(ctx)
	if err != nil {
		return nil, err
	}
	for i := range list {
		if list[i].Client == client {
			return &list[i], nil
		}
	}
	return nil, nil
}

// putAPIKeyClient serves PUT /admin/api-key-clients/:client
// {enforce_api_keys, fail_mode}: the override is replaced; null fields
// inherit.
func (s *Server) putAPIKeyClient(c *gin.Context) error {
	store := s.deps.APIKeys
	client, err := pathClient(c)
	if err != nil {
		return err
	}
	enforce, mode, err := decodeConfig(c)
	if err != nil {
		return err
	}
	before, err := s.clientOverride(c.Request.Context(), client)
	if err != nil {
		return err
	}
	ce, err := store.SetClientConfig(c.Request.Context(), client, enforce, mode)
	if err != nil {
		return err
	}
	s.invalidateKey("")
	s.audit(c, "api_key_client.put", "api_key_client:"+client, before, ce)
	newSuccess("Client override saved").value("data", ce).send(c, 200)
	return nil
}

// deleteAPIKeyClient serves DELETE /admin/api-key-clients/:client: the
// client inherits the global switch again.
func (s *Server) deleteAPIKeyClient(c *gin.Context) error {
	store := s.deps.APIKeys
	client, err := pathClient(c)
	if err != nil {
		return err
	}
	before, err := s.clientOverride(c.Request.Context(), client)
	if err != nil {
		return err
	}
	if err := store.DeleteClientConfig(c.Request.Context(), client); err != nil {
		return err
	}
	s.invalidateKey("")
	s.audit(c, "api_key_client.delete", "api_key_client:"+client, before, nil)
	newSuccess("Client override removed").value("data", map[string]string{"client_name": client}).send(c, 200)
	return nil
}

// sendList answers a list route: err when set, else
// "Listed N <noun>" with data always an array (never null).
func sendList[T any](c *gin.Context, noun string, items []T, err error) error {
	if err != nil {
		return err
	}
	if items == nil {
		items = []T{}
	}
	newSuccess("Listed "+strconv.Itoa(len(items))+" "+noun).value("data", items).send(c, 200)
	return nil
}
