package api

import (
	"context"
	"encoding/json"
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
	CreateKey(ctx context.Context, n postgres.NewKey) (auth.Key, string, error)
	RevokeKey(ctx context.Context, publicID string) (auth.Key, error)
	UpdateKey(ctx context.Context, publicID string, p postgres.KeyPatch) (auth.Key, error)
	PublicIDByRowID(ctx context.Context, id int64) (string, error)
	// Rights.
	ListRights(ctx context.Context, publicID string) ([]postgres.KeyRight, error)
	AddRight(ctx context.Context, publicID, right string) (postgres.KeyRight, error)
	RemoveRight(ctx context.Context, publicID, right string) error
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

// pathKeyID reads and checks the :id path parameter (a key's public id).
func pathKeyID(c *gin.Context) (string, error) {
	id := c.Param("id")
	if !auth.ValidPublicID(id) {
		return "", invalidValue("invalid API key id: want the key's public id (lowercase letters and digits)")
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

// createdKey is the answer to a creation: the key and, this once, its
// plaintext.
type createdKey struct {
	auth.Key
	APIKey string `json:"api_key"`
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
	newSuccess("API key created; store it now, it is not shown again").
		value("data", createdKey{Key: key, APIKey: plaintext}).send(c, http.StatusCreated)
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
	id, err := pathKeyID(c)
	if err != nil {
		return err
	}
	key, err := store.RevokeKey(c.Request.Context(), id)
	if err != nil {
		return err
	}
	s.invalidateKey(id)
	newSuccess("API key revoked").value("data", key).send(c, 200)
	return nil
}

// patchKeyBody is PATCH /admin/api-keys/:id. expires_at: null clears the
// expiry; absent leaves it.
type patchKeyBody struct {
	Name        *string         `json:"name"`
	Description *string         `json:"description"`
	IsActive    *bool           `json:"is_active"`
	ExpiresAt   json.RawMessage `json:"expires_at"`
	ExpiresIn   *string         `json:"expires_in"`
}

// patchAPIKey serves PATCH /admin/api-keys/:id (name, description, active
// flag, expiry).
func (s *Server) patchAPIKey(c *gin.Context) error {
	store := s.deps.APIKeys
	id, err := pathKeyID(c)
	if err != nil {
		return err
	}
	var b patchKeyBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	p := postgres.KeyPatch{Name: b.Name, Description: b.Description, Active: b.IsActive}
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
	if p.Name == nil && p.Description == nil && p.Active == nil && p.ExpiresAt == nil && !p.ClearExpiry {
		return invalidValue("nothing to change: give name, description, is_active, expires_at or expires_in")
	}
	key, err := store.UpdateKey(c.Request.Context(), id, p)
	if err != nil {
		return err
	}
	s.invalidateKey(id)
	newSuccess("API key updated").value("data", key).send(c, 200)
	return nil
}

// rightBody names a key and a right. The key is public_id, or api_key_id
// as either the public id (string) or the row id (number).
type rightBody struct {
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

// listAPIKeyRights serves GET /admin/api-key-rights[?public_id=|api_key_id=].
func (s *Server) listAPIKeyRights(c *gin.Context) error {
	store := s.deps.APIKeys
	id := ""
	if pid, aid := c.Query("public_id"), c.Query("api_key_id"); pid != "" || aid != "" {
		raw := json.RawMessage(nil)
		if aid != "" {
			if _, err := strconv.ParseInt(aid, 10, 64); err == nil {
				raw = json.RawMessage(aid)
			} else {
				raw, _ = json.Marshal(aid)
			}
		}
		var err error
		if id, err = resolveKey(c, store, pid, raw); err != nil {
			return err
		}
	}
	rights, err := store.ListRights(c.Request.Context(), id)
	return sendList(c, "API key rights", rights, err)
}

// rightRequest decodes and checks a rights body (POST and DELETE).
func rightRequest(c *gin.Context, store APIKeyAdmin) (string, string, error) {
	var b rightBody
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

// addAPIKeyRight serves POST /admin/api-key-rights {public_id, right}.
func (s *Server) addAPIKeyRight(c *gin.Context) error {
	store := s.deps.APIKeys
	id, right, err := rightRequest(c, store)
	if err != nil {
		return err
	}
	kr, err := store.AddRight(c.Request.Context(), id, right)
	if err != nil {
		return err
	}
	s.invalidateKey(id)
	newSuccess("Right granted").value("data", kr).send(c, http.StatusCreated)
	return nil
}

// removeAPIKeyRight serves DELETE /admin/api-key-rights {public_id, right}.
func (s *Server) removeAPIKeyRight(c *gin.Context) error {
	store := s.deps.APIKeys
	id, right, err := rightRequest(c, store)
	if err != nil {
		return err
	}
	if err := store.RemoveRight(c.Request.Context(), id, right); err != nil {
		return err
	}
	s.invalidateKey(id)
	newSuccess("Right withdrawn").value("data", postgres.KeyRight{PublicID: id, Right: right}).send(c, 200)
	return nil
}

// getAPIKeyConfig serves GET /admin/api-key-config.
func (s *Server) getAPIKeyConfig(c *gin.Context) error {
	store := s.deps.APIKeys
	cfg, err := store.GetConfig(c.Request.Context())
	if err != nil {
		return err
	}
	newSuccess("API key configuration").value("data", cfg).send(c, 200)
	return nil
}

// configBody is PUT /admin/api-key-config and /admin/api-key-clients/:client.
// For a client, null (or absent) inherits the global value.
type configBody struct {
	Enforce  *bool          `json:"enforce"`
	FailMode *auth.FailMode `json:"fail_mode"`
}

func (b configBody) validate() error {
	if b.FailMode != nil && !b.FailMode.Valid() {
		return invalidValue("fail_mode: want fail_closed or fail_open")
	}
	return nil
}

// putAPIKeyConfig serves PUT /admin/api-key-config {enforce, fail_mode};
// an absent field keeps its value.
func (s *Server) putAPIKeyConfig(c *gin.Context) error {
	store := s.deps.APIKeys
	var b configBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	if b.Enforce == nil && b.FailMode == nil {
		return invalidValue("nothing to change: give enforce and/or fail_mode")
	}
	cfg, err := store.SetConfig(c.Request.Context(), b.Enforce, b.FailMode)
	if err != nil {
		return err
	}
	s.invalidateKey("")
	newSuccess("API key configuration updated").value("data", cfg).send(c, 200)
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

// putAPIKeyClient serves PUT /admin/api-key-clients/:client {enforce,
// fail_mode}: the override is replaced; null fields inherit.
func (s *Server) putAPIKeyClient(c *gin.Context) error {
	store := s.deps.APIKeys
	client, err := pathClient(c)
	if err != nil {
		return err
	}
	var b configBody
	if err := decodeAdminBody(c, &b, false); err != nil {
		return err
	}
	if err := b.validate(); err != nil {
		return err
	}
	ce, err := store.SetClientConfig(c.Request.Context(), client, b.Enforce, b.FailMode)
	if err != nil {
		return err
	}
	s.invalidateKey("")
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
	if err := store.DeleteClientConfig(c.Request.Context(), client); err != nil {
		return err
	}
	s.invalidateKey("")
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
