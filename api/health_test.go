package api

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/athena-gateway/athena/auth"
	"github.com/athena-gateway/athena/config"
	"github.com/athena-gateway/athena/registry"
)

func TestHealthRequiredAndOptionalChecks(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(config.Default(), log)
	t.Cleanup(reg.Close)
	down := func(context.Context) error { return errors.New("dial tcp: refused") }
	up := func(context.Context) error { return nil }
	tests := []struct {
		name   string
		checks []HealthCheck
		want   int
	}{
		{"all up", []HealthCheck{{"temporal", false, up}, {"logging_database", true, up}}, 200},
		{"optional down", []HealthCheck{{"temporal", false, down}, {"logging_database", true, up}}, 200},
		{"required down", []HealthCheck{{"temporal", false, up}, {"logging_database", true, down}}, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &harness{t: t, engine: New(registryDeps(reg, nil), Options{Version: "t", Checks: tt.checks}, log)}
			r := h.do("GET", "/health", "", "").want(t, tt.want)
			checks, _ := r.JSON["checks"].(map[string]any)
			for _, c := range tt.checks {
				got, _ := checks[c.Name].(map[string]any)
				want := "ok"
				if c.Check(context.Background()) != nil {
					want = "down"
				}
				if got["status"] != want || got["required"] != c.Required {
					t.Errorf("check %s: got %v, want status %s required %v", c.Name, got, want, c.Required)
				}
				if _, leaks := got["error"].(string); leaks && got["error"] == "dial tcp: refused" {
					t.Errorf("check %s leaks the underlying error", c.Name)
				}
			}
		})
	}
}

// sdkCompatible is the SDK's verdict on a GET /health or GET / body
// (xylex-group/athena-js src/compatibility/report.ts
// buildCompatibilityReportFromHealth with src/release/identity.ts
// normalizeAthenaHealthPayload): the major of release.version, falling
// back to the top-level version, must not be below 4; above 5 is a
// warning, a major-5 release without codename an info.
func sdkCompatible(t *testing.T, body map[string]any) (compatible bool, warnings []string) {
	t.Helper()
	version, _ := body["version"].(string)
	rel, _ := body["release"].(map[string]any)
	if v, _ := rel["version"].(string); strings.TrimSpace(v) != "" {
		version = v
	}
	m := regexp.MustCompile(`^(\d+)`).FindStringSubmatch(strings.TrimSpace(version))
	if m == nil {
		return true, []string{"no major"}
	}
	major, _ := strconv.Atoi(m[1])
	compatible = major >= 4
	if major > 5 {
		warnings = append(warnings, "ATHENA_SERVER_MAJOR_NEWER")
	}
	if c, _ := rel["codename"].(string); strings.TrimSpace(c) == "" && major == 5 {
		warnings = append(warnings, "ATHENA_RELEASE_CODENAME_MISSING")
	}
	return compatible, warnings
}

// /health and / carry release {version, codename, channel} with the wire
// protocol generation, so the SDK's system.compatibility() reports this
// server compatible; the build version stays at the top level (spec §2).
func TestReleaseIdentityIsSDKCompatible(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg := registry.New(config.Default(), log)
	t.Cleanup(reg.Close)
	for _, tc := range []struct{ build, channel string }{
		{"0.1.0-dev", "development"},
		{"1.2.0", "stable"},
		{"1.3.0-rc.1", "rc"},
	} {
		h := &harness{t: t, engine: New(registryDeps(reg, nil), Options{Version: tc.build}, log)}
		for _, path := range []string{"/health", "/", "/db/health", "/db/"} {
			r := h.do("GET", path, "", "").want(t, 200)
			// The build alone would read as major 0 or 1: incompatible.
			if ok, _ := sdkCompatible(t, map[string]any{"version": tc.build}); ok {
				t.Fatalf("the check is vacuous: build %s alone is compatible", tc.build)
			}
			ok, warnings := sdkCompatible(t, r.JSON)
			if !ok || len(warnings) != 0 {
				t.Errorf("%s %s: compatible %v, warnings %v; body %s", tc.build, path, ok, warnings, r.Body)
			}
			rel, _ := r.JSON["release"].(map[string]any)
			if rel["version"] != protocolVersion || !strings.HasPrefix(protocolVersion, "5.") || rel["channel"] != tc.channel || r.JSON["version"] != tc.build {
				t.Errorf("%s %s: release %v, version %v", tc.build, path, rel, r.JSON["version"])
			}
		}
	}
}

// Without the admin key /health names no tenant and opens no tenant pool
// (spec §2); with it every client is checked and listed.
func TestHealthTenantChecksNeedAdminKey(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := config.Default()
	cfg.Clients = map[string]config.Client{
		"lazy_one": {URI: testDatabaseURL()},
		"lazy_two": {URI: testDatabaseURL()},
	}
	reg := registry.New(cfg, log)
	t.Cleanup(reg.Close)
	a := auth.New(nil, auth.Options{AdminKey: testAdminKey})
	t.Cleanup(a.Close)
	h := &harness{t: t, engine: New(registryDeps(reg, a), Options{Version: "t"}, log)}
	opened := func() []string {
		var out []string
		for _, ps := range reg.Stats() {
			if ps.Kind == "client" && ps.Open {
				out = append(out, ps.Client)
			}
		}
		return out
	}
	for _, hdr := range [][]string{nil, {"X-Athena-Admin-Key", "wrong"}, {"X-Athena-Key", "ath_nobody.secret"}} {
		r := h.do("GET", "/health", "", "", hdr...).want(t, 200)
		if strings.Contains(string(r.Body), "lazy_") || strings.Contains(string(r.Body), "client:") {
			t.Errorf("headers %v: /health names tenants: %s", hdr, r.Body)
		}
		if got := opened(); len(got) != 0 {
			t.Errorf("headers %v: /health opened the pools of %v", hdr, got)
		}
	}
	h.adminKey = testAdminKey
	r := h.do("GET", "/health", "", "").want(t, 200)
	checks, _ := r.JSON["checks"].(map[string]any)
	for _, name := range []string{"lazy_one", "lazy_two"} {
		if _, ok := checks["client:"+name].(map[string]any); !ok {
			t.Errorf("admin /health does not list %s: %s", name, r.Body)
		}
	}
}
