package api

import (
	"github.com/gin-gonic/gin"
)

// route is one entry of the HTTP surface; GET / lists them.
type route struct {
	Methods []string `json:"methods"`
	Path    string   `json:"path"`
	Summary string   `json:"summary"`
	handler gin.HandlerFunc
}

// registerRoutes is the whole HTTP surface, top to bottom.
func (s *Server) registerRoutes(e *gin.Engine) {
	get, post, put, patch, del := "GET", "POST", "PUT", "PATCH", "DELETE"
	s.routes = []route{
		{[]string{get}, "/", "service information and this route list", s.root},
		{[]string{get}, "/ping", "liveness: answers pong", s.ping},
		{[]string{get}, "/health", "dependency checks with latency", s.health},
		{[]string{get}, "/metrics", "Prometheus metrics", s.metrics},

		{[]string{post}, "/gateway/fetch", "read rows with conditions, embeds, sorting, paging and counts", s.fetch},
		{[]string{post}, "/gateway/data", "alias of /gateway/fetch", s.fetch},
		{[]string{put, post}, "/gateway/insert", "insert one or many rows; upsert with on_conflict", s.insert},
		{[]string{post}, "/gateway/update", "update rows matching conditions", s.update},
		{[]string{del, post}, "/gateway/delete", "delete by resource_id or conditions", s.delete},
		{[]string{post}, "/gateway/query", "raw SQL with bind parameters", s.query},
		{[]string{post}, "/gateway/sql", "alias of /gateway/query", s.query},
		{[]string{post}, "/query/sql", "alias of /gateway/query", s.query},
		{[]string{post}, "/gateway/transaction", "run fetch/insert/update/delete operations in one database transaction", s.transactionRoute()},
		{[]string{post}, "/gateway/rpc", "call a database function", s.rpc},
		{[]string{get, post}, "/rpc/:function", "call a database function (PostgREST style, unenveloped)", s.rpcPath},

		{[]string{get}, "/schema/tables", "tables and views of the client database", s.schemaTables},
		{[]string{get}, "/schema/columns", "columns, filtered by table_name and table_schema", s.schemaColumns},
		{[]string{get}, "/schema/constraints", "constraints, filtered by table_name and table_schema", s.schemaConstraints},

		// Admin surface: every route needs the admin key (ATHENA_ADMIN_KEY).
		{[]string{get}, "/schema/clients", "names of the registered clients (admin)", s.adminOnly(s.clientNames)},
		{[]string{get}, "/clients", "names of the registered clients (admin)", s.adminOnly(s.clientNames)},
		{[]string{get}, "/admin/clients", "the client registry: source, state, failures (URIs redacted)", s.adminOnly(s.adminListClients)},
		{[]string{get}, "/admin/clients/statistics", "request statistics of every client", s.adminOnly(s.adminListStatistics)},
		{[]string{post}, "/admin/clients/statistics/refresh", "rebuild the statistics from the request and operation logs as a StatsRefresh workflow (202 with its ids; wait=true waits for the counts)", s.adminOnly(s.adminRefreshStatistics)},
		{[]string{get}, "/admin/clients/:name/statistics", "a client's statistics per table and operation", s.adminOnly(s.adminClientStatistics)},
		{[]string{get}, "/admin/clients/:name/statistics/drilldown", "a client's operation log, newest first (table_name, operation, status=all|errors, limit, offset)", s.adminOnly(s.adminStatisticsDrilldown)},
		{[]string{post}, "/admin/clients", "create a database client", s.adminOnly(s.adminCreateClient)},
		{[]string{patch}, "/admin/clients/:name", "change a client's URI, state or metadata", s.adminOnly(s.adminPatchClient)},
		{[]string{del}, "/admin/clients/:name", "soft-delete a database client", s.adminOnly(s.adminDeleteClient)},
		{[]string{put}, "/admin/clients/:name/freeze", "freeze (503 client_frozen) or thaw a client", s.adminOnly(s.adminFreezeClient)},
		{[]string{get}, "/admin/pools", "connection pool statistics per client", s.adminOnly(s.adminPools)},
		{[]string{get}, "/admin/routes", "wildcard host routes", s.adminOnly(s.adminListRoutes)},
		{[]string{put}, "/admin/routes/:key", "create or replace a wildcard host route", s.adminOnly(s.adminPutRoute)},
		{[]string{del}, "/admin/routes/:key", "delete a wildcard host route", s.adminOnly(s.adminDeleteRoute)},
		{[]string{get}, "/admin/api-keys", "list API keys (never secrets)", s.adminOnly(s.listAPIKeys)},
		{[]string{post}, "/admin/api-keys", "create an API key; the plaintext is returned once", s.adminOnly(s.createAPIKey)},
		{[]string{patch}, "/admin/api-keys/:id", "change a key's name, expiry or active flag", s.adminOnly(s.patchAPIKey)},
		{[]string{del}, "/admin/api-keys/:id", "revoke a key", s.adminOnly(s.revokeAPIKey)},
		{[]string{get}, "/admin/api-key-rights", "rights of the keys", s.adminOnly(s.listAPIKeyRights)},
		{[]string{post}, "/admin/api-key-rights", "grant a right", s.adminOnly(s.addAPIKeyRight)},
		{[]string{del}, "/admin/api-key-rights", "remove a right", s.adminOnly(s.removeAPIKeyRight)},
		{[]string{get}, "/admin/api-key-config", "global key enforcement and fail mode", s.adminOnly(s.getAPIKeyConfig)},
		{[]string{put}, "/admin/api-key-config", "set global key enforcement and fail mode", s.adminOnly(s.putAPIKeyConfig)},
		{[]string{get}, "/admin/api-key-clients", "per-client enforcement overrides", s.adminOnly(s.listAPIKeyClients)},
		{[]string{put}, "/admin/api-key-clients/:client", "set a client's enforcement override", s.adminOnly(s.putAPIKeyClient)},
		{[]string{del}, "/admin/api-key-clients/:client", "remove a client's enforcement override", s.adminOnly(s.deleteAPIKeyClient)},
	}
	for _, r := range s.routes {
		for _, m := range r.Methods {
			e.Handle(m, r.Path, r.handler)
		}
	}
}
