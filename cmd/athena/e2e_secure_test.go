package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/app"
	"github.com/athena-gateway/athena/config"
)

// lockedBuffer is a log sink shared by the app's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeRequiresKeysByDefault is spec §1.2's decision: a fresh
// `athena serve` (fresh logging database, no enforcement stored) refuses
// tenant requests without a key, with or without a logging database, unless
// the configuration opts out (api_keys.required: false); start-up logs the
// mode in one line.
func TestServeRequiresKeysByDefault(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	const read = `{"table_name":"orders","limit":5}`
	for _, tt := range []struct {
		name         string
		controlPlane bool
		file         string
		env          string
		wantStatus   int
		wantLog      string
	}{
		{"fresh logging database", true, "", "", 401, "API keys required for tenant requests"},
		{"no logging database", false, "", "", 401, "only the admin key opens tenant routes"},
		{"opted out in the file", true, "api_keys:\n  required: false\n", "", 200, "API keys NOT required"},
		{"opted out by environment", false, "", "false", 200, "api_keys.required is false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tenantURL, conn := keysTestDB(t)
			if _, err := conn.Exec(context.Background(), `CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL); INSERT INTO orders (item) VALUES ('book')`); err != nil {
				t.Fatal(err)
			}
			cfg, err := config.Load(writeConfig(t, tt.file), func(k string) string {
				if k == "ATHENA_API_KEYS_REQUIRED" {
					return tt.env
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg.API.Host, cfg.API.Port = "127.0.0.1", 0
			cfg.Temporal.Address = "127.0.0.1:1" // lazy client: not needed here
			cfg.Clients = map[string]config.Client{"shop": {URI: tenantURL, ExposedSchemas: []string{schemaOf(t, tenantURL)}}}
			if tt.controlPlane {
				cfg.Clients["athena_logging"] = config.Client{URI: postgresSchemaURL(t)}
			}
			logs := &lockedBuffer{}
			var engine *gin.Engine
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			a, err := app.Start(ctx, app.Serve(app.Params{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(logs, nil))}), &engine)
			if err != nil {
				t.Fatalf("start gateway: %v", err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_ = a.Stop(ctx)
			})
			g := &gatewayProcess{engine: engine}
			if code, body := g.do("POST", "/gateway/fetch", "shop", "", read); code != tt.wantStatus {
				t.Errorf("fetch without a key: got %d, want %d; %s", code, tt.wantStatus, body)
			}
			var modeLines []string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "API keys ") && strings.Contains(l, "why=") {
					modeLines = append(modeLines, l)
				}
			}
			if len(modeLines) != 1 || !strings.Contains(modeLines[0], tt.wantLog) || !strings.Contains(modeLines[0], "level=INFO") {
				t.Errorf("start-up mode lines: got %q, want one INFO line containing %q", modeLines, tt.wantLog)
			}
		})
	}
}

// schemaOf is the private schema a test URL's search_path names: a URI's
// search_path exposes nothing (spec §1.1), so tests expose it explicitly.
func schemaOf(t *testing.T, uri string) string {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// TestServeStopsCleanlyWithoutTemporal: SIGTERM (Stop) while Temporal is
// unreachable ends `athena serve` without an error (exit 0) and applies the
// statistics it still held directly, with the StatsFlush activity's
// exactly-once transaction, instead of losing them (issue 12, shutdown).
func TestServeStopsCleanlyWithoutTemporal(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	tenantURL, conn := keysTestDB(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE TABLE orders (id bigserial PRIMARY KEY, item text NOT NULL); INSERT INTO orders (item) VALUES ('book')`); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(writeConfig(t, "api_keys:\n  required: false\ntelemetry:\n  enabled: true\n"), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	cfg.API.Host, cfg.API.Port = "127.0.0.1", 0
	cfg.Temporal.Address = "127.0.0.1:1" // nothing listens: every StatsFlush start fails
	cpURL := postgresSchemaURL(t)
	cfg.Clients = map[string]config.Client{
		"shop":           {URI: tenantURL, ExposedSchemas: []string{schemaOf(t, tenantURL)}},
		"athena_logging": {URI: cpURL},
	}
	var engine *gin.Engine
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	a, err := app.Start(sctx, app.Serve(app.Params{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}), &engine)
	if err != nil {
		t.Fatalf("start gateway: %v", err)
	}
	g := &gatewayProcess{engine: engine}
	const requests = 3
	for range requests {
		if code, body := g.do("POST", "/gateway/fetch", "shop", "", `{"table_name":"orders"}`); code != 200 {
			t.Fatalf("fetch: %d %s", code, body)
		}
	}
	stopCtx, cancelStop := context.WithTimeout(ctx, 60*time.Second)
	defer cancelStop()
	if err := a.Stop(stopCtx); err != nil {
		t.Fatalf("stop with Temporal unreachable: %v (athena serve would exit 1)", err)
	}
	cp, err := pgx.Connect(ctx, cpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close(ctx)
	var total int64
	if err := cp.QueryRow(ctx, `SELECT coalesce(sum(total_requests), 0) FROM client_statistics WHERE client_name = 'shop'`).Scan(&total); err != nil {
		t.Fatal(err)
	}
	if total != requests {
		t.Errorf("client_statistics counts %d requests after shutdown, want %d (statistics lost)", total, requests)
	}
}

// postgresSchemaURL is a fresh private schema for a logging database.
func postgresSchemaURL(t *testing.T) string {
	u, _ := keysTestDB(t)
	return u
}
