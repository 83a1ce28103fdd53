package devstack

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/athena-gateway/athena/config"
)

// No Docker engine runs on the CI machines, so docker-compose.yml is checked
// by reading it: a broken reference there would otherwise only show up on
// someone's laptop.

type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Volumes  map[string]any            `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       yaml.Node         `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   yaml.Node         `yaml:"depends_on"`
	Restart     string            `yaml:"restart"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
}

// dependencies returns depends_on in either of its forms (list, or map of
// service to condition) as service → condition ("" for the list form).
func (s composeService) dependencies(t *testing.T) map[string]string {
	t.Helper()
	deps := map[string]string{}
	switch s.DependsOn.Kind {
	case 0:
	case yaml.SequenceNode:
		var names []string
		if err := s.DependsOn.Decode(&names); err != nil {
			t.Fatalf("depends_on: %v", err)
		}
		for _, n := range names {
			deps[n] = ""
		}
	case yaml.MappingNode:
		var m map[string]struct {
			Condition string `yaml:"condition"`
		}
		if err := s.DependsOn.Decode(&m); err != nil {
			t.Fatalf("depends_on: %v", err)
		}
		for n, c := range m {
			deps[n] = c.Condition
		}
	default:
		t.Fatalf("depends_on: unexpected YAML kind %v", s.DependsOn.Kind)
	}
	return deps
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}
	return f
}

func TestComposeServices(t *testing.T) {
	f := readCompose(t)
	for _, name := range []string{"postgres", "redis", "temporal", "temporal-ui", "athena", "athena-worker", "prometheus", "grafana"} {
		if _, ok := f.Services[name]; !ok {
			t.Errorf("service %q: got missing, want defined", name)
		}
	}
	for name, svc := range f.Services {
		for dep, cond := range svc.dependencies(t) {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("service %s depends_on %q: not a defined service", name, dep)
			}
			// Long-running services wait for health; one-shot setup jobs
			// (restart: "no") are waited for to finish.
			want := "service_healthy"
			if f.Services[dep].Restart == "no" {
				want = "service_completed_successfully"
			}
			if cond != want {
				t.Errorf("%s depends_on %s: got condition %q, want %s", name, dep, cond, want)
			}
		}
		// The gateway images are distroless (no shell, no curl): their
		// health is /health, watched by the load balancer.
		oneShot := svc.Restart == "no"
		if !oneShot && !strings.HasPrefix(name, "athena") && (svc.Healthcheck == nil || len(svc.Healthcheck.Test) == 0) {
			t.Errorf("service %s: got no healthcheck test, want one", name)
		}
		if svc.Image == "" && svc.Build.Kind == 0 {
			t.Errorf("service %s: got neither image nor build", name)
		}
		for _, v := range svc.Volumes {
			source, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(source, ".") || strings.HasPrefix(source, "/") {
				continue
			}
			if _, ok := f.Volumes[source]; !ok {
				t.Errorf("service %s mounts volume %q: not declared under volumes", name, source)
			}
		}
	}
}

func TestComposeAthena(t *testing.T) {
	f := readCompose(t)
	for name, wantCmd := range map[string]string{"athena": "serve", "athena-worker": "worker"} {
		t.Run(name, func(t *testing.T) {
			svc, ok := f.Services[name]
			if !ok {
				t.Fatalf("no %s service", name)
			}
			if !slices.Equal(svc.Command, []string{wantCmd}) {
				t.Errorf("command: got %v, want [%s]", svc.Command, wantCmd)
			}
			cfg := mountedConfig(t, svc)
			for client, c := range cfg.Clients {
				u, err := url.Parse(c.URI)
				if err != nil || u.Scheme != "postgres" {
					t.Errorf("postgres_clients.%s: got %q, want a postgres:// URI", client, c.URI)
					continue
				}
				if _, ok := f.Services[u.Hostname()]; !ok {
					t.Errorf("postgres_clients.%s: host %q is not a compose service", client, u.Hostname())
				}
			}
			if _, ok := cfg.Clients[cfg.ControlPlane.Client]; !ok {
				t.Errorf("control plane client %q is not configured", cfg.ControlPlane.Client)
			}
			host, _, err := net.SplitHostPort(cfg.Temporal.Address)
			if err != nil {
				t.Fatalf("temporal.address %q: %v", cfg.Temporal.Address, err)
			}
			if _, ok := f.Services[host]; !ok {
				t.Errorf("temporal.address host %q is not a compose service", host)
			}
		})
	}
	published := false
	for _, p := range f.Services["athena"].Ports {
		parts := strings.Split(p, ":")
		if len(parts) >= 2 && parts[len(parts)-2] == "4052" && strings.TrimSuffix(parts[len(parts)-1], "/tcp") == "4052" {
			published = true
		}
	}
	if !published {
		t.Errorf("athena ports: got %v, want 4052 published as 4052", f.Services["athena"].Ports)
	}
}

// mountedConfig loads the file mounted at ATHENA_CONFIG_PATH with the real
// loader (unknown keys are errors), so the compose config cannot drift
// from the code.
func mountedConfig(t *testing.T, svc composeService) config.Config {
	t.Helper()
	configPath := svc.Environment["ATHENA_CONFIG_PATH"]
	if configPath == "" {
		t.Fatal("environment: no ATHENA_CONFIG_PATH")
	}
	var source string
	for _, v := range svc.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == configPath {
			source = parts[0]
		}
	}
	if source == "" {
		t.Fatalf("volumes %v: nothing mounted at ATHENA_CONFIG_PATH %s", svc.Volumes, configPath)
	}
	cfg, err := config.Load(filepath.Join("..", source), func(string) string { return "" })
	if err != nil {
		t.Fatalf("mounted config %s: %v", source, err)
	}
	return cfg
}

// TestComposeObservability checks that Prometheus scrapes a compose service
// and Grafana's provisioning files exist where they are mounted from.
func TestComposeObservability(t *testing.T) {
	f := readCompose(t)
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		ScrapeConfigs []struct {
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	if len(prom.ScrapeConfigs) == 0 {
		t.Fatal("prometheus.yml: no scrape_configs")
	}
	for _, sc := range prom.ScrapeConfigs {
		for _, st := range sc.StaticConfigs {
			for _, target := range st.Targets {
				host, _, _ := net.SplitHostPort(target)
				if _, ok := f.Services[host]; !ok {
					t.Errorf("prometheus target %q is not a compose service", target)
				}
			}
		}
	}
	for _, svc := range []string{"prometheus", "grafana", "temporal-schema", "temporal-namespace", "postgres"} {
		for _, v := range f.Services[svc].Volumes {
			source, _, _ := strings.Cut(v, ":")
			if !strings.HasPrefix(source, ".") {
				continue
			}
			if _, err := os.Stat(filepath.Join("..", source)); err != nil {
				t.Errorf("service %s mounts %s: %v", svc, source, err)
			}
		}
	}
}

func TestDockerfile(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FROM golang:1\.27\S* AS build$`),
		regexp.MustCompile(`(?m)^ENV CGO_ENABLED=0$`),
		regexp.MustCompile(`(?m)^RUN go build .*-o /out/athena \./cmd/athena$`),
		regexp.MustCompile(`(?m)^EXPOSE 4052$`),
		regexp.MustCompile(`(?m)^ENTRYPOINT \["/athena"\]$`),
		regexp.MustCompile(`(?m)^CMD \["serve"\]$`),
	} {
		if !want.Match(raw) {
			t.Errorf("Dockerfile: got no line matching %s", want)
		}
	}
}

// TestComposeDemoSeeded: the init script gives the compose demo database the
// schema and rows `make run` seeds, which the README's examples use.
func TestComposeDemoSeeded(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "deploy", "postgres-init.sql"))
	if err != nil {
		t.Fatal(err)
	}
	sql := string(raw)
	cfg := mountedConfig(t, readCompose(t).Services["athena"])
	u, err := url.Parse(cfg.Clients["demo"].URI)
	if err != nil {
		t.Fatalf("postgres_clients.demo: %v", err)
	}
	demoDB := strings.TrimPrefix(u.Path, "/")
	for _, want := range []string{
		"CREATE DATABASE " + demoDB + ";",
		"\n\\connect " + demoDB + "\n",
		strings.TrimSpace(demoSchema),
		strings.TrimSpace(demoRows),
	} {
		if !strings.Contains(sql, want) {
			t.Errorf("deploy/postgres-init.sql: want it to contain %.80q", want)
		}
	}
	// The demo rows go into the demo database, after \connect.
	if strings.Index(sql, "\\connect "+demoDB) > strings.Index(sql, strings.TrimSpace(demoSchema)) {
		t.Error("deploy/postgres-init.sql: the demo schema comes before \\connect " + demoDB)
	}
	logging := mountedConfig(t, readCompose(t).Services["athena"]).Clients[cfg.ControlPlane.Client].URI
	if lu, err := url.Parse(logging); err != nil || !strings.Contains(sql, "CREATE DATABASE "+strings.TrimPrefix(lu.Path, "/")+";") {
		t.Errorf("deploy/postgres-init.sql: want it to create the logging database of %q", logging)
	}
}

// TestComposeRedis: the gateway's cache points at the compose Redis, and the
// services using it wait for it.
func TestComposeRedis(t *testing.T) {
	f := readCompose(t)
	for _, name := range []string{"athena", "athena-worker"} {
		svc := f.Services[name]
		cfg := mountedConfig(t, svc)
		u, err := url.Parse(cfg.Redis.URL)
		if err != nil || u.Scheme != "redis" {
			t.Errorf("%s: redis.url: got %q, want a redis:// URL", name, cfg.Redis.URL)
			continue
		}
		if _, ok := f.Services[u.Hostname()]; !ok {
			t.Errorf("%s: redis.url host %q is not a compose service", name, u.Hostname())
			continue
		}
		if cond := svc.dependencies(t)[u.Hostname()]; cond != "service_healthy" {
			t.Errorf("%s depends_on %s: got condition %q, want service_healthy", name, u.Hostname(), cond)
		}
	}
}

// TestComposeAdminKey: the gateway has an admin key, taken from the
// environment, with a default that says it is for development only.
func TestComposeAdminKey(t *testing.T) {
	got := readCompose(t).Services["athena"].Environment["ATHENA_ADMIN_KEY"]
	m := regexp.MustCompile(`^\$\{ATHENA_ADMIN_KEY:-([^}]+)\}$`).FindStringSubmatch(got)
	if m == nil {
		t.Fatalf("athena environment ATHENA_ADMIN_KEY: got %q, want ${ATHENA_ADMIN_KEY:-<dev default>}", got)
	}
	if def := m[1]; !strings.Contains(def, "dev") || !strings.Contains(def, "change-me") || len(def) < 16 {
		t.Errorf("ATHENA_ADMIN_KEY default: got %q, want a long value saying it is a dev default to change", def)
	}
	raw, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), m[1]) {
		t.Errorf("README.md: want it to document the compose admin key default %q", m[1])
	}
}

// TestComposeCommentsCiteFiles: every file a comment of docker-compose.yml
// or deploy/ names exists in the repository.
func TestComposeCommentsCiteFiles(t *testing.T) {
	fileRef := regexp.MustCompile(`[\w./-]+\.(?:md|ya?ml|sql|sh|json|go)\b`)
	sources := []string{"docker-compose.yml"}
	deploy, err := filepath.Glob(filepath.Join("..", "deploy", "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range deploy {
		sources = append(sources, filepath.Join("deploy", filepath.Base(d)))
	}
	for _, src := range sources {
		raw, err := os.ReadFile(filepath.Join("..", src))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(raw), "\n") {
			_, comment, ok := strings.Cut(line, "#")
			if strings.HasSuffix(src, ".sql") {
				_, comment, ok = strings.Cut(line, "--")
			}
			if !ok {
				continue
			}
			for _, ref := range fileRef.FindAllString(comment, -1) {
				if strings.HasPrefix(ref, "/") { // a path inside a container
					continue
				}
				if _, err := os.Stat(filepath.Join("..", ref)); err != nil {
					t.Errorf("%s:%d cites %s: not in the repository", src, i+1, ref)
				}
			}
		}
	}
}
