package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/internal/testenv"
	"github.com/athena-gateway/athena/postgres/postgrestest"
)

// TestBadInvocationsExitTwo: bad commands, flags and configuration print one
// clear line and exit with code 2.
func TestBadInvocationsExitTwo(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("api:\n  prot: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"fly"}, `unknown command "fly"`},
		{"unknown flag", []string{"serve", "-nope"}, "flag provided but not defined"},
		{"missing config file", []string{"serve", "-config", filepath.Join(dir, "none.yaml")}, "no such file"},
		{"unknown config key", []string{"serve", "-config", badYAML}, "prot"},
		{"bad log format", []string{"serve", "-log-format", "xml"}, "invalid -log-format"},
		{"migrate without database", []string{"migrate", "-config", writeConfig(t, "postgres_clients: {}\n")}, "no logging database"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			if got := run(tt.args, &bytes.Buffer{}, &stderr); got != exitUsage {
				t.Errorf("exit code: got %d, want %d (stderr %q)", got, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr: got %q, want it to mention %q", stderr.String(), tt.want)
			}
		})
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServePortTaken: a taken port is a start error with a clear message,
// not a hang.
func TestServePortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	cfg := writeConfig(t, "api:\n  host: 127.0.0.1\n  port: "+strconv.Itoa(port)+"\ntemporal:\n  address: 127.0.0.1:1\n")
	var stderr bytes.Buffer
	if got := run([]string{"serve", "-config", cfg}, &bytes.Buffer{}, &stderr); got != 1 {
		t.Errorf("exit code: got %d, want 1", got)
	}
	if !strings.Contains(stderr.String(), "address already in use") {
		t.Errorf("stderr: got %q, want it to say the address is in use", stderr.String())
	}
}

// TestMigrateCommand applies the migrations to a fresh schema twice.
func TestMigrateCommand(t *testing.T) {
	base := postgrestest.URL()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testenv.Unavailable(t, "PostgreSQL", err)
	}
	defer conn.Close(ctx)
	schema := "migrate_cmd_test"
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	uri := base + "&search_path=" + schema
	for i, want := range []string{"migrated from version 0 to", "up to date"} {
		var stdout, stderr bytes.Buffer
		if got := run([]string{"migrate", "-database-url", uri}, &stdout, &stderr); got != 0 {
			t.Fatalf("run %d: exit %d: %s", i, got, stderr.String())
		}
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("run %d: got %q, want %q", i, stdout.String(), want)
		}
	}
}

// TestDevRedisOptional: the dev stack keeps REDIS_URL only when Redis
// answers, and otherwise runs without it.
func TestDevRedisOptional(t *testing.T) {
	log := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	tests := []struct {
		url, wantURL, wantLine string
	}{
		{"", "", "not used"},
		{"redis://127.0.0.1:1/0", "", "not answering"},
		{"redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", "connected"},
	}
	for _, tt := range tests {
		cfg := config.Default()
		cfg.Redis.URL = tt.url
		line := useRedisIfAnswering(&cfg, log)
		if cfg.Redis.URL != tt.wantURL || !strings.Contains(line, tt.wantLine) {
			t.Errorf("%q: got url %q line %q, want url %q line containing %q", tt.url, cfg.Redis.URL, line, tt.wantURL, tt.wantLine)
		}
	}
}
