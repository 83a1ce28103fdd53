package api

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/athena-gateway/athena/cache"
)

// BenchmarkFetchByPK measures the whole Athena request path (middleware,
// decode, build, one query, envelope) in process, against
// BenchmarkFloorByPK: a minimal gin + pgx handler for the same row. Their
// ratio is the gateway's own overhead; compare them from one run.
func BenchmarkFetchByPK(b *testing.B) {
	h := newHarness(b)
	body := `{"table_name":"users","columns":"id,email,name,age,created_at","conditions":[{"eq_column":"id","eq_value":2}],"limit":1}`
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/gateway/fetch", strings.NewReader(body))
			req.Header.Set("X-Athena-Client", "test")
			rec := httptest.NewRecorder()
			h.engine.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkFetchByPKVaryingIDs is BenchmarkFetchByPK with a different id
// per request, as athena-bench's load sends: no memo keyed by the body can
// answer it, so it measures the decode and plan work every new body pays.
func BenchmarkFetchByPKVaryingIDs(b *testing.B) {
	h := newHarness(b)
	var n atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := n.Add(1)
			body := `{"table_name":"users","columns":"id,email,name,age,created_at","conditions":[{"eq_column":"id","eq_value":` + strconv.FormatInt(id, 10) + `}],"limit":1}`
			req := httptest.NewRequest("POST", "/gateway/fetch", strings.NewReader(body))
			req.Header.Set("X-Athena-Client", "test")
			rec := httptest.NewRecorder()
			h.engine.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkFetchCacheHit is BenchmarkFetchByPK with the process-local read
// cache on: after the first request every one is a hit, so the difference
// is what the cache saves (decode, catalog lookups and generations still
// run; the database does not).
func BenchmarkFetchCacheHit(b *testing.B) {
	h := newHarness(b)
	e := h.engineOn(b, newTestCache(b, nil, cache.Options{}))
	body := `{"table_name":"users","columns":"id,email,name,age,created_at","conditions":[{"eq_column":"id","eq_value":2}],"limit":1}`
	if r := call(b, e, "/gateway/fetch", body); r.Status != 200 {
		b.Fatalf("status %d: %s", r.Status, r.Body)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/gateway/fetch", strings.NewReader(body))
			req.Header.Set("X-Athena-Client", "test")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != 200 || rec.Header().Get("X-Athena-Cache-Outcome") != "hit_local" {
				b.Fatalf("status %d outcome %q: %s", rec.Code, rec.Header().Get("X-Athena-Cache-Outcome"), rec.Body)
			}
		}
	})
}

func BenchmarkFloorByPK(b *testing.B) {
	h := newHarness(b)
	pool, err := pgxpool.New(context.Background(), testDatabaseURL()+"&search_path="+h.schema)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	e := gin.New()
	e.POST("/row", func(c *gin.Context) {
		var in struct{ ID int64 }
		if err := c.BindJSON(&in); err != nil {
			return
		}
		var row struct {
			ID    int64   `json:"id"`
			Email string  `json:"email"`
			Name  *string `json:"name"`
			Age   *int32  `json:"age"`
		}
		err := pool.QueryRow(c.Request.Context(), "select id, email, name, age from users where id = $1", in.ID).Scan(&row.ID, &row.Email, &row.Name, &row.Age)
		if err != nil {
			c.String(500, err.Error())
			return
		}
		c.JSON(200, row)
	})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/row", strings.NewReader(fmt.Sprintf(`{"id":%d}`, 2)))
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
