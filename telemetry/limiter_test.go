package telemetry

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiterBoundsConcurrency(t *testing.T) {
	const tasks, slots = 20, 2
	lim := NewLimiter(slots)
	var running, peak atomic.Int64
	// Every task that gets a slot holds it until gate closes, so the test
	// sees the moment the limiter is full and everyone else queued, with
	// no timing involved.
	entered, gate := make(chan struct{}, tasks), make(chan struct{})
	var wg sync.WaitGroup
	for range tasks {
		wg.Go(func() {
			err := lim.Do(context.Background(), func() error {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				entered <- struct{}{}
				<-gate // hold the slot so others queue
				running.Add(-1)
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	for range slots {
		<-entered
	}
	// The other tasks each count a wait before they block on the full
	// limiter; once all have, none can be running.
	for lim.Waits() < tasks-slots {
		if r := running.Load(); r > slots {
			// A limiter that lets a third task in never counts the waits.
			close(gate)
			wg.Wait()
			t.Fatalf("%d tasks running on %d slots", r, slots)
		}
		runtime.Gosched()
	}
	if r, f := running.Load(), lim.InFlight(); r != slots || f != slots {
		t.Errorf("with %d tasks queued: %d running, %d in flight; want %d", tasks-slots, r, f, slots)
	}
	close(gate)
	wg.Wait()
	if p := peak.Load(); p > slots || p < 1 {
		t.Errorf("peak concurrency %d, want 1..2 with 2 slots", p)
	}
	if lim.InFlight() != 0 {
		t.Errorf("in flight after all returned: %d", lim.InFlight())
	}
	if lim.Waits() == 0 {
		t.Error("20 tasks on 2 slots never waited")
	}
}

func TestLimiterAcquireGivesUpWithContext(t *testing.T) {
	lim := NewLimiter(1)
	release, err := lim.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := lim.Do(ctx, func() error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("full limiter with a dead context: err %v, ran %v; want context.Canceled and not run", err, ran)
	}
	if lim.refused.Load() != 1 {
		t.Errorf("refusals %d, want 1", lim.refused.Load())
	}
	release()
	release() // a second release must not free a slot it does not hold
	if lim.InFlight() != 0 {
		t.Errorf("in flight %d after release", lim.InFlight())
	}
	r1, _ := lim.Acquire(context.Background())
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if _, err := lim.Acquire(ctx2); err == nil {
		t.Error("double release freed an extra slot: second acquire on a 1-slot limiter succeeded")
	}
	r1()
}

func TestNilLimiterDoesNotLimit(t *testing.T) {
	var lim *Limiter
	ran := false
	if err := lim.Do(context.Background(), func() error { ran = true; return nil }); err != nil || !ran {
		t.Errorf("nil limiter: err %v ran %v", err, ran)
	}
}

// slotStore is a LogStore that records, for each COPY, how many limiter
// slots were taken while it ran.
type slotStore struct {
	lim    *Limiter
	copied chan int64 // in-flight count seen inside each COPY
}

func (s *slotStore) CopyRequests(_ context.Context, rows []RequestEntry) (int64, error) {
	s.copied <- s.lim.InFlight()
	return int64(len(rows)), nil
}

func (s *slotStore) CopyOperations(_ context.Context, rows []OperationEntry) (int64, error) {
	s.copied <- s.lim.InFlight()
	return int64(len(rows)), nil
}

func (s *slotStore) CopyAudit(_ context.Context, rows []AuditEntry) (int64, error) {
	s.copied <- s.lim.InFlight()
	return int64(len(rows)), nil
}

func (s *slotStore) PruneLogs(context.Context, time.Time, int) (int64, int64, error) {
	return 0, 0, nil
}

func (s *slotStore) CopyAdmissions(_ context.Context, rows []AdmissionEntry) (int64, error) {
	s.copied <- s.lim.InFlight()
	return int64(len(rows)), nil
}

func (s *slotStore) PruneAdmissions(context.Context, time.Time, int) (int64, error) { return 0, nil }

// TestLogWriterWritesHoldALimiterSlot: a COPY runs only while holding a
// slot of the shared limiter, and while other telemetry holds every slot
// the writer waits in the background; requests still enqueue at once.
func TestLogWriterWritesHoldALimiterSlot(t *testing.T) {
	lim := NewLimiter(1)
	store := &slotStore{lim: lim, copied: make(chan int64, 10)}
	w := NewLogWriter(store, LogOptions{BatchSize: 1, FlushInterval: 10 * time.Millisecond, Retention: -1, Limiter: lim}, nil, nil)
	hold, err := lim.Acquire(context.Background()) // other telemetry work holds the only slot
	if err != nil {
		t.Fatal(err)
	}
	w.Start()
	mustReturn(t, func() { w.Request(RequestEntry{RequestID: "a"}) })
	select {
	case <-store.copied:
		t.Fatal("a COPY ran while the limiter's only slot was taken")
	case <-time.After(100 * time.Millisecond):
	}
	mustReturn(t, func() { w.Request(RequestEntry{RequestID: "b"}) }) // the request path never waits on the limiter
	hold()
	if seen := receive(t, store.copied, "the COPY after the slot was released"); seen != 1 {
		t.Errorf("COPY ran with %d slots taken, want 1 (its own)", seen)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if lim.InFlight() != 0 {
		t.Errorf("slots still taken after Close: %d", lim.InFlight())
	}
}
