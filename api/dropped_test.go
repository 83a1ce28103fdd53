package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/registry"
)

// TestReadRetriedOnDroppedConnection: a fetch whose pooled connections
// were all terminated (pg_terminate_backend, as a server restart does)
// while idle is retried once on a live connection and answers 200.
func TestReadRetriedOnDroppedConnection(t *testing.T) {
	h := newHarness(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	app := "athena_dropped_" + hex.EncodeToString(b[:]) // only our sessions are terminated
	cfg := config.Default()
	cfg.Postgres.MaxConns = 3
	cfg.Clients = map[string]config.Client{"drop": {URI: testDatabaseURL() + sepFor(testDatabaseURL()) + "application_name=" + app, ExposedSchemas: []string{h.schema}}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(cfg, log)
	t.Cleanup(reg.Close)
	gin.SetMode(gin.TestMode)
	h2 := &harness{t: t, engine: New(registryDeps(reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits()}, log), reg: reg, schema: h.schema}

	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	for round := range 3 {
		h2.do("POST", "/gateway/fetch", "drop", `{"table_name":"users"}`).want(t, 200)
		var n int
		if err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("no session of the pool to terminate")
		}
		// Wait until the terminated sessions are gone, so the next fetch
		// meets a dropped connection, not one being dropped.
		for i := 0; i < 100; i++ {
			var left int
			_ = admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&left)
			if left == 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		r := h2.do("POST", "/gateway/fetch", "drop", `{"table_name":"users"}`)
		if r.Status != 200 {
			t.Fatalf("round %d: fetch after its connection was dropped: %d %s", round, r.Status, r.Body)
		}
		if got := len(r.rows(t)); got != 3 {
			t.Fatalf("round %d: %d rows after the retry, want 3", round, got)
		}
	}
}

func sepFor(uri string) string {
	if strings.Contains(uri, "?") {
		return "&"
	}
	return "?"
}
