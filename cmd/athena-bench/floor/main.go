// Command floor is the floor process of athena-bench's cross-process
// measurement: the least any HTTP gateway in Go pays to serve Athena's
// fetch of one row by primary key, as a process of its own. athena-bench
// builds it, starts it beside `athena serve` and loads both from its own
// process.
//
// It serves POST /gateway/fetch with Athena's request body: it decodes the
// JSON body (the id is the first condition's eq_value), runs one statement
// of the shape Athena's fetch generates (PostgreSQL builds the rows' JSON
// with json_agg; the id and the limit are bind values), and writes a
// success envelope around the JSON PostgreSQL returned, copied, not
// re-encoded (as Athena does). It routes with gin and queries with a pgx
// pool and does nothing else: no middleware, no logging, no metrics.
//
// GET /served answers the number of fetches answered so far, so the bench
// can check that the process served every request it was sent.
//
// Once listening it prints "listening http://<addr>" on stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
)

// fetchSQL is what Athena's fetch builds for athena-bench's request
// (postgres/fetch.go buildFetch: select list over alias t0, the condition
// and the limit as bind values, json_agg around the subquery).
const fetchSQL = `SELECT coalesce(json_agg(_r.*), '[]') FROM (SELECT t0."id", t0."name", t0."price", t0."tags", t0."created_at" FROM "athena_bench"."items" t0 WHERE t0."id" = $1 LIMIT $2) _r`

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dbURL := flag.String("database-url", "", "PostgreSQL URL")
	maxConns := flag.Int("max-conns", 16, "pool size")
	appName := flag.String("application-name", "athena-bench-floor", "application_name of the pool's sessions")
	flag.Parse()
	if err := run(*addr, *dbURL, int32(*maxConns), *appName); err != nil {
		fmt.Fprintf(os.Stderr, "floor: %v\n", err)
		os.Exit(1)
	}
}

func run(addr, dbURL string, maxConns int32, appName string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	pc, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("parse database URL: %w", err)
	}
	pc.MaxConns = maxConns
	pc.ConnConfig.RuntimeParams["application_name"] = appName
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return fmt.Errorf("open pool: %w", err)
	}
	defer pool.Close()

	gin.SetMode(gin.ReleaseMode)
	var served atomic.Int64
	e := gin.New() // no logger, no recovery: the bare minimum
	e.POST("/gateway/fetch", func(c *gin.Context) {
		defer served.Add(1)
		var req struct {
			Conditions []struct {
				EqValue int64 `json:"eq_value"`
			} `json:"conditions"`
			Limit int64 `json:"limit"`
		}
		if err := c.ShouldBindJSON(&req); err != nil || len(req.Conditions) == 0 {
			c.JSON(http.StatusBadRequest, gin.H{"status": "error", "message": "bad request"})
			return
		}
		var rows []byte
		if err := pool.QueryRow(c.Request.Context(), fetchSQL, req.Conditions[0].EqValue, req.Limit).Scan(&rows); err != nil {
			c.JSON(http.StatusInternalServerError, gin.H{"status": "error", "message": err.Error()})
			return
		}
		body := make([]byte, 0, len(rows)+32)
		body = append(body, `{"status":"success","data":`...)
		body = append(body, rows...)
		body = append(body, '}')
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	})
	e.GET("/served", func(c *gin.Context) {
		c.String(http.StatusOK, strconv.FormatInt(served.Load(), 10))
	})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: e}
	fmt.Printf("listening http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if err := srv.Shutdown(context.Background()); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
