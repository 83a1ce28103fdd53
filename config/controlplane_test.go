package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestControlPlaneDefaultsFileAndEnv(t *testing.T) {
	cfg, err := Load("", env(map[string]string{"HOME": t.TempDir()}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.ControlPlane, DefaultControlPlane(); got != want {
		t.Errorf("defaults: got %+v, want %+v", got, want)
	}

	p := filepath.Join(t.TempDir(), "config.yaml")
	data := `
control_plane:
  client: logs
  poll_interval: 2s
  auto_disable_failures: 3
  migrate_on_start: false
  wildcard_host_pattern: "*.db.example.com"
`
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	getenv := env(map[string]string{
		"ATHENA_CONTROL_PLANE_POLL_INTERVAL":           "750ms",
		"ATHENA_CONTROL_PLANE_DIRECT_URI_MAX_POOLS":    "4",
		"ATHENA_CONTROL_PLANE_DIRECT_URI_IDLE_TIMEOUT": "1m",
		"ATHENA_WILDCARD_HOST_PATTERN":                 "*.Tenants.Example.org",
	})
	cfg, err = Load(p, getenv)
	if err != nil {
		t.Fatal(err)
	}
	cp := cfg.ControlPlane
	if cp.Client != "logs" || cp.AutoDisableFailures != 3 || cp.MigrateOnStart {
		t.Errorf("file values: got %+v", cp)
	}
	if cp.PollInterval != 750*time.Millisecond || cp.DirectURIMaxPools != 4 || cp.DirectURIIdleTimeout != time.Minute {
		t.Errorf("ATHENA_CONTROL_PLANE_* overrides: got %+v", cp)
	}
	if cp.AutoDisableWindow != 24*time.Hour {
		t.Errorf("unset key lost its default: got %v", cp.AutoDisableWindow)
	}
	eff := cp.Effective(getenv)
	if eff.WildcardHostPattern != "*.tenants.example.org" {
		t.Errorf("ATHENA_WILDCARD_HOST_PATTERN: got %q", eff.WildcardHostPattern)
	}
	if s, err := eff.WildcardSuffix(); err != nil || s != ".tenants.example.org" {
		t.Errorf("suffix: got %q, %v", s, err)
	}
}

func TestControlPlaneEffectiveFillsZeroValues(t *testing.T) {
	got := ControlPlane{}.Effective(func(string) string { return "" })
	d := DefaultControlPlane()
	if got.PollInterval != d.PollInterval || got.DirectURIMaxPools != d.DirectURIMaxPools ||
		got.DirectURIIdleTimeout != d.DirectURIIdleTimeout || got.AutoDisableWindow != d.AutoDisableWindow {
		t.Errorf("got %+v", got)
	}
}

func TestControlPlaneValidate(t *testing.T) {
	for _, tt := range []struct {
		give    string
		wantErr bool
	}{
		{"", false},
		{"*.db.example.com", false},
		{"*.localhost", false},
		{"db.example.com", true},
		{"*db.example.com", true},
		{"*.db..example.com", true},
		{"*.db.exa mple.com", true},
		{"*.*.example.com", true},
	} {
		cp := DefaultControlPlane()
		cp.WildcardHostPattern = tt.give
		err := cp.Validate()
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: got %v, want error %v", tt.give, err, tt.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), "wildcard_host_pattern") {
			t.Errorf("%q: error does not name the key: %v", tt.give, err)
		}
	}
	cp := DefaultControlPlane()
	cp.PollInterval = -time.Second
	if cp.Validate() == nil {
		t.Error("negative poll_interval accepted")
	}
}
