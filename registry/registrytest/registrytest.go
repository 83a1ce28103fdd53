// Package registrytest builds client registries for tests of the packages
// that run SQL through one (activities, workflows, app).
package registrytest

import (
	"context"
	"testing"
	"time"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/postgres/postgrestest"
	"github.com/athena-gateway/athena/registry"
)

// ControlPlane returns a started registry whose logging database is a
// private schema of the test database, migrated at start; it closes when
// the test ends.
func ControlPlane(t testing.TB) *registry.Registry {
	t.Helper()
	cfg := config.Default()
	cfg.ControlPlane.PollInterval = time.Minute
	cfg.Clients = map[string]config.Client{"athena_logging": {URI: postgrestest.SchemaURL(t)}}
	reg := registry.NewWithOptions(cfg, nil, registry.Options{Getenv: func(string) string { return "" }})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := reg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	if reg.ControlPlane() == nil {
		t.Fatal("no control plane pool")
	}
	return reg
}
