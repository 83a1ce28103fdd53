package postgres

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Every context handed out expires no sooner than the timeout and no later
// than 1.25× it after the call, and calls within a quarter timeout share one.
func TestSharedDeadlineBounds(t *testing.T) {
	var s sharedDeadline
	const timeout = 400 * time.Millisecond
	first := s.get(timeout)
	for range 50 {
		before := time.Now()
		ctx := s.get(timeout)
		after := time.Now()
		d, ok := ctx.Deadline()
		if !ok {
			t.Fatal("no deadline")
		}
		if d.Before(before.Add(timeout)) || d.After(after.Add(timeout+timeout/4)) {
			t.Fatalf("deadline %v outside [%v, %v]", d, before.Add(timeout), after.Add(timeout+timeout/4))
		}
		time.Sleep(5 * time.Millisecond)
	}
	<-first.Done() // expires on its own deadline
	if !errors.Is(first.Err(), context.DeadlineExceeded) {
		t.Fatalf("first context ended with %v", first.Err())
	}
}

// acquireContext waits under the shared deadline but keeps the caller's
// values.
func TestAcquireContextValues(t *testing.T) {
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	var s sharedDeadline
	ctx := acquireContext{parent, s.get(time.Second)}
	if ctx.Value(key{}) != "v" {
		t.Fatal("value lost")
	}
	if _, ok := ctx.Deadline(); !ok || ctx.Done() == nil {
		t.Fatal("no deadline")
	}
}
