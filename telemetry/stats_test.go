package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/athena-gateway/athena/gateway"
)

// collector is a StatsFlushFunc that keeps what it is sent and fails while
// fail is set.
type collector struct {
	mu   sync.Mutex
	fail bool
	ids  []string
	got  []gateway.StatsDelta
}

func (c *collector) flush(_ context.Context, id string, d gateway.StatsDelta) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ids = append(c.ids, id)
	if c.fail {
		return errors.New("temporal down")
	}
	c.got = append(c.got, d)
	return nil
}

func (c *collector) totals() (clients, tables, ok, failed, cached int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.got {
		for _, x := range d.Clients {
			clients += x.Total
			ok += x.Successful
			failed += x.Failed
			cached += x.Cached
		}
		for _, x := range d.Tables {
			tables += x.Total
		}
	}
	return
}

func TestStatsConcurrentRecordsSumExactly(t *testing.T) {
	defer goleak.VerifyNone(t)
	c := &collector{}
	s := NewStats(StatsOptions{Flush: c.flush, Interval: time.Millisecond, Instance: "p"})
	const workers, per = 16, 2000
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range per {
				client := []string{"a", "b", "c"}[i%3]
				status := 200
				if i%5 == 0 {
					status = 500
				}
				s.Record(client, "users", []string{"fetch", "insert"}[w%2], status, i%7 == 0, at.Add(time.Duration(i)*time.Second))
			}
		})
	}
	wg.Wait()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	clients, tables, ok, failed, cached := c.totals()
	const n = workers * per
	if clients != n || tables != n || ok+failed != n || failed != workers*(per/5) {
		t.Errorf("got clients %d tables %d ok %d failed %d; want %d records, %d failed", clients, tables, ok, failed, n, workers*(per/5))
	}
	if want := int64(workers * ((per + 6) / 7)); cached != want {
		t.Errorf("cached %d, want %d", cached, want)
	}
	if s.Flushed() < 1 || s.Dropped() != 0 {
		t.Errorf("flushed %d dropped %d", s.Flushed(), s.Dropped())
	}
}

func TestStatsFailedFlushIsRetriedWithSameID(t *testing.T) {
	c := &collector{fail: true}
	s := NewStats(StatsOptions{Flush: c.flush, Interval: time.Hour, Instance: "proc"})
	defer s.Close(context.Background())
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s.Record("shop", "users", "fetch", 200, false, at)
	s.Record("shop", "users", "fetch", 404, true, at.Add(time.Second))
	if err := s.FlushNow(context.Background()); err == nil {
		t.Fatal("want the flush error")
	}
	s.Record("shop", "", "", 200, false, at.Add(2*time.Second)) // recorded while the flush is pending
	if d := s.Pending(); len(d.Clients) != 2 {
		t.Fatalf("pending after failure: %+v", d)
	}
	c.mu.Lock()
	c.fail = false
	c.mu.Unlock()
	if err := s.FlushNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if want := []string{"proc/1", "proc/1", "proc/2"}; strings.Join(c.ids, ",") != strings.Join(want, ",") {
		t.Errorf("flush ids %v, want %v", c.ids, want)
	}
	first := c.got[0]
	if len(first.Clients) != 1 || first.Clients[0].Total != 2 || first.Clients[0].Failed != 1 || first.Clients[0].Cached != 1 ||
		!first.Clients[0].LastRequestAt.Equal(at.Add(time.Second)) || len(first.Tables) != 1 || first.Tables[0].Total != 2 {
		t.Errorf("retried flush: %+v", first)
	}
	if second := c.got[1]; len(second.Clients) != 1 || second.Clients[0].Total != 1 || len(second.Tables) != 0 {
		t.Errorf("second flush: %+v", second)
	}
	if d := s.Pending(); !d.Empty() {
		t.Errorf("pending after success: %+v", d)
	}
}

func TestStatsBoundedKeys(t *testing.T) {
	c := &collector{fail: true}
	s := NewStats(StatsOptions{Flush: c.flush, Interval: time.Hour, MaxKeys: 4})
	defer s.Close(context.Background())
	now := time.Now()
	s.Record("a", "t", "fetch", 200, false, now) // 2 keys
	s.Record("b", "t", "fetch", 200, false, now) // 4 keys
	s.Record("c", "t", "fetch", 200, false, now) // dropped
	s.Record("a", "t", "fetch", 200, false, now) // existing keys: kept
	s.Record("a", "u", "fetch", 200, false, now) // new table key: dropped, client still counted
	if s.Dropped() != 2 {
		t.Errorf("dropped %d, want 2", s.Dropped())
	}
	_ = s.FlushNow(context.Background()) // fails: the batch stays and still counts against MaxKeys
	s.Record("d", "", "", 200, false, now)
	if s.Dropped() != 3 {
		t.Errorf("dropped %d, want 3 (the failed batch holds the keys)", s.Dropped())
	}
	var total int64
	for _, x := range s.Pending().Clients {
		total += x.Total
	}
	if total != 4 {
		t.Errorf("pending client total %d, want 4", total)
	}
}

func TestStatsCloseFlushes(t *testing.T) {
	c := &collector{}
	s := NewStats(StatsOptions{Flush: c.flush, Interval: time.Hour})
	s.Record("a", "t", "fetch", 200, false, time.Now())
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if clients, _, _, _, _ := c.totals(); clients != 1 {
		t.Errorf("flushed %d at close, want 1", clients)
	}
	if err := s.Close(context.Background()); err != nil { // second Close: nothing left
		t.Fatal(err)
	}
}

// TestStatsCloseAppliesDirectlyWhenFlushCannot: at shutdown with Temporal
// unreachable (Flush fails, or hangs until its deadline), the counters —
// a flush already pending under its id, and the records since — are applied
// through Direct within the Close deadline, under the same flush ids, and
// Close reports success.
func TestStatsCloseAppliesDirectlyWhenFlushCannot(t *testing.T) {
	for _, hang := range []bool{false, true} {
		t.Run(fmt.Sprintf("hang=%v", hang), func(t *testing.T) {
			temporal := &collector{fail: true}
			flush := temporal.flush
			if hang {
				flush = func(ctx context.Context, id string, d gateway.StatsDelta) error {
					<-ctx.Done()
					return ctx.Err()
				}
			}
			direct := &collector{}
			s := NewStats(StatsOptions{Flush: flush, Direct: direct.flush, Interval: time.Hour, Instance: "proc"})
			s.Record("a", "t", "fetch", 200, false, time.Now())
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := s.FlushNow(ctx); err == nil {
				t.Fatal("flush succeeded with Temporal down")
			}
			s.Record("a", "t", "fetch", 500, false, time.Now())
			s.Record("b", "", "", 200, true, time.Now())
			if err := s.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			clients, _, ok, failed, cached := direct.totals()
			if clients != 3 || ok != 2 || failed != 1 || cached != 1 {
				t.Errorf("applied directly: clients %d ok %d failed %d cached %d, want 3 2 1 1", clients, ok, failed, cached)
			}
			if len(direct.ids) == 0 || direct.ids[0] != "proc/1" {
				t.Errorf("direct flush ids %v: the pending batch must keep its id proc/1", direct.ids)
			}
		})
	}
}
