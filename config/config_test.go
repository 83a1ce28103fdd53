package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadFileEnvAndOverrides(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	data := `
api:
  port: 5000
postgres:
  max_conns: 4
  statement_timeout: 2s
postgres_clients:
  demo: "postgres://u@h/db"
  secret: "${DB_URL}"
  tuned:
    uri: "postgres://x@y/z"
    max_conns: 2
`
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p, env(map[string]string{"DB_URL": "postgres://s@h/s", "ATHENA_API_PORT": "6000"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Port != 6000 {
		t.Errorf("port: got %d, want 6000 (env override)", cfg.API.Port)
	}
	if cfg.Postgres.MaxConns != 4 || cfg.Postgres.StatementTimeout != 2*time.Second {
		t.Errorf("postgres: got %+v", cfg.Postgres)
	}
	if got := cfg.Clients["secret"].URI; got != "postgres://s@h/s" {
		t.Errorf("env client: got %q", got)
	}
	if got := cfg.Clients["tuned"]; got.MaxConns != 2 || got.URI != "postgres://x@y/z" {
		t.Errorf("mapping client: got %+v", got)
	}
	if cfg.API.BodyLimitBytes != 10<<20 {
		t.Errorf("default body limit lost: %d", cfg.API.BodyLimitBytes)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
		env  map[string]string
		want string
	}{
		{"missing explicit file", filepath.Join(dir, "nope.yaml"), nil, "no such file"},
		{"unknown key", write("a.yaml", "api:\n  prot: 1\n"), nil, "prot"},
		{"unset env ref", write("b.yaml", "postgres_clients:\n  a: ${NOPE}\n"), nil, "NOPE is not set"},
		{"bad client name", write("c.yaml", "postgres_clients:\n  \"a b\": postgres://x\n"), nil, "invalid client name"},
		{"bad env override", write("d.yaml", ""), map[string]string{"ATHENA_API_PORT": "abc"}, "ATHENA_API_PORT"},
		{"bad range", write("e.yaml", "api:\n  port: 70000\n"), nil, "out of range"},
		{"bad trusted proxy", write("f.yaml", "api:\n  trusted_proxies: [10.0.0.0/8, proxy.local]\n"), nil, `"proxy.local" is neither`},
		{"bad trusted proxy from env", write("g.yaml", ""), map[string]string{"ATHENA_API_TRUSTED_PROXIES": "10.0.0.1, nope"}, `"nope" is neither`},
		{"no telemetry slots", write("h.yaml", "telemetry:\n  background_tasks: 0\n"), nil, "telemetry.background_tasks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(tt.path, env(tt.env))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestTrustedProxiesFromEnv(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := Load("", env(map[string]string{"HOME": t.TempDir(), "ATHENA_API_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.1"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.API.TrustedProxies) != 2 || cfg.API.TrustedProxies[0] != "10.0.0.0/8" || cfg.API.TrustedProxies[1] != "192.0.2.1" {
		t.Errorf("trusted proxies: got %q", cfg.API.TrustedProxies)
	}
}

func TestLoadDefaultsWhenNoFile(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg, err := Load("", env(map[string]string{"HOME": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.API.Port != 4052 || cfg.Path != "" {
		t.Errorf("got port %d path %q, want 4052 and no path", cfg.API.Port, cfg.Path)
	}
}

func TestCandidatesOrder(t *testing.T) {
	got := Candidates("", env(map[string]string{"XDG_CONFIG_HOME": "/x", "HOME": "/h"}))
	want := []string{"config.yaml", "/x/athena/config.yaml", "/h/.athena/config.yaml"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %v, want %v", got, want)
	}
	if got := Candidates("", env(map[string]string{"ATHENA_CONFIG_PATH": "/p.yaml"})); len(got) != 1 || got[0] != "/p.yaml" {
		t.Errorf("got %v, want only ATHENA_CONFIG_PATH", got)
	}
}

func TestTemporalSection(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "config.yaml")
	data := "temporal:\n  address: temporal.internal:7233\n  namespace: prod\n  tls_ca_file: /etc/ca.pem\n"
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want Temporal
	}{
		{"file", nil, Temporal{Address: "temporal.internal:7233", Namespace: "prod", TLSCAFile: "/etc/ca.pem"}},
		{
			"TEMPORAL_ env",
			map[string]string{"TEMPORAL_ADDRESS": "x.tmprl.cloud:7233", "TEMPORAL_NAMESPACE": "ns.acct", "TEMPORAL_API_KEY": "k"},
			Temporal{Address: "x.tmprl.cloud:7233", Namespace: "ns.acct", TLSCAFile: "/etc/ca.pem", APIKey: "k"},
		},
		{
			"ATHENA_TEMPORAL_ wins over TEMPORAL_",
			map[string]string{"TEMPORAL_NAMESPACE": "a", "ATHENA_TEMPORAL_NAMESPACE": "b"},
			Temporal{Address: "temporal.internal:7233", Namespace: "b", TLSCAFile: "/etc/ca.pem"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(p, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Temporal != tt.want {
				t.Errorf("got %+v, want %+v", cfg.Temporal, tt.want)
			}
		})
	}
}

func TestTemporalDefaultsAndValidation(t *testing.T) {
	d := Default().Temporal
	if d.Address != "127.0.0.1:7233" || d.Namespace != "default" {
		t.Errorf("got %+v, want 127.0.0.1:7233 / default", d)
	}
	cfg := Default()
	cfg.Temporal.TLSCertFile = "cert.pem"
	cfg.Temporal.Namespace = ""
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "tls_key_file") || !strings.Contains(err.Error(), "temporal.namespace") {
		t.Errorf("got %v, want errors about tls_key_file and temporal.namespace", err)
	}
}

// TestSafeDefaults: keys required and direct URIs off unless configured;
// api_keys.required and gateway.direct_uri come from the file or the
// environment, and a malformed allow-list entry is refused.
func TestSafeDefaults(t *testing.T) {
	d := Default()
	if !d.APIKeys.KeysRequired(true) || d.APIKeys.Required != nil || d.Gateway.DirectURI.Enabled {
		t.Fatalf("defaults: keys %v (set %v), direct URIs %v; want required (not set), off", d.APIKeys.KeysRequired(true), d.APIKeys.Required, d.Gateway.DirectURI.Enabled)
	}
	cfg, err := Load("", func(k string) string {
		return map[string]string{"ATHENA_API_KEYS_REQUIRED": "false"}[k]
	})
	if err != nil || cfg.APIKeys.Required == nil || *cfg.APIKeys.Required {
		t.Fatalf("ATHENA_API_KEYS_REQUIRED=false: got %v, %v", cfg.APIKeys.Required, err)
	}
	c := Default()
	if err := Parse([]byte("api_keys:\n  required: false\ngateway:\n  direct_uri:\n    enabled: true\n    allowed_hosts: [db.internal, \"10.0.0.5:6432\", 10.0.0.0/8, \"::1\"]\n"), &c); err != nil {
		t.Fatal(err)
	}
	if c.APIKeys.KeysRequired(true) || !c.Gateway.DirectURI.Enabled || len(c.Gateway.DirectURI.AllowedHosts) != 4 {
		t.Fatalf("parsed: %+v %+v", c.APIKeys, c.Gateway.DirectURI)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid allow-list refused: %v", err)
	}
	for _, bad := range []string{"", "db:notaport", "http://db", "user@db", "10.0.0.0/33"} {
		c.Gateway.DirectURI.AllowedHosts = []string{bad}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "allowed_hosts") {
			t.Errorf("allowed_hosts %q: got %v, want an error naming allowed_hosts", bad, err)
		}
	}
}
