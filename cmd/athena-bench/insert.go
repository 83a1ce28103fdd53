package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// insertRepeats is how often each insert shape runs; the median is reported.
const insertRepeats = 3

// insertReport compares one bulk request with the same rows sent one by one.
type insertReport struct {
	Rows          int             `json:"rows"`
	Bulk          []time.Duration `json:"bulk_ns"`
	Singles       []time.Duration `json:"singles_ns"`
	BulkMedian    time.Duration   `json:"bulk_median_ns"`
	SinglesMedian time.Duration   `json:"singles_median_ns"`
	Speedup       float64         `json:"speedup"`
	Errors        int64           `json:"errors"`
	FirstErr      string          `json:"first_error,omitempty"`
}

// insertBench sends rows to athena_bench.inserts through the engine at url,
// checking the table after every run.
type insertBench struct {
	pool   *pgxpool.Pool
	client *http.Client
	url    string
	rows   int
}

// run times insertRepeats bulk runs and insertRepeats single-row runs. It
// stops at the first failed request: timings after a failure mean nothing.
func (b insertBench) run(ctx context.Context, progress func(string)) insertReport {
	rep := insertReport{Rows: b.rows}
	progress(fmt.Sprintf("running insert) bulk, 1 request of %d rows, %d times ...", b.rows, insertRepeats))
	for range insertRepeats {
		d, err := b.timed(ctx, bulkBatches)
		if err != nil {
			return rep.failed(err)
		}
		rep.Bulk = append(rep.Bulk, d)
	}
	progress(fmt.Sprintf("running insert) singles, %d requests of 1 row, %d times ...", b.rows, insertRepeats))
	for range insertRepeats {
		d, err := b.timed(ctx, singleBatches)
		if err != nil {
			return rep.failed(err)
		}
		rep.Singles = append(rep.Singles, d)
	}
	rep.BulkMedian, rep.SinglesMedian = median(rep.Bulk), median(rep.Singles)
	if rep.BulkMedian > 0 {
		rep.Speedup = float64(rep.SinglesMedian) / float64(rep.BulkMedian)
	}
	return rep
}

func (r insertReport) failed(err error) insertReport {
	r.Errors++
	r.FirstErr = err.Error()
	return r
}

// timed empties the table, builds the request bodies, times sending them
// and then checks the table holds exactly the rows sent.
func (b insertBench) timed(ctx context.Context, shape func(int) []batch) (time.Duration, error) {
	if err := resetInserts(ctx, b.pool); err != nil {
		return 0, err
	}
	batches := shape(b.rows)
	start := time.Now()
	for _, bt := range batches {
		if err := b.put(ctx, bt); err != nil {
			return 0, err
		}
	}
	elapsed := time.Since(start)
	n, err := countRows(ctx, b.pool, "athena_bench.inserts")
	if err != nil {
		return 0, err
	}
	if n != int64(b.rows) {
		return 0, fmt.Errorf("athena_bench.inserts has %d rows after the run, want %d", n, b.rows)
	}
	return elapsed, nil
}

// batch is one insert request and the number of rows it carries.
type batch struct {
	body []byte
	rows int64
}

type insertRow struct {
	Name string `json:"name"`
	Qty  int    `json:"qty"`
}

func newInsertRow(i int) insertRow { return insertRow{Name: fmt.Sprintf("row %d", i), Qty: i} }

// insertBody is the PUT /gateway/insert payload. RETURNING only the id keeps
// the response small for both shapes alike.
type insertBody struct {
	TableName  string `json:"table_name"`
	Columns    string `json:"columns"`
	InsertBody any    `json:"insert_body"`
}

// bulkBatches is one request carrying every row in insert_body.
func bulkBatches(rows int) []batch {
	all := make([]insertRow, rows)
	for i := range all {
		all[i] = newInsertRow(i + 1)
	}
	return []batch{{mustJSON(insertBody{TableName: "athena_bench.inserts", Columns: "id", InsertBody: all}), int64(rows)}}
}

// singleBatches is one request per row.
func singleBatches(rows int) []batch {
	out := make([]batch, rows)
	for i := range out {
		out[i] = batch{mustJSON(insertBody{TableName: "athena_bench.inserts", Columns: "id", InsertBody: newInsertRow(i + 1)}), 1}
	}
	return out
}

// put sends one insert; the envelope's count must match the rows sent.
func (b insertBench) put(ctx context.Context, bt batch) error {
	status, resp, err := send(ctx, b.client, http.MethodPut, b.url+"/gateway/insert", "", bt.body)
	if err != nil {
		return err
	}
	if status != http.StatusCreated {
		return statusError(status, http.StatusCreated, resp)
	}
	var got struct {
		Status string `json:"status"`
		Count  *int64 `json:"count"`
	}
	if err := json.Unmarshal(resp, &got); err != nil || got.Status != "success" || got.Count == nil || *got.Count != bt.rows {
		return fmt.Errorf("insert of %d rows: unexpected body %s", bt.rows, snippet(resp))
	}
	return nil
}

// mustJSON encodes values this program built itself; failure is a bug.
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
