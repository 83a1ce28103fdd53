package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ControlPlane configures the gateway's own database (spec §7) and the live
// client registry built on it (spec §8). Client names a postgres_clients
// entry: when that client is not configured the control plane is off and
// only file clients are served.
type ControlPlane struct {
	// Client is the registry client holding the logging database. It is
	// reserved: tenant gateway routes refuse it.
	Client string `yaml:"client"`
	// PollInterval is the fallback reload period; LISTEN/NOTIFY normally
	// delivers changes within one round trip.
	PollInterval time.Duration `yaml:"poll_interval"`
	// AutoDisableFailures load failures within AutoDisableWindow deactivate a
	// database-sourced client (0 = never).
	AutoDisableFailures int           `yaml:"auto_disable_failures"`
	AutoDisableWindow   time.Duration `yaml:"auto_disable_window"`
	// DirectURIMaxPools bounds the pools opened for x-pg-uri / JDBC URL
	// headers; the least recently used is closed beyond it.
	DirectURIMaxPools int `yaml:"direct_uri_max_pools"`
	// DirectURIIdleTimeout closes a direct-URI pool unused for this long.
	DirectURIIdleTimeout time.Duration `yaml:"direct_uri_idle_timeout"`
	// WildcardHostPattern ("*.db.example.com") routes by the first Host
	// label through public_gateway_routes. ATHENA_WILDCARD_HOST_PATTERN
	// overrides it.
	WildcardHostPattern string `yaml:"wildcard_host_pattern"`
	// MigrateOnStart runs the embedded migrations when the gateway starts.
	MigrateOnStart bool `yaml:"migrate_on_start"`
}

// Control-plane defaults.
const (
	DefaultControlPlaneClient = "athena_logging"
	defaultPollInterval       = 5 * time.Second
	defaultDisableFailures    = 10
	defaultDisableWindow      = 24 * time.Hour
	defaultDirectMaxPools     = 32
	defaultDirectIdleTimeout  = 5 * time.Minute
)

// DefaultControlPlane is the section's value when the file does not set it.
func DefaultControlPlane() ControlPlane {
	return ControlPlane{
		Client:               DefaultControlPlaneClient,
		PollInterval:         defaultPollInterval,
		AutoDisableFailures:  defaultDisableFailures,
		AutoDisableWindow:    defaultDisableWindow,
		DirectURIMaxPools:    defaultDirectMaxPools,
		DirectURIIdleTimeout: defaultDirectIdleTimeout,
		MigrateOnStart:       true,
	}
}

// Effective returns c with ATHENA_WILDCARD_HOST_PATTERN applied (the
// original server's variable, outside the ATHENA_<SECTION>_<KEY> scheme)
// and zero durations and sizes replaced by defaults, so a hand-built
// Config{} still behaves.
func (c ControlPlane) Effective(getenv func(string) string) ControlPlane {
	d := DefaultControlPlane()
	if v := strings.TrimSpace(getenv("ATHENA_WILDCARD_HOST_PATTERN")); v != "" {
		c.WildcardHostPattern = v
	}
	if c.PollInterval <= 0 {
		c.PollInterval = d.PollInterval
	}
	if c.AutoDisableFailures < 0 {
		c.AutoDisableFailures = 0
	}
	if c.AutoDisableWindow <= 0 {
		c.AutoDisableWindow = d.AutoDisableWindow
	}
	if c.DirectURIMaxPools <= 0 {
		c.DirectURIMaxPools = d.DirectURIMaxPools
	}
	if c.DirectURIIdleTimeout <= 0 {
		c.DirectURIIdleTimeout = d.DirectURIIdleTimeout
	}
	c.Client = strings.TrimSpace(c.Client)
	c.WildcardHostPattern = strings.ToLower(strings.TrimSpace(c.WildcardHostPattern))
	return c
}

var hostSuffix = regexp.MustCompile(`^(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

// WildcardSuffix returns the part of the pattern after "*" (".db.example.com"),
// or "" when wildcard routing is off.
func (c ControlPlane) WildcardSuffix() (string, error) {
	p := strings.ToLower(strings.TrimSpace(c.WildcardHostPattern))
	if p == "" {
		return "", nil
	}
	if !strings.HasPrefix(p, "*.") || !hostSuffix.MatchString(p[1:]) {
		return "", fmt.Errorf("control_plane.wildcard_host_pattern %q: want \"*.\" followed by a host name, e.g. \"*.db.example.com\"", c.WildcardHostPattern)
	}
	return p[1:], nil
}

// Validate checks the section's ranges and the wildcard pattern.
func (c ControlPlane) Validate() error {
	var errs []error
	if c.PollInterval < 0 || c.AutoDisableWindow < 0 || c.DirectURIIdleTimeout < 0 {
		errs = append(errs, errors.New("control_plane durations must not be negative"))
	}
	if c.AutoDisableFailures < 0 || c.DirectURIMaxPools < 0 {
		errs = append(errs, errors.New("control_plane.auto_disable_failures and direct_uri_max_pools must not be negative"))
	}
	if _, err := c.WildcardSuffix(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
