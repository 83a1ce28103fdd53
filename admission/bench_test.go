package admission

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

// BenchmarkAdmit is one admitted request's cost: per process, and shared
// through Redis with several chunk sizes (ATHENA_TEST_REDIS_URL or the
// local Redis; skipped when it does not answer).
func BenchmarkAdmit(b *testing.B) {
	lim := Limit{RPS: 1e9, Burst: 1e8, MaxInFlight: 1 << 30}
	b.Run("local", func(b *testing.B) {
		l := New(Options{Global: lim, ClientDefault: lim})
		ctx := context.Background()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t, _ := l.Admit(ctx, "bench")
				t.Release()
			}
		})
	})
	url := os.Getenv("ATHENA_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(o)
	defer rdb.Close()
	if rdb.Ping(context.Background()).Err() != nil {
		b.Skip("no Redis")
	}
	for _, chunk := range []int{1, 8, 32, 128} {
		b.Run(fmt.Sprintf("redis-chunk-%d", chunk), func(b *testing.B) {
			prefix := fmt.Sprintf("athena-bench:admit:%d:%d:", os.Getpid(), chunk)
			l := New(Options{Global: lim, ClientDefault: lim, Redis: rdb, Prefix: prefix, Chunk: chunk})
			defer rdb.Del(context.Background(), "rate:"+prefix+"global", "rate:"+prefix+"client:bench")
			ctx := context.Background()
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					t, v := l.Admit(ctx, "bench")
					if !v.Admitted() {
						b.Errorf("refused: %+v", v)
						return
					}
					t.Release()
				}
			})
			if l.Fallbacks() > 0 {
				b.Errorf("%d Redis failures", l.Fallbacks())
			}
		})
	}
}
