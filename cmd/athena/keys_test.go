package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/postgres/postgrestest"
)

// keysTestDB returns a database URL whose search_path is a fresh private
// schema (postgrestest.SchemaURL), dropped when the test ends, and a
// connection to it that is closed then.
func keysTestDB(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	url := postgrestest.SchemaURL(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return url, conn
}

func runKeys(getenv func(string) string, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = keysRun(args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func noEnv(string) string { return "" }

// addClient migrates the logging database at url and adds client name to
// athena_clients, as POST /admin/clients does.
func addClient(t *testing.T, url string, conn *pgx.Conn, name string) {
	t.Helper()
	if code, _, errs := runKeys(noEnv, "list", "--database-url", url); code != 0 {
		t.Fatalf("list (migrate): exit %d, %s", code, errs)
	}
	if _, err := conn.Exec(context.Background(), "INSERT INTO athena_clients (client_name, pg_uri) VALUES ($1, 'postgres://127.0.0.1:1/x')", name); err != nil {
		t.Fatal(err)
	}
}

func TestKeysCreateListRevoke(t *testing.T) {
	url, conn := keysTestDB(t)
	addClient(t, url, conn, "shop")
	env := func(k string) string {
		if k == "ATHENA_LOGGING_DATABASE_URL" {
			return url
		}
		return ""
	}
	code, out, errs := runKeys(env, "create", "--name", "orders app", "--client", "shop",
		"--right", "orders.read", "--right", "users.*,gateway.query", "--expires", "720h")
	if code != 0 {
		t.Fatalf("create: exit %d, stderr %s", code, errs)
	}
	key := strings.TrimSpace(out)
	p, err := auth.ParseKey(key)
	if err != nil || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout: got %q, want exactly the key on one line", out)
	}
	if !strings.Contains(errs, "warning") || !strings.Contains(errs, "only this once") || strings.Contains(errs, key) {
		t.Fatalf("stderr: got %q, want a warning and not the key", errs)
	}

	code, out, errs = runKeys(noEnv, "list", "--database-url", url)
	if code != 0 {
		t.Fatalf("list: exit %d, %s", code, errs)
	}
	secret := key[strings.Index(key, ".")+1:]
	if !strings.Contains(out, p.PublicID) || !strings.Contains(out, "orders.read,users.*,gateway.query") && !strings.Contains(out, "gateway.query,orders.read,users.*") ||
		strings.Contains(out, secret) || !strings.Contains(out, "active") || !strings.Contains(out, "shop") {
		t.Fatalf("list: got\n%s", out)
	}

	// Flags after the positional argument work too.
	if code, out, errs = runKeys(noEnv, "revoke", p.PublicID, "--database-url", url); code != 0 || !strings.Contains(out, "revoked API key "+p.PublicID) {
		t.Fatalf("revoke: exit %d, %q %q", code, out, errs)
	}
	if _, out, _ = runKeys(env, "list"); !strings.Contains(out, "revoked") {
		t.Fatalf("list after revoke: got\n%s", out)
	}
	if code, _, errs = runKeys(env, "revoke", "zzzzzzzzzzzz"); code != 1 || !strings.Contains(errs, "not found") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("revoke unknown: exit %d, %q; want 1 and one not-found line", code, errs)
	}
}

// TestKeysCreateUnknownClient: a key bound to a client that exists neither in
// athena_clients nor in the configuration is refused, and none is stored.
func TestKeysCreateUnknownClient(t *testing.T) {
	url, conn := keysTestDB(t)
	addClient(t, url, conn, "shop")
	gone := "gone"
	addClient(t, url, conn, gone)
	if _, err := conn.Exec(context.Background(), "UPDATE athena_clients SET deleted_at = now() WHERE client_name = $1", gone); err != nil {
		t.Fatal(err)
	}
	configured := writeConfig(t, "postgres_clients:\n  filed: \"postgres://127.0.0.1:1/x\"\n")
	tests := []struct {
		give   string
		config string
		want   int
	}{
		{give: "shop", want: 0},
		{give: "nosuch", want: 1},
		{give: gone, want: 1},
		{give: "filed", config: configured, want: 0},
		{give: "nosuch", config: configured, want: 1},
	}
	for _, tt := range tests {
		args := []string{"create", "--database-url", url, "--name", "k", "--client", tt.give}
		if tt.config != "" {
			args = append(args, "--config", tt.config)
		}
		code, out, errs := runKeys(noEnv, args...)
		if code != tt.want {
			t.Errorf("create --client %s (config %q): got exit %d (stderr %q), want %d", tt.give, tt.config, code, errs, tt.want)
			continue
		}
		if tt.want == 0 {
			continue
		}
		if out != "" || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, `client "`+tt.give+`" does not exist`) {
			t.Errorf("create --client %s: got stdout %q stderr %q, want no key and one line saying the client does not exist", tt.give, out, errs)
		}
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM api_keys WHERE client_name IN ('nosuch', $1)", gone).Scan(&n); err != nil || n != 0 {
		t.Errorf("keys stored for unknown clients: got %d (err %v), want 0", n, err)
	}
}

func TestKeysConfigDatabase(t *testing.T) {
	url, _ := keysTestDB(t)
	dir := t.TempDir()
	path := dir + "/config.yaml"
	if err := os.WriteFile(path, []byte(fmt.Sprintf("postgres_clients:\n  athena_logging: %q\n", url)), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runKeys(noEnv, "create", "--config", path, "--name", "x")
	if code != 0 || !strings.HasPrefix(out, "ath_") {
		t.Fatalf("create via config: exit %d, %q %q", code, out, errs)
	}
}

func TestKeysUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "usage"},
		{"unknown command", []string{"rotate"}, "unknown command"},
		{"unknown flag", []string{"create", "--nope"}, "flag provided but not defined"},
		{"bad right", []string{"create", "--right", "users read"}, "invalid right"},
		{"injected right", []string{"create", "--right", "x'; DROP TABLE api_keys; --"}, "invalid right"},
		{"bad client", []string{"create", "--client", "a b"}, "invalid client"},
		{"bad expires", []string{"create", "--expires", "soon"}, "invalid value"},
		{"negative expires", []string{"create", "--expires", "-1h"}, "must be positive"},
		{"create extra arg", []string{"create", "extra"}, "unexpected argument"},
		{"list extra arg", []string{"list", "x"}, "unexpected argument"},
		{"revoke without id", []string{"revoke"}, "exactly one"},
		{"revoke bad id", []string{"revoke", "X'--"}, "invalid public id"},
		{"no database", []string{"list", "--config", "/nonexistent/config.yaml"}, "config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runKeys(noEnv, tt.args...)
			if code != exitUsage {
				t.Fatalf("exit: got %d, want %d (stderr %q)", code, exitUsage, errs)
			}
			if out != "" {
				t.Errorf("stdout: got %q, want nothing", out)
			}
			if !strings.Contains(errs, tt.want) {
				t.Fatalf("stderr: got %q, want it to mention %q", errs, tt.want)
			}
			if tt.args != nil && strings.Count(errs, "\n") != 1 {
				t.Errorf("stderr: got %q, want one line", errs)
			}
		})
	}
}

func TestKeysDatabaseDown(t *testing.T) {
	code, _, errs := runKeys(noEnv, "list", "--database-url", "postgres://postgres:secretpw@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	if code != 1 || strings.Count(errs, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want 1 and one line", code, errs)
	}
	if strings.Contains(errs, "secretpw") {
		t.Fatalf("password leaked: %q", errs)
	}
}

func TestKeysBadURL(t *testing.T) {
	code, _, errs := runKeys(noEnv, "list", "--database-url", "postgres://u:secretpw@[::1")
	if code != exitUsage || strings.Contains(errs, "secretpw") || strings.Count(errs, "\n") != 1 {
		t.Fatalf("exit %d, stderr %q; want 2, one line, no password", code, errs)
	}
}
