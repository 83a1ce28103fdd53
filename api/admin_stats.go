package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/postgres"
)

// StatsReader reads the statistics of the logging database for the
// /admin/clients/*statistics* routes. *postgres.StatsStore implements it.
type StatsReader interface {
	ListClients(ctx context.Context) ([]postgres.ClientStats, error)
	Client(ctx context.Context, name string) (*postgres.ClientStats, []postgres.TableStats, error)
	Drilldown(ctx context.Context, q postgres.Drilldown) ([]postgres.OperationLogRow, error)
}

// errNoStats answers the statistics routes without a logging database.
var errNoStats = gateway.Errorf(gateway.CodeBackendUnavailable, "statistics need the logging database (control plane), which is not configured")

// errNoStatsRefresh answers the refresh route without Temporal.
var errNoStatsRefresh = gateway.Errorf(gateway.CodeBackendUnavailable, "statistics refresh runs as a Temporal workflow, and this gateway has no Temporal client configured")

// adminListStatistics serves GET /admin/clients/statistics: every
// client_statistics row.
func (s *Server) adminListStatistics(c *gin.Context) error {
	rows, err := s.deps.Stats.ListClients(c.Request.Context())
	if err != nil {
		return err
	}
	if rows == nil {
		rows = []postgres.ClientStats{}
	}
	newSuccess("Listed client statistics").value("data", rows).send(c, 200)
	return nil
}

// adminClientStatistics serves GET /admin/clients/:name/statistics: the
// client's totals (zeros when it has none yet) and its per-table,
// per-operation rows.
func (s *Server) adminClientStatistics(c *gin.Context) error {
	name := c.Param("name")
	one, tables, err := s.deps.Stats.Client(c.Request.Context(), name)
	if err != nil {
		return err
	}
	if one == nil {
		one = &postgres.ClientStats{Client: name}
	}
	newSuccess("Fetched client statistics").value("data", map[string]any{"client": one, "tables": tables}).send(c, 200)
	return nil
}

// adminStatisticsDrilldown serves GET
// /admin/clients/:name/statistics/drilldown?table_name=&operation=&status=all|errors&limit&offset:
// the client's operation log rows, newest first.
func (s *Server) adminStatisticsDrilldown(c *gin.Context) error {
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
		return gateway.Errorf(gateway.CodeInvalidValue, "status must be all or errors, not %q", status)
	}
	var err error
	if q.Limit, err = queryInt(c, "limit", 100, 1, postgres.MaxDrilldownLimit); err != nil {
		return err
	}
	if q.Offset, err = queryInt(c, "offset", 0, 0, 1<<31-1); err != nil {
		return err
	}
	rows, err := s.deps.Stats.Drilldown(c.Request.Context(), q)
	if err != nil {
		return err
	}
	newSuccess("Fetched operation log rows").value("data", rows).
		int("limit", int64(q.Limit)).int("offset", int64(q.Offset)).send(c, 200)
	return nil
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

// StatsRefresher starts the StatsRefresh workflow, which rebuilds the
// statistics from the logs, or joins the one already running. The app
// implements it over the Temporal client.
type StatsRefresher interface {
	// StartStatsRefresh returns the execution; an error means the
	// workflow service did not take the start.
	StartStatsRefresh(ctx context.Context) (StatsRefreshRun, error)
}

// StatsRefresherFunc is a function that is a StatsRefresher.
type StatsRefresherFunc func(ctx context.Context) (StatsRefreshRun, error)

// StartStatsRefresh calls f.
func (f StatsRefresherFunc) StartStatsRefresh(ctx context.Context) (StatsRefreshRun, error) {
	return f(ctx)
}

// StatsRefreshRun is one StatsRefresh execution; the SDK's
// client.WorkflowRun satisfies it.
type StatsRefreshRun interface {
	// GetID and GetRunID name the execution in the Temporal UI.
	GetID() string
	GetRunID() string
	// Get waits until the workflow ends and decodes its result
	// ({"clients":n,"tables":m}) into valuePtr, or returns why it failed
	// or could not be waited for.
	Get(ctx context.Context, valuePtr any) error
}

const (
	// statsRefreshMaxWait bounds ?wait=true below the HTTP server's
	// default write timeout (2m): net/http does not cancel a handler whose
	// write deadline has passed, so a longer wait would end in an answer
	// nobody receives. Past it the caller gets the 202 answer while the
	// rebuild goes on.
	statsRefreshMaxWait = time.Minute
	// statsRefreshRetryAfter is the Retry-After (seconds) of the 503
	// answers given when Temporal did not start or finish the rebuild.
	statsRefreshRetryAfter = 5
)

// statsRefreshStarted identifies a StatsRefresh execution in answers.
type statsRefreshStarted struct {
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
}

// statsRefreshDone is the data of a waited refresh: the counts (the shape
// of the former synchronous answer) and the execution.
type statsRefreshDone struct {
	postgres.RebuildResult
	statsRefreshStarted
}

// adminRefreshStatistics serves POST
// /admin/clients/statistics/refresh[?wait=true]: it starts the StatsRefresh
// workflow, which rebuilds client_statistics and client_table_statistics
// from the request and operation logs, and answers 202 with the workflow
// and run ids. While a rebuild runs, a new request joins it rather than
// starting a second one. With wait=true it waits for the rebuild, bounded
// by the request and statsRefreshMaxWait, and answers 200 with the counts
// (202 as above when the wait ends first).
func (s *Server) adminRefreshStatistics(c *gin.Context) error {
	wait, err := queryBool(c, "wait")
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	run, err := s.deps.StatsRefresh.StartStatsRefresh(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "start statistics refresh workflow", "err", err)
		return &gateway.Error{
			Code:       gateway.CodeBackendUnavailable,
			Message:    "statistics refresh could not be started",
			Detail:     "the workflow service (Temporal) is unavailable; retry shortly",
			RetryAfter: statsRefreshRetryAfter,
		}
	}
	started := statsRefreshStarted{WorkflowID: run.GetID(), RunID: run.GetRunID()}
	running := func(msg string) error {
		newSuccess(fmt.Sprintf("%s as Temporal workflow %s (run %s); watch it in the Temporal UI, or POST again with ?wait=true to wait for its counts", msg, started.WorkflowID, started.RunID)).
			value("data", started).send(c, 202)
		return nil
	}
	if !wait {
		return running("Statistics refresh running")
	}
	wctx, cancel := context.WithTimeout(ctx, statsRefreshMaxWait)
	defer cancel()
	var res postgres.RebuildResult
	if err := run.Get(wctx, &res); err != nil {
		if wctx.Err() != nil { // the wait ended first; the workflow goes on
			return running("Statistics refresh still running")
		}
		s.log.WarnContext(ctx, "statistics refresh workflow", "workflow_id", started.WorkflowID, "run_id", started.RunID, "err", err)
		return (&gateway.Error{
			Code:       gateway.CodeBackendUnavailable,
			Message:    "statistics refresh did not complete",
			Detail:     fmt.Sprintf("workflow %s (run %s) failed or its result could not be read; see it in the Temporal UI", started.WorkflowID, started.RunID),
			RetryAfter: statsRefreshRetryAfter,
		}).WithDetail("workflow_id", started.WorkflowID).WithDetail("run_id", started.RunID)
	}
	newSuccess("Rebuilt client statistics from the logs").value("data", statsRefreshDone{res, started}).send(c, 200)
	return nil
}

// queryBool reads a boolean query parameter, false when absent.
func queryBool(c *gin.Context, key string) (bool, error) {
	v, ok := c.GetQuery(key)
	if !ok || v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, gateway.Errorf(gateway.CodeInvalidValue, "%s must be true or false, not %q", key, v)
	}
	return b, nil
}
