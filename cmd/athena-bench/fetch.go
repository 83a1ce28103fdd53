package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// fetchSQL is the one read every scenario performs, by hand in a) and b)
// and through Athena's fetch in c) and d).
const fetchSQL = `select id, name, price, tags, created_at from athena_bench.items where id = $1`

// request makes one request (or query) for a worker; load calls it in a
// loop.
type request func(context.Context, workerRand) error

// item is one row of athena_bench.items as Go values.
type item struct {
	ID        int64          `json:"id"`
	Name      string         `json:"name"`
	Price     pgtype.Numeric `json:"price"`
	Tags      []string       `json:"tags"`
	CreatedAt time.Time      `json:"created_at"`
}

func queryItem(ctx context.Context, pool *pgxpool.Pool, id int64) (item, error) {
	var it item
	err := pool.QueryRow(ctx, fetchSQL, id).Scan(&it.ID, &it.Name, &it.Price, &it.Tags, &it.CreatedAt)
	return it, err
}

// directFetch is scenario a): the database alone, no HTTP and no JSON. It
// is the ceiling for any HTTP front end; b/a says what HTTP + JSON cost.
func directFetch(pool *pgxpool.Pool) request {
	return func(ctx context.Context, r workerRand) error {
		id := r.rowID(itemRows)
		it, err := queryItem(ctx, pool, id)
		if err != nil {
			return fmt.Errorf("query item %d: %w", id, err)
		}
		if it.ID != id {
			return fmt.Errorf("query item %d: got id %d", id, it.ID)
		}
		return nil
	}
}

// floorEngine serves scenario b), the floor. It is the least any HTTP
// gateway pays for this read: route one request, decode a tiny JSON body,
// run one query, encode the row as JSON. Nothing can serve the read for
// less, so c/b is the share of the floor's throughput Athena keeps while
// paying for its generality (payload grammar, schema checks, envelopes).
func floorEngine(pool *pgxpool.Pool) *gin.Engine {
	e := gin.New() // no logger, no recovery: the bare minimum
	e.POST("/row", func(c *gin.Context) {
		var req struct {
			ID int64 `json:"id"`
		}
		if err := c.ShouldBindJSON(&req); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		it, err := queryItem(c.Request.Context(), pool, req.ID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			c.JSON(http.StatusNotFound, gin.H{"error": "no such row"})
		case err != nil:
			c.JSON(http.StatusInternalServerError, gin.H{"error": err.Error()})
		default:
			c.JSON(http.StatusOK, it)
		}
	})
	return e
}

// floorFetch drives the floor over HTTP and checks the row came back.
func floorFetch(client *http.Client, baseURL string) request {
	url := baseURL + "/row"
	return func(ctx context.Context, r workerRand) error {
		id := r.rowID(itemRows)
		body := strconv.AppendInt(append(make([]byte, 0, 32), `{"id":`...), id, 10)
		body = append(body, '}')
		status, resp, err := send(ctx, client, http.MethodPost, url, "", body)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return statusError(status, http.StatusOK, resp)
		}
		var got struct {
			ID int64 `json:"id"`
		}
		if err := json.Unmarshal(resp, &got); err != nil || got.ID != id {
			return fmt.Errorf("floor row %d: unexpected body %s", id, snippet(resp))
		}
		return nil
	}
}

// athenaFetch drives POST /gateway/fetch for the same row and checks the
// envelope holds exactly that row. A non-empty key is sent as X-Athena-Key
// (scenario d); c) sends none.
func athenaFetch(client *http.Client, baseURL, key string) request {
	url := baseURL + "/gateway/fetch"
	return func(ctx context.Context, r workerRand) error {
		id := r.rowID(itemRows)
		status, resp, err := send(ctx, client, http.MethodPost, url, key, athenaFetchBody(id))
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return statusError(status, http.StatusOK, resp)
		}
		var got struct {
			Status string `json:"status"`
			Data   []struct {
				ID int64 `json:"id"`
			} `json:"data"`
		}
		if err := json.Unmarshal(resp, &got); err != nil || got.Status != "success" || len(got.Data) != 1 || got.Data[0].ID != id {
			return fmt.Errorf("athena fetch %d: unexpected body %s", id, snippet(resp))
		}
		return nil
	}
}

func athenaFetchBody(id int64) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"table_name":"athena_bench.items","columns":"id,name,price,tags,created_at","conditions":[{"eq_column":"id","eq_value":`...)
	b = strconv.AppendInt(b, id, 10)
	return append(b, `}],"limit":1}`...)
}

// benchClient is the X-Athena-Client name the engine knows the database by.
const benchClient = "bench"

// send makes one request and reads the whole response. Every HTTP scenario
// uses it, so the client-side cost is the same for the floor and Athena. A
// non-empty key goes in X-Athena-Key.
func send(ctx context.Context, client *http.Client, method, url, key string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Athena-Client", benchClient)
	if key != "" {
		req.Header.Set("X-Athena-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read response: %w", err)
	}
	return resp.StatusCode, data, nil
}

// newHTTPClient keeps one idle keep-alive connection per worker (and some
// spare) so no request pays for a new TCP connection after warm-up.
func newHTTPClient(concurrency int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns:        2 * concurrency,
			MaxIdleConnsPerHost: 2 * concurrency,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		},
	}
}

func statusError(got, want int, body []byte) error {
	return fmt.Errorf("status %d, want %d: %s", got, want, snippet(body))
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	const n = 300
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
