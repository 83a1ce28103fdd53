package postgres

import (
	"context"
	"sync"
	"testing"
)

// TestMigrateIdempotentAndConcurrent runs the migrations from several
// goroutines into a fresh database, then again: every spec §7 table exists
// and the second run changes nothing.
func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	ctx := context.Background()
	env := testDB(t) // a private schema first on the search_path
	pool := env.pool
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = Migrate(ctx, pool)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
	from, to, err := Migrate(ctx, pool)
	if err != nil || from != to || to < 1 {
		t.Fatalf("second migrate: from %d to %d, %v; want no change", from, to, err)
	}
	for _, table := range []string{"athena_clients", "athena_client_configs", "gateway_request_log", "gateway_operation_log",
		"client_statistics", "client_table_statistics", "gateway_admission_events", "gateway_deferred_requests",
		"pipeline_step_log", "api_keys", "api_key_grants", "api_key_rights", "api_key_config", "api_key_client_config", "public_gateway_routes",
		"admin_audit_log"} {
		var ok bool
		if err := pool.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", env.schema+"."+table).Scan(&ok); err != nil || !ok {
			t.Errorf("table %s missing after migrate (%v)", table, err)
		}
	}
}
