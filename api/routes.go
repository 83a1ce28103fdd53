package api

import (
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
)

// route is one entry of the HTTP surface; GET / lists them. Op names the
// operation in error envelopes (data.operation) and logs.
type route struct {
	Methods []string `json:"methods"`
	Path    string   `json:"path"`
	Op      string   `json:"-"`
	Summary string   `json:"summary"`
	handler handlerFunc
}

const (
	get, post, put, patch, del = "GET", "POST", "PUT", "PATCH", "DELETE"
)

// routeTable is the whole HTTP surface, top to bottom. A feature that is
// not configured keeps its routes, answering why it is unavailable (the
// answers the API has always given), so that no handler checks for it.
func (s *Server) routeTable() []route {
	routes := []route{
		{[]string{get}, "/", "root", "service information and this route list", s.root},
		{[]string{get}, "/ping", "ping", "liveness: answers pong", s.ping},
		{[]string{get}, "/health", "health", "dependency checks with latency", s.health},
		{[]string{get}, "/metrics", "metrics", "Prometheus metrics", s.metrics},
		{[]string{get}, "/openapi.yaml", "openapi", "this API as OpenAPI 3.1 (YAML)", s.openAPIYAMLDoc},
		{[]string{get}, "/openapi.json", "openapi", "this API as OpenAPI 3.1 (JSON)", s.openAPIJSONDoc},

		{[]string{post}, "/gateway/fetch", "fetch", "read rows with conditions, embeds, sorting, paging and counts", s.fetch},
		{[]string{post}, "/gateway/data", "fetch", "alias of /gateway/fetch", s.fetch},
		{[]string{put, post}, "/gateway/insert", "insert", "insert one or many rows; upsert with on_conflict", s.insert},
		{[]string{post}, "/gateway/update", "update", "update rows matching conditions", s.update},
		{[]string{del, post}, "/gateway/delete", "delete", "delete by resource_id or conditions", s.delete},
		{[]string{post}, "/gateway/query", "query", "raw SQL with bind parameters", s.query},
		{[]string{post}, "/gateway/sql", "query", "alias of /gateway/query", s.query},
		{[]string{post}, "/query/sql", "query", "alias of /gateway/query", s.query},
		{[]string{post}, "/gateway/transaction", "transaction", "run fetch/insert/update/delete operations in one database transaction", s.transaction},
		{[]string{post}, "/gateway/rpc", "rpc", "call a database function", s.rpc},
		{[]string{get, post}, "/rpc/:function", "rpc", "call a database function (PostgREST style, unenveloped)", s.rpcPath},

		{[]string{get}, "/schema/tables", "schema", "tables and views of the client database", s.introspectTables},
		{[]string{get}, "/schema/columns", "schema", "columns, filtered by table_name and table_schema", s.introspectColumns},
		{[]string{get}, "/schema/constraints", "schema", "constraints, filtered by table_name and table_schema", s.introspectConstraints},
	}
	routes = append(routes, s.deferredRoutes()...)
	if s.opts.Metrics == nil {
		routes[3].handler = unavailable(gateway.Errorf(gateway.CodeNotFound, "metrics are not enabled"))
	}
	// Admin surface: every route needs the admin key (ATHENA_ADMIN_KEY).
	admin := []route{
		{[]string{get}, "/schema/clients", "admin_clients", "names of the registered clients (admin)", s.clientNames},
		{[]string{get}, "/clients", "admin_clients", "names of the registered clients (admin)", s.clientNames},
	}
	if s.deps.ClientAdmin != nil {
		admin = append(admin, s.clientAdminRoutes()...)
	}
	if s.deps.HostRoutes != nil {
		admin = append(admin,
			route{[]string{get}, "/admin/routes", "admin_routes", "wildcard host routes", s.adminListHostRoutes},
			route{[]string{put}, "/admin/routes/:key", "admin_routes", "create or replace a wildcard host route", s.adminPutHostRoute},
			route{[]string{del}, "/admin/routes/:key", "admin_routes", "delete a wildcard host route", s.adminDeleteHostRoute},
		)
	}
	admin = append(admin, s.apiKeyRoutes()...)
	audit := route{[]string{get}, "/admin/audit", "admin_audit", "the admin audit trail, newest first (limit, offset, action, target, actor)", s.adminAudit}
	if s.deps.Audit == nil {
		audit.handler = unavailable(errNoAudit)
	}
	admin = append(admin, audit)
	admin = append(admin, s.admissionRoutes()...)
	for i := range admin {
		admin[i].handler = s.adminOnly(admin[i].handler)
	}
	return withSDKBasePath(append(routes, admin...))
}

// sdkBasePath is the JavaScript SDK's default base path: createClient({url,
// key, client}) derives its database service URL as <url>/db, so it sends
// <url>/db/gateway/fetch and <url>/db/health (spec §2).
const sdkBasePath = "/db"

// withSDKBasePath returns routes followed by each of them again under
// sdkBasePath ("/" becomes "/db/"), as explicit entries: GET / and the
// OpenAPI document list exactly what is served.
func withSDKBasePath(routes []route) []route {
	out := make([]route, len(routes), 2*len(routes))
	copy(out, routes)
	for _, r := range routes {
		r.Summary = "alias of " + r.Path + " (the SDK's default base path)"
		r.Path = sdkBasePath + r.Path
		out = append(out, r)
	}
	return out
}

// canonicalRoute is the route template without the SDK base path, so an
// alias counts, logs and is allowed as the route it serves.
func canonicalRoute(fullPath string) string {
	if p, ok := strings.CutPrefix(fullPath, sdkBasePath); ok && strings.HasPrefix(p, "/") {
		return p
	}
	return fullPath
}

// clientAdminRoutes are the client registry and its statistics.
func (s *Server) clientAdminRoutes() []route {
	stats := []route{
		{[]string{get}, "/admin/clients/statistics", "admin_statistics", "request statistics of every client", s.adminListStatistics},
		{[]string{post}, "/admin/clients/statistics/refresh", "admin_statistics", "rebuild the statistics from the request and operation logs as a StatsRefresh workflow (202 with its ids; wait=true waits for the counts)", s.adminRefreshStatistics},
		{[]string{get}, "/admin/clients/:name/statistics", "admin_statistics", "a client's statistics per table and operation", s.adminClientStatistics},
		{[]string{get}, "/admin/clients/:name/statistics/drilldown", "admin_statistics", "a client's operation log, newest first (table_name, operation, status=all|errors, limit, offset)", s.adminStatisticsDrilldown},
	}
	switch {
	case s.deps.Stats == nil:
		for i := range stats {
			stats[i].handler = unavailable(errNoStats)
		}
	case s.deps.StatsRefresh == nil:
		stats[1].handler = unavailable(errNoStatsRefresh)
	}
	return []route{
		{[]string{get}, "/admin/clients", "admin_clients", "the client registry: source, state, failures (URIs redacted)", s.adminListClients},
		stats[0], stats[1], stats[2], stats[3],
		{[]string{post}, "/admin/clients", "admin_clients", "create a database client", s.adminCreateClient},
		{[]string{patch}, "/admin/clients/:name", "admin_clients", "change a client's URI, state or metadata", s.adminPatchClient},
		{[]string{del}, "/admin/clients/:name", "admin_clients", "soft-delete a database client", s.adminDeleteClient},
		{[]string{put}, "/admin/clients/:name/freeze", "admin_clients", "freeze (503 client_frozen) or thaw a client", s.adminFreezeClient},
		{[]string{get}, "/admin/pools", "admin_pools", "connection pool statistics per client", s.adminPools},
	}
}

// admissionRoutes are the admission limits and decisions (admission.go).
func (s *Server) admissionRoutes() []route {
	routes := []route{
		{[]string{get}, "/admin/clients/:name/admission", "admin_admission", "a client's admission limits: effective, stored, configured and global", s.adminGetClientAdmission},
		{[]string{put}, "/admin/clients/:name/admission", "admin_admission", "set a client's admission limits {rps, burst, max_in_flight}", s.adminPutClientAdmission},
		{[]string{del}, "/admin/clients/:name/admission", "admin_admission", "remove a client's stored admission limits (the configuration's apply)", s.adminDeleteClientAdmission},
		{[]string{get}, "/admin/admission-events", "admin_admission", "admission decisions, newest first (limit, before, offset, client, decision)", s.adminAdmissionEvents},
	}
	if s.deps.Admission == nil {
		for i := range routes {
			routes[i].handler = unavailable(errNoAdmissionStore)
		}
	}
	return routes
}

// apiKeyRoutes are the /admin/api-key* routes (apikeys.go).
func (s *Server) apiKeyRoutes() []route {
	routes := []route{
		{[]string{get}, "/admin/api-keys", "admin_api_keys", "list API keys (never secrets)", s.listAPIKeys},
		{[]string{post}, "/admin/api-keys", "admin_api_keys", "create an API key; the plaintext is returned once", s.createAPIKey},
		{[]string{patch}, "/admin/api-keys/:id", "admin_api_keys", "change a key's name, expiry, active flag or rights (id: record id or public id)", s.patchAPIKey},
		{[]string{del}, "/admin/api-keys/:id", "admin_api_keys", "revoke a key (id: record id or public id)", s.revokeAPIKey},
		{[]string{get}, "/admin/api-key-grants", "admin_api_key_grants", "rights granted to the keys (public_id or api_key_id filters)", s.listAPIKeyGrants},
		{[]string{post}, "/admin/api-key-grants", "admin_api_key_grants", "grant a right to a key", s.addAPIKeyGrant},
		{[]string{del}, "/admin/api-key-grants", "admin_api_key_grants", "withdraw a right from a key", s.removeAPIKeyGrant},
		{[]string{get}, "/admin/api-key-rights", "admin_api_key_rights", "the catalogue of right definitions {name, description}", s.listRightDefinitions},
		{[]string{post}, "/admin/api-key-rights", "admin_api_key_rights", "define a right {name, description}", s.createRightDefinition},
		{[]string{patch}, "/admin/api-key-rights/:id", "admin_api_key_rights", "rename or redescribe a right definition (id: its id or name)", s.patchRightDefinition},
		{[]string{del}, "/admin/api-key-rights/:id", "admin_api_key_rights", "delete a right definition (keys keep their grants)", s.deleteRightDefinition},
		{[]string{get}, "/admin/rights/catalog", "admin_api_key_rights", "every right: the server's own and the defined ones", s.listRightsCatalog},
		{[]string{get}, "/admin/api-key-config", "admin_api_key_config", "global key enforcement, fail mode and the per-client overrides", s.getAPIKeyConfig},
		{[]string{put}, "/admin/api-key-config", "admin_api_key_config", "set global key enforcement (enforce_api_keys) and fail mode", s.putAPIKeyConfig},
		{[]string{get}, "/admin/api-key-clients", "admin_api_key_clients", "per-client enforcement overrides", s.listAPIKeyClients},
		{[]string{put}, "/admin/api-key-clients/:client", "admin_api_key_clients", "set a client's enforcement override", s.putAPIKeyClient},
		{[]string{del}, "/admin/api-key-clients/:client", "admin_api_key_clients", "remove a client's enforcement override", s.deleteAPIKeyClient},
	}
	if s.deps.APIKeys == nil {
		for i := range routes {
			routes[i].handler = unavailable(errNoKeyStore)
		}
	}
	return routes
}

// unavailable is the handler of a route whose feature is not configured.
func unavailable(err error) handlerFunc {
	return func(*gin.Context) error { return err }
}

// register adds routes to e, each through the error adapter, and keeps
// them for GET /.
func (s *Server) register(e gin.IRoutes, routes []route) {
	s.routes = routes
	for _, r := range routes {
		h := s.handle(r.Op, r.handler)
		for _, m := range r.Methods {
			e.Handle(m, r.Path, h)
		}
	}
}
