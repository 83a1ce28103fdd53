package gateway

import (
	"context"
	"testing"
	"time"
)

func TestMemoryIdempotencyBoundedAndExpiring(t *testing.T) {
	now := time.Unix(0, 0)
	m := NewMemoryIdempotency(2, time.Hour, func() time.Time { return now })
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		if _, claimed, _ := m.Reserve(ctx, "s", k, "h"); !claimed {
			t.Fatalf("reserve %s: not claimed", k)
		}
		_ = m.Complete(ctx, "s", k, []byte(k))
		now = now.Add(time.Second)
	}
	if replay, _, _ := m.Reserve(ctx, "s", "a", "h"); string(replay) != "a" {
		t.Fatalf("replay a: got %q", replay)
	}
	if _, claimed, _ := m.Reserve(ctx, "s", "c", "h"); !claimed { // evicts a, the oldest
		t.Fatal("reserve c: not claimed")
	}
	if len(m.m) != 2 {
		t.Errorf("size: got %d, want 2", len(m.m))
	}
	if _, claimed, _ := m.Reserve(ctx, "s", "a", "h"); !claimed {
		t.Error("evicted key a: want a fresh claim")
	}
	now = now.Add(2 * time.Hour)
	if _, claimed, _ := m.Reserve(ctx, "s", "b", "h"); !claimed {
		t.Error("expired key b: want a fresh claim")
	}
}
