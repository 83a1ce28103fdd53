package devstack

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
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
	for _, name := range []string{"postgres", "redis", "athena"} {
		if _, ok := f.Services[name]; !ok {
			t.Errorf("service %q: got missing, want defined", name)
		}
	}
	for name, svc := range f.Services {
		for dep, cond := range svc.dependencies(t) {
			if _, ok := f.Services[dep]; !ok {
				t.Errorf("service %s depends_on %q: not a defined service", name, dep)
			}
			if name == "athena" && cond != "service_healthy" {
				t.Errorf("athena depends_on %s: got condition %q, want service_healthy", dep, cond)
			}
		}
		if name != "athena" && (svc.Healthcheck == nil || len(svc.Healthcheck.Test) == 0) {
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
	athena, ok := f.Services["athena"]
	if !ok {
		t.Fatal("no athena service")
	}
	if !slices.Equal(athena.Command, []string{"serve"}) {
		t.Errorf("athena command: got %v, want [serve]", athena.Command)
	}
	published := false
	for _, p := range athena.Ports {
		parts := strings.Split(p, ":")
		if len(parts) >= 2 && parts[len(parts)-2] == "4052" && strings.TrimSuffix(parts[len(parts)-1], "/tcp") == "4052" {
			published = true
		}
	}
	if !published {
		t.Errorf("athena ports: got %v, want 4052 published as 4052", athena.Ports)
	}

	configPath := athena.Environment["ATHENA_CONFIG_PATH"]
	if configPath == "" {
		t.Fatal("athena environment: no ATHENA_CONFIG_PATH")
	}
	var source string
	for _, v := range athena.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && parts[1] == configPath {
			source = parts[0]
		}
	}
	if source == "" {
		t.Fatalf("athena volumes %v: nothing mounted at ATHENA_CONFIG_PATH %s", athena.Volumes, configPath)
	}
	raw, err := os.ReadFile(filepath.Join("..", source))
	if err != nil {
		t.Fatalf("mounted config: %v", err)
	}
	var cfg struct {
		PostgresClients map[string]string `yaml:"postgres_clients"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("parse %s: %v", source, err)
	}
	if len(cfg.PostgresClients) == 0 {
		t.Fatalf("%s: got no postgres_clients, want at least one", source)
	}
	for name, uri := range cfg.PostgresClients {
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "postgres" {
			t.Errorf("postgres_clients.%s: got %q, want a postgres:// URI", name, uri)
			continue
		}
		if _, ok := f.Services[u.Hostname()]; !ok {
			t.Errorf("postgres_clients.%s: host %q is not a compose service", name, u.Hostname())
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
