package api

import (
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// statsStore is the statistics store of the logging database, or an error
// (503 backend_unavailable) when none is configured.
func (s *Server) statsStore() (*postgres.StatsStore, error) {
	if cp, ok := s.clients.(controlPlane); ok {
		if pool := cp.ControlPlane(); pool != nil {
			return postgres.NewStatsStore(pool), nil
		}
	}
	return nil, gateway.Errorf(gateway.CodeBackendUnavailable, "statistics need the logging database (control plane), which is not configured")
}

// adminListStatistics serves GET /admin/clients/statistics: every
// client_statistics row.
func (s *Server) adminListStatistics(c *gin.Context) {
	const op = "admin_statistics"
	st, err := s.statsStore()
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	rows, err := st.ListClients(c.Request.Context())
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	if rows == nil {
		rows = []postgres.ClientStats{}
	}
	newSuccess("Listed client statistics").value("data", rows).send(c, 200)
}

// adminClientStatistics serves GET /admin/clients/:name/statistics: the
// client's totals (zeros when it has none yet) and its per-table,
// per-operation rows.
func (s *Server) adminClientStatistics(c *gin.Context) {
	const op = "admin_statistics"
	st, err := s.statsStore()
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	name := c.Param("name")
	one, tables, err := st.Client(c.Request.Context(), name)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	if one == nil {
		one = &postgres.ClientStats{Client: name}
	}
	newSuccess("Fetched client statistics").value("data", map[string]any{"client": one, "tables": tables}).send(c, 200)
}

// adminStatisticsDrilldown serves GET
// /admin/clients/:name/statistics/drilldown?table_name=&operation=&status=all|errors&limit&offset:
// the client's operation log rows, newest first.
func (s *Server) adminStatisticsDrilldown(c *gin.Context) {
	const op = "admin_statistics"
	st, err := s.statsStore()
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	q := postgres.Drilldown{
		Client:    c.Param("name"),
		Table:     strings.TrimSpace(c.Query("table_name")),
		Operation: strings.TrimSpace(c.Query("operation")),
	}
	switch status := c.DefaultQuery("status", "all"); status {
	case "all", "":
	case "errors":
		q.ErrorsOnly = true
	default:
		writeError(c, s.log, op, gateway.Errorf(gateway.CodeInvalidValue, "status must be all or errors, not %q", status))
		return
	}
	if q.Limit, err = queryInt(c, "limit", 100, 1, postgres.MaxDrilldownLimit); err != nil {
		writeError(c, s.log, op, err)
		return
	}
	if q.Offset, err = queryInt(c, "offset", 0, 0, 1<<31-1); err != nil {
		writeError(c, s.log, op, err)
		return
	}
	rows, err := st.Drilldown(c.Request.Context(), q)
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Fetched operation log rows").value("data", rows).
		int("limit", int64(q.Limit)).int("offset", int64(q.Offset)).send(c, 200)
}

// queryInt reads an integer query parameter in [lo, hi], def when absent.
func queryInt(c *gin.Context, key string, def, lo, hi int) (int, error) {
	v, ok := c.GetQuery(key)
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, gateway.Errorf(gateway.CodeInvalidValue, "%s must be an integer from %d to %d, not %q", key, lo, hi, v)
	}
	return n, nil
}

// adminRefreshStatistics serves POST /admin/clients/statistics/refresh:
// rebuilds client_statistics and client_table_statistics from the request
// and operation logs, synchronously, in one transaction.
func (s *Server) adminRefreshStatistics(c *gin.Context) {
	const op = "admin_statistics"
	st, err := s.statsStore()
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	res, err := st.Rebuild(c.Request.Context())
	if err != nil {
		writeError(c, s.log, op, err)
		return
	}
	newSuccess("Rebuilt client statistics from the logs").value("data", res).send(c, 200)
}
