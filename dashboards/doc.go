// Package dashboards holds the Grafana dashboards for Athena as JSON files,
// one per concern, next to the Grafana provisioning configuration:
//
//   - gateway-traffic.json (uid athena-gateway-traffic): request rate by
//     route and status, error ratio, p50/p95/p99 latency, top clients.
//   - pools.json (uid athena-pools): connections in use, idle and max per
//     client, acquire waits and wait time.
//   - cache.json (uid athena-cache): read-cache outcomes, hit ratio, bytes,
//     Redis errors and degraded state.
//   - logging.json (uid athena-logging): log writer queue depth, written,
//     dropped and failed entries per log.
//   - temporal.json (uid athena-temporal): workflow starts and failures and
//     the pending stats keys.
//
// docker-compose.yml mounts this directory at /var/lib/grafana/dashboards,
// which provisioning/dashboards/athena.yaml loads into the "Athena" folder;
// every query uses the provisioned Prometheus datasource (uid
// athena-prometheus).
//
// The package has no code: its tests check every dashboard against the
// subset of Grafana's dashboard schema the files rely on and check every
// PromQL expression against the metric names the gateway exports, so a
// renamed metric breaks `go test ./dashboards/` instead of a panel.
package dashboards
