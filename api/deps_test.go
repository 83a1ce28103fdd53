package api

import (
	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/postgres"
	"github.com/athena-gateway/athena/registry"
)

// registryDeps wires reg the way package app does: the registry serves the
// client lookups and admin routes; with a control plane (logging database)
// its pool backs the statistics and the idempotency records. a may be nil
// (no key store: anonymous gateway, closed admin API).
func registryDeps(reg *registry.Registry, a *auth.Authenticator) Deps {
	d := Deps{Clients: reg, ClientAdmin: reg, HostRoutes: reg, Auth: a}
	if pool := reg.ControlPlane(); pool != nil {
		d.Stats = postgres.NewStatsStore(pool)
		d.Idempotency = postgres.NewTransactionResults(pool, 0)
	}
	return d
}

// withKeys is d with the key store serving the /admin/api-key* routes.
func withKeys(d Deps, keys *postgres.KeyStore) Deps {
	d.APIKeys = keys
	return d
}

// withRefresh is d with refresh starting statistics refreshes; nil leaves
// the refresh unconfigured (no Temporal).
func withRefresh(d Deps, refresh StatsRefresherFunc) Deps {
	if refresh != nil {
		d.StatsRefresh = refresh
	}
	return d
}
