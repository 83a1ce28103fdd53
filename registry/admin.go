package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// ClientView is one client as the admin API shows it: the merged result
// plus the database's bookkeeping. URIs are redacted.
type ClientView struct {
	Name              string          `json:"client_name"`
	Source            string          `json:"source"` // config | database
	URI               string          `json:"pg_uri,omitempty"`
	URIEnvVar         string          `json:"pg_uri_env_var,omitempty"`
	Active            bool            `json:"is_active"`
	Frozen            bool            `json:"is_frozen"`
	Reserved          bool            `json:"reserved,omitempty"` // the control plane's own client
	InConfig          bool            `json:"in_config"`          // defined in this process's file
	Served            bool            `json:"served"`             // this process routes requests to it
	PoolOpen          bool            `json:"pool_open"`
	LoadFailures      int             `json:"load_failures"`
	LastLoadError     string          `json:"last_load_error,omitempty"`
	LastLoadFailureAt *time.Time      `json:"last_load_failure_at,omitempty"`
	DisabledReason    string          `json:"disabled_reason,omitempty"`
	Metadata          json.RawMessage `json:"metadata,omitempty"`
}

// ListClients returns the merged view, read fresh from the control plane
// (the file alone when it is off).
func (r *Registry) ListClients(ctx context.Context) ([]ClientView, error) {
	var rows []postgres.ClientRow
	if r.store != nil {
		var err error
		if rows, err = r.store.List(ctx); err != nil {
			return nil, err
		}
	}
	merged := r.build(rows, nil, nil)
	live := r.state.Load()
	byName := make(map[string]postgres.ClientRow, len(rows))
	for _, row := range rows {
		byName[row.Name] = row
	}
	out := make([]ClientView, 0, len(merged.clients)+len(rows))
	for name, e := range merged.clients {
		v := ClientView{Name: name, Source: e.source, URI: RedactURI(e.cfg.URI), URIEnvVar: e.envVar, Active: e.active,
			Frozen: e.frozen, Reserved: e.reserved, InConfig: e.inFile, Served: true, DisabledReason: e.reason}
		if e.envVar != "" {
			v.URI = ""
		}
		if le := live.clients[name]; le != nil {
			v.PoolOpen = le.pool.db.Load() != nil
		}
		if row, ok := byName[name]; ok {
			v.LoadFailures, v.LastLoadError, v.LastLoadFailureAt = row.LoadFailures, row.LastLoadError, row.LastLoadFailureAt
			v.Metadata = row.Metadata
		}
		out = append(out, v)
	}
	for _, row := range rows {
		if merged.clients[row.Name] == nil { // a config row from another process's file
			out = append(out, ClientView{Name: row.Name, Source: row.Source, URI: RedactURI(row.URI), URIEnvVar: row.URIEnvVar,
				Active: row.Active, Frozen: row.Frozen, Reserved: row.Name == r.ControlPlaneClient(),
				LoadFailures: row.LoadFailures, LastLoadError: row.LastLoadError, LastLoadFailureAt: row.LastLoadFailureAt,
				DisabledReason: row.DisabledReason, Metadata: row.Metadata})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

var envVarRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)

// ClientInput is a client to create through the admin API.
type ClientInput struct {
	Name      string
	URI       string
	URIEnvVar string
	Active    *bool // default true
	Frozen    *bool // default false
	Metadata  json.RawMessage
}

// CreateClient validates and stores a database-sourced client, then
// reloads so this process serves it at once (others follow on NOTIFY).
func (r *Registry) CreateClient(ctx context.Context, in ClientInput) (ClientView, error) {
	if r.store == nil {
		return ClientView{}, errNoControlPlane
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := r.checkName(in.Name); err != nil {
		return ClientView{}, err
	}
	if _, inFile := r.file[in.Name]; inFile {
		return ClientView{}, gateway.Errorf(gateway.CodeUniqueViolation, "client %q already exists (defined in the config file)", in.Name)
	}
	uri, env, err := checkTarget(&in.URI, &in.URIEnvVar, true)
	if err != nil {
		return ClientView{}, err
	}
	if err := checkMetadata(in.Metadata); err != nil {
		return ClientView{}, err
	}
	nc := postgres.NewClient{Name: in.Name, URI: uri, URIEnvVar: env, Active: true, Metadata: in.Metadata}
	if in.Active != nil {
		nc.Active = *in.Active
	}
	if in.Frozen != nil {
		nc.Frozen = *in.Frozen
	}
	if _, err := r.store.Create(ctx, nc); err != nil {
		return ClientView{}, err
	}
	return r.viewAfterWrite(ctx, in.Name)
}

// PatchClient changes a client. A config-sourced client's URI belongs to
// the file (409); its flags and metadata may change.
func (r *Registry) PatchClient(ctx context.Context, name string, p gateway.ClientPatch) (ClientView, error) {
	if r.store == nil {
		return ClientView{}, errNoControlPlane
	}
	if r.Reserved(name) {
		return ClientView{}, errReserved(name)
	}
	if p.URI != nil || p.URIEnvVar != nil {
		uri, env := "", ""
		if p.URI != nil {
			uri = *p.URI
		}
		if p.URIEnvVar != nil {
			env = *p.URIEnvVar
		}
		uri, env, err := checkTarget(&uri, &env, true)
		if err != nil {
			return ClientView{}, err
		}
		// Exactly one of them is written; the store clears the other.
		p.URI, p.URIEnvVar = nil, nil
		if uri != "" {
			p.URI = &uri
		} else {
			p.URIEnvVar = &env
		}
	}
	if err := checkMetadata(p.Metadata); err != nil {
		return ClientView{}, err
	}
	if _, err := r.store.Patch(ctx, name, p); err != nil {
		return ClientView{}, err
	}
	return r.viewAfterWrite(ctx, name)
}

// FreezeClient freezes (503 client_frozen) or thaws a client.
func (r *Registry) FreezeClient(ctx context.Context, name string, frozen bool) (ClientView, error) {
	return r.PatchClient(ctx, name, gateway.ClientPatch{Frozen: &frozen})
}

// DeleteClient soft-deletes a database-sourced client. A client this
// process's file defines cannot be deleted (409); a config row no file
// defines any more can.
func (r *Registry) DeleteClient(ctx context.Context, name string) error {
	if r.store == nil {
		return errNoControlPlane
	}
	if r.Reserved(name) {
		return errReserved(name)
	}
	_, inFile := r.file[name]
	if err := r.store.SoftDelete(ctx, name, !inFile); err != nil {
		return err
	}
	return r.Reload(ctx)
}

// viewAfterWrite reloads (read-your-writes on this process) and returns
// the client's view.
func (r *Registry) viewAfterWrite(ctx context.Context, name string) (ClientView, error) {
	if err := r.Reload(ctx); err != nil {
		return ClientView{}, err
	}
	all, err := r.ListClients(ctx)
	if err != nil {
		return ClientView{}, err
	}
	for _, v := range all {
		if v.Name == name {
			return v, nil
		}
	}
	return ClientView{}, gateway.Errorf(gateway.CodeNotFound, "client %q not found", name)
}

func (r *Registry) checkName(name string) error {
	if !gateway.ValidClientName(name) {
		return gateway.Errorf(gateway.CodeInvalidClient,
			"client_name must be 1-63 letters, digits, '_', '.' or '-', not starting with '.' or '-'")
	}
	if r.Reserved(name) || name == r.cp.Client {
		return errReserved(name)
	}
	return nil
}

func errReserved(name string) error {
	return gateway.Errorf(gateway.CodeForbidden, "client %q is reserved for the gateway's own data", name)
}

// checkTarget validates that exactly one of uri and env is given, the URI's
// scheme, and returns the normalised URI (JDBC URLs become postgres://).
func checkTarget(uri, env *string, required bool) (string, string, error) {
	u, e := strings.TrimSpace(*uri), strings.TrimSpace(*env)
	switch {
	case u != "" && e != "":
		return "", "", gateway.Errorf(gateway.CodeInvalidClient, "give pg_uri or pg_uri_env_var, not both")
	case u == "" && e == "":
		if !required {
			return "", "", nil
		}
		return "", "", gateway.Errorf(gateway.CodeInvalidClient, "pg_uri or pg_uri_env_var is required")
	case e != "":
		if !envVarRE.MatchString(e) {
			return "", "", gateway.Errorf(gateway.CodeInvalidClient, "pg_uri_env_var must be an environment variable name")
		}
		return "", e, nil
	}
	d, err := ParseDirectURI(u)
	if err != nil {
		return "", "", err
	}
	if _, err := pgxpool.ParseConfig(d.URI); err != nil {
		return "", "", gateway.Errorf(gateway.CodeInvalidClient, "pg_uri cannot be parsed")
	}
	return d.URI, "", nil
}

func checkMetadata(m json.RawMessage) error {
	if m == nil {
		return nil
	}
	var obj map[string]any
	if err := json.Unmarshal(m, &obj); err != nil || obj == nil {
		return gateway.Errorf(gateway.CodeInvalidClient, "metadata must be a JSON object")
	}
	if _, err := metadataSchemas(m); err != nil {
		return gateway.Errorf(gateway.CodeInvalidClient, "metadata: %v", err)
	}
	return nil
}

// metadataSchemas reads the exposed_schemas a client's metadata sets (nil
// when it sets none): the control plane's way to give a database client,
// or override for a file client, what postgres_clients.<name>.exposed_schemas
// gives a file client.
func metadataSchemas(m json.RawMessage) ([]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	var v struct {
		ExposedSchemas *[]string `json:"exposed_schemas"`
	}
	if err := json.Unmarshal(m, &v); err != nil {
		return nil, fmt.Errorf("exposed_schemas must be an array of schema names")
	}
	if v.ExposedSchemas == nil {
		return nil, nil
	}
	if len(*v.ExposedSchemas) == 0 {
		return nil, fmt.Errorf("exposed_schemas must name at least one schema")
	}
	if err := config.CheckExposedSchemas(*v.ExposedSchemas); err != nil {
		return nil, fmt.Errorf("exposed_schemas: %w", err)
	}
	return *v.ExposedSchemas, nil
}

// ListRoutes returns every wildcard route.
func (r *Registry) ListRoutes(ctx context.Context) ([]postgres.Route, error) {
	if r.routes == nil {
		return nil, errNoControlPlane
	}
	return r.routes.List(ctx)
}

// PutRoute creates or replaces a wildcard route (key: one host label).
func (r *Registry) PutRoute(ctx context.Context, rt postgres.Route) (postgres.Route, error) {
	if r.routes == nil {
		return postgres.Route{}, errNoControlPlane
	}
	rt.Key = strings.ToLower(strings.TrimSpace(rt.Key))
	if !ValidRouteKey(rt.Key) {
		return postgres.Route{}, gateway.Errorf(gateway.CodeInvalidClient, "route_key must be 1-63 lower-case letters, digits or '-'")
	}
	rt.Client = strings.TrimSpace(rt.Client)
	if !gateway.ValidClientName(rt.Client) {
		return postgres.Route{}, gateway.Errorf(gateway.CodeInvalidClient, "client_name is not a valid client name")
	}
	if r.Reserved(rt.Client) {
		return postgres.Route{}, errReserved(rt.Client)
	}
	out, err := r.routes.Put(ctx, rt)
	if err != nil {
		return postgres.Route{}, err
	}
	return out, r.Reload(ctx)
}

// DeleteRoute removes a wildcard route.
func (r *Registry) DeleteRoute(ctx context.Context, key string) error {
	if r.routes == nil {
		return errNoControlPlane
	}
	if err := r.routes.Delete(ctx, key); err != nil {
		return err
	}
	return r.Reload(ctx)
}
