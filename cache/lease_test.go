package cache

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// marked contexts are the ones whose Redis commands countHook counts: the
// cache's own background loop (renewals, pings) runs on other contexts.
type marked struct{}

type countHook struct{ n atomic.Int64 }

func (h *countHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if ctx.Value(marked{}) != nil {
			h.n.Add(1)
		}
		return next(ctx, cmd)
	}
}
func (h *countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if ctx.Value(marked{}) != nil {
			h.n.Add(int64(len(cmds)))
		}
		return next(ctx, cmds)
	}
}

func leasedCache(t *testing.T, rdb *redis.Client, beforeApply func()) *Cache {
	t.Helper()
	c, err := New(Options{Redis: rdb, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	c.beforeApply = beforeApply // before Start: the subscriber reads it
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	deadline := time.Now().Add(10 * time.Second)
	for !c.healthy() {
		if time.Now().After(deadline) {
			t.Fatal("the cache never took its lease")
		}
		time.Sleep(time.Millisecond) // polling the loop's first renewal, bounded
	}
	return c
}

// TestLocalHitWithoutRedis: while the lease runs, a local hit sends no
// command to Redis (the miss before it does).
func TestLocalHitWithoutRedis(t *testing.T) {
	rdb := testRedis(t)
	hook := &countHook{}
	rdb.AddHook(hook)
	c := leasedCache(t, rdb, nil)
	ctx := context.WithValue(context.Background(), marked{}, true)
	scope := "lease-test-" + strconv.FormatUint(randomGeneration(), 36)
	r := Read{Scope: scope, Request: []byte(`{"t":1}`), Tables: []string{"public.a"}, Cacheable: true}
	load := func(context.Context, Key) ([]byte, error) { return []byte("x"), nil }
	if _, o, err := c.Do(ctx, r, load); err != nil || o != Miss {
		t.Fatalf("first read: %q %v", o, err)
	}
	if hook.n.Load() == 0 {
		t.Fatal("the miss read its generations without Redis: the hook counts nothing")
	}
	// The claim is about hits while the lease runs and the mirror holds
	// the read's generations. Other processes share this Redis (the other
	// packages' tests run beside this one): their notices move the mirror
	// (a generation read whose store raced a notice is not kept, and an
	// outage replay clears it), and on a starved machine a renewal can
	// come late and the lease lapse or the session break; in each case a
	// hit rightly reads Redis. So the hits are counted over a stretch that
	// provably had none of that: the mirror held the generations at the
	// start and did not move, no session broke, and the lease held at the
	// start had not expired at the end (a held lease only moves forward).
	for attempt := 0; ; attempt++ {
		hook.n.Store(0)
		until := c.leaseUntil.Load()
		breaks := c.breaks.Load()
		seq := c.mirror.version()
		_, mirrored := c.mirror.lookup(scope, r.Tables)
		held := c.healthy()
		for i := range 3 {
			if _, o, err := c.Do(ctx, r, load); err != nil || o != HitLocal {
				t.Fatalf("read %d: %q %v, want hit_local", i, o, err)
			}
		}
		if mirrored && held && c.mono() < until && c.leaseUntil.Load() >= until &&
			c.breaks.Load() == breaks && c.mirror.version() == seq && !c.degraded.Load() {
			break
		}
		if attempt == 200 {
			t.Fatal("no stretch of three local hits went without a notice, a break or a lapse")
		}
		time.Sleep(5 * time.Millisecond) // let the renewal loop run, bounded
	}
	if n := hook.n.Load(); n != 0 {
		t.Errorf("local hits sent %d Redis commands, want 0", n)
	}
	// This process's own write makes the next read miss at once.
	c.Invalidate(context.Background(), scope, []string{"public.a"}, false)
	if _, o, _ := c.Do(ctx, r, load); o != Miss {
		t.Errorf("after a write: %q, want miss", o)
	}
	rdb.Del(context.Background(), genKeyName(scope, ""), genKeyName(scope, "public.a"))
}

// TestNoticeInFlightNeverStale: process B's subscriber holds another
// process's notice (a slow or cut-off subscription). A's write must not
// answer until B can no longer serve the superseded entry locally: a read
// in B that starts after A's write returned never gets the old answer.
func TestNoticeInFlightNeverStale(t *testing.T) {
	held := make(chan struct{})
	var holding atomic.Bool
	a := leasedCache(t, testRedis(t), nil)
	b := leasedCache(t, testRedis(t), func() {
		if holding.Load() {
			<-held
		}
	})
	scope := "lease-test-" + strconv.FormatUint(randomGeneration(), 36)
	ctx := context.Background()
	r := Read{Scope: scope, Request: []byte(`{"t":1}`), Tables: []string{"public.a"}, Cacheable: true}
	var version atomic.Int64
	load := func(context.Context, Key) ([]byte, error) { return []byte(strconv.FormatInt(version.Load(), 10)), nil }
	b.Do(ctx, r, load)
	if body, o, _ := b.Do(ctx, r, load); o != HitLocal || string(body) != "0" {
		t.Fatalf("warm: %q %s", o, body)
	}

	holding.Store(true)
	version.Store(1) // the write: the data changes, then Invalidate
	a.Invalidate(ctx, scope, []string{"public.a"}, false)
	body, o, err := b.Do(ctx, r, load)
	holding.Store(false)
	close(held)
	if err != nil || string(body) != "1" {
		t.Errorf("read in B after A's write returned: %s (%q, %v), want 1", body, o, err)
	}
	rdb := testRedis(t)
	rdb.Del(ctx, genKeyName(scope, ""), genKeyName(scope, "public.a"))
}

// BenchmarkLocalHitRedis is a local hit of a cache configured with Redis:
// with the lease it costs no round trip (compare BenchmarkLocalHitNoRedis).
func BenchmarkLocalHitRedis(b *testing.B) {
	rdb, err := NewRedis("redis://127.0.0.1:6379/0")
	if err != nil {
		b.Fatal(err)
	}
	defer rdb.Close()
	c, err := New(Options{Redis: rdb, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	_ = c.Start(context.Background())
	defer c.Close(context.Background())
	for !c.healthy() {
		time.Sleep(time.Millisecond) // waiting for the first renewal
	}
	benchHits(b, c)
}

func BenchmarkLocalHitNoRedis(b *testing.B) {
	c, err := New(Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	benchHits(b, c)
}

func benchHits(b *testing.B, c *Cache) {
	r := Read{Scope: "bench-" + strconv.FormatUint(randomGeneration(), 36), Request: []byte(`{"table_name":"users","conditions":[{"eq_column":"id","eq_value":2}]}`), Tables: []string{"public.users"}, Cacheable: true}
	load := func(context.Context, Key) ([]byte, error) { return []byte("x"), nil }
	ctx := context.Background()
	c.Do(ctx, r, load)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, o, _ := c.Do(ctx, r, load); o != HitLocal {
			b.Fatalf("outcome %q", o)
		}
	}
}
