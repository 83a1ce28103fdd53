package cache

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestNilCacheBypasses(t *testing.T) {
	var c *Cache
	body, out, err := c.Do(context.Background(), Read{Scope: "s", Request: []byte(`{}`), Cacheable: true}, func(_ context.Context, k Key) ([]byte, error) {
		return []byte(k.String()), nil
	})
	if err != nil || out != Bypass || len(body) != 16 {
		t.Fatalf("got %q %q %v, want a 16-digit key and bypass", body, out, err)
	}
	c.Invalidate(context.Background(), "s", []string{"public.t"}, true) // must not panic
	if c.Enabled("s") || c.RedisErrors() != 0 {
		t.Error("nil cache claims to be enabled")
	}
}

func TestLocalGenerationsAndErrors(t *testing.T) {
	c, err := New(Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	n := 0
	load := func(context.Context, Key) ([]byte, error) { n++; return []byte(strconv.Itoa(n)), nil }
	r := Read{Scope: "s", Request: []byte(`{"t":1}`), Tables: []string{"public.a", "public.b"}, Cacheable: true}
	want := []struct {
		body    string
		outcome Outcome
		write   func()
	}{
		{"1", Miss, nil},
		{"1", HitLocal, nil},
		{"2", Miss, func() { c.Invalidate(ctx, "s", []string{"public.b"}, false) }},
		{"2", HitLocal, func() { c.Invalidate(ctx, "other", nil, true) }},
		{"2", HitLocal, func() { c.Invalidate(ctx, "s", []string{"public.c"}, false) }},
		{"3", Miss, func() { c.Invalidate(ctx, "s", nil, true) }},
	}
	for i, w := range want {
		if w.write != nil {
			w.write()
		}
		b, o, err := c.Do(ctx, r, load)
		if err != nil || string(b) != w.body || o != w.outcome {
			t.Errorf("step %d: got %q %q %v, want %q %q", i, b, o, err, w.body, w.outcome)
		}
	}
	boom := errors.New("boom")
	r.Request = []byte(`{"t":2}`)
	for range 2 {
		if _, _, err := c.Do(ctx, r, func(context.Context, Key) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
			t.Errorf("got %v, want the load's error every time (errors are not cached)", err)
		}
	}
}

func TestRedisGenerationsStartRandom(t *testing.T) {
	rdb := testRedis(t)
	c, err := New(Options{Redis: rdb, RedisTTL: 0, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	scope := "gen-test-" + strconv.FormatUint(randomGeneration(), 36)
	g1, err := c.generations(ctx, scope, []string{"public.t"})
	if err != nil {
		t.Fatal(err)
	}
	if g1[0] == 0 || g1[1] == 0 || g1[0] == g1[1] {
		t.Errorf("fresh counters: got %v, want distinct random starts", g1)
	}
	c.Invalidate(ctx, scope, []string{"public.t"}, false)
	g2, _ := c.generations(ctx, scope, []string{"public.t"})
	if g2[0] != g1[0] || g2[1] != g1[1]+1 {
		t.Errorf("after a write: got %v, want [%d %d]", g2, g1[0], g1[1]+1)
	}
	// A lost counter (restart, eviction) does not come back at a used value.
	rdb.Del(ctx, genKeyName(scope, "public.t"))
	g3, _ := c.generations(ctx, scope, []string{"public.t"})
	if g3[1] == g1[1] || g3[1] == g2[1] {
		t.Errorf("recreated counter repeated a generation: %v then %v", g2, g3)
	}
	rdb.Del(ctx, genKeyName(scope, ""), genKeyName(scope, "public.t"))
}

func testRedis(t *testing.T) *redis.Client {
	t.Helper()
	url := os.Getenv("ATHENA_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	c, err := NewRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := Ping(context.Background(), c); err != nil {
		t.Fatalf("redis at %s (make test starts it): %v", url, err)
	}
	return c
}

// TestLateReaderJoinsFinishedFlight: a reader that missed the local cache
// while a leader was loading, and reaches the single flight only after the
// leader finished, takes the stored answer instead of loading again.
func TestLateReaderJoinsFinishedFlight(t *testing.T) {
	c, err := New(Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	var loads atomic.Int64
	load := func(context.Context, Key) ([]byte, error) { return []byte(strconv.FormatInt(loads.Add(1), 10)), nil }
	r := Read{Scope: "s", Request: []byte(`{"t":1}`), Tables: []string{"public.a"}, Cacheable: true}

	missed := make(chan struct{})
	leaderDone := make(chan struct{})
	first := true
	var mu sync.Mutex
	c.afterMiss = func() {
		mu.Lock()
		late := first
		first = false
		mu.Unlock()
		if late { // the late reader: wait in the window until the leader is done
			close(missed)
			<-leaderDone
		}
	}
	type answer struct {
		body    string
		outcome Outcome
		err     error
	}
	lateAnswer := make(chan answer, 1)
	go func() {
		b, o, err := c.Do(ctx, r, load)
		lateAnswer <- answer{string(b), o, err}
	}()
	<-missed
	if b, o, err := c.Do(ctx, r, load); err != nil || string(b) != "1" || o != Miss {
		t.Fatalf("leader: got %q %q %v, want 1 miss", b, o, err)
	}
	close(leaderDone)
	a := <-lateAnswer
	if a.err != nil || a.body != "1" || a.outcome != HitLocal || loads.Load() != 1 {
		t.Errorf("late reader: got %q %q %v after %d loads, want the leader's answer from the cache and 1 load", a.body, a.outcome, a.err, loads.Load())
	}
}

// TestLateNoticeKeepsNewerEntries: another process's invalidation notice
// that arrives after this process has already stored an answer built from
// the new generations must not evict it; entries stored before the write
// go.
func TestLateNoticeKeepsNewerEntries(t *testing.T) {
	c, err := New(Options{Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx := context.Background()
	r := Read{Scope: "s", Request: []byte(`{"t":1}`), Tables: []string{"public.a"}, Cacheable: true}
	load := func(context.Context, Key) ([]byte, error) { return []byte("x"), nil }
	if _, o, err := c.Do(ctx, r, load); err != nil || o != Miss {
		t.Fatalf("first read: %q %v", o, err)
	}
	writeAt := time.Now().Add(-time.Minute).UnixNano() // the write began before the entry was stored
	c.drop("s", []string{"public.a"}, false, writeAt)
	if _, o, _ := c.Do(ctx, r, load); o != HitLocal {
		t.Errorf("after a late notice: %q, want hit_local (the entry is newer than the write)", o)
	}
	c.drop("s", []string{"public.a"}, false, time.Now().UnixNano()) // a write after the entry
	if _, o, _ := c.Do(ctx, r, load); o != Miss {
		t.Errorf("after a newer write's notice: %q, want miss", o)
	}
}
