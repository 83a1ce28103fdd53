package registry

import (
	"net"
	"regexp"
	"strings"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

var routeKey = regexp.MustCompile(`^[a-z0-9-]{1,63}$`)

// ValidRouteKey reports whether key can be a wildcard route key (one host
// label: lower-case letters, digits and hyphens, at most 63).
func ValidRouteKey(key string) bool { return routeKey.MatchString(key) }

// HostLabel returns the first label of host when host matches the wildcard
// pattern (control_plane.wildcard_host_pattern): port stripped, lower-cased,
// exactly one label in front of the pattern's suffix. ok is false when
// wildcard routing is off or host is outside the pattern; err is 400
// invalid_client when host is inside the pattern but the label is invalid.
func (r *Registry) HostLabel(host string) (label string, ok bool, err error) {
	if r.suffix == "" || host == "" {
		return "", false, nil
	}
	if h, _, splitErr := net.SplitHostPort(host); splitErr == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(host)), ".")
	if !strings.HasSuffix(host, r.suffix) {
		return "", false, nil
	}
	label = strings.TrimSuffix(host, r.suffix)
	if !routeKey.MatchString(label) {
		return "", false, gateway.Errorf(gateway.CodeInvalidClient, "host name label is not a valid gateway route")
	}
	return label, true, nil
}

// LookupHost resolves a Host header through the active
// public_gateway_routes rows (spec §1.1), from memory: the routes are part
// of the snapshot, reloaded on NOTIFY and on the poll. client is "" and
// err nil when the host is not a wildcard host; an unknown route is 400
// invalid_client; the routed client then goes through Lookup's checks.
func (r *Registry) LookupHost(host string) (db *postgres.DB, client string, err error) {
	label, ok, err := r.HostLabel(host)
	if err != nil || !ok {
		return nil, "", err
	}
	client = r.state.Load().routes[label]
	if client == "" {
		return nil, "", gateway.Errorf(gateway.CodeInvalidClient, "no gateway route for host label %q", label)
	}
	db, err = r.Lookup(client)
	return db, client, err
}
