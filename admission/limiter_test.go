package admission

import (
	"context"
	"testing"
	"time"
)

func TestParseLimit(t *testing.T) {
	tests := []struct {
		give string
		want Limit
		ok   bool
	}{
		{give: `{"rps":2.5,"burst":5,"max_in_flight":3}`, want: Limit{RPS: 2.5, Burst: 5, MaxInFlight: 3}, ok: true},
		{give: `{}`, ok: true},
		{give: `{"rps":-1}`},
		{give: `{"burst":-1}`},
		{give: `{"rps":1,"brust":2}`},
		{give: `{"rps":1} {}`},
		{give: `[]`},
	}
	for _, tt := range tests {
		got, err := ParseLimit([]byte(tt.give))
		if (err == nil) != tt.ok || (tt.ok && got != tt.want) {
			t.Errorf("ParseLimit(%s): got %+v, %v; want %+v, ok %v", tt.give, got, err, tt.want, tt.ok)
		}
	}
}

// TestPerProcessRate: without Redis a client gets its burst, then a
// refusal whose wait is the time to the next token; other clients and
// the global limit are separate buckets.
func TestPerProcessRate(t *testing.T) {
	l := New(Options{
		Global:        Limit{RPS: 1.0 / 60, Burst: 5},
		ClientDefault: Limit{RPS: 1.0 / 60, Burst: 2},
	})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, v := l.Admit(ctx, "a"); !v.Admitted() {
			t.Fatalf("request %d refused: %+v", i, v)
		}
	}
	_, v := l.Admit(ctx, "a")
	if v.Reason != ReasonClientRate || v.RetryAfter < 30*time.Second || v.RetryAfter > time.Minute || v.Limit != 2 {
		t.Errorf("third: got %+v, want client_rate with a wait of about a minute", v)
	}
	// b has its own bucket, but the global one has 3 tokens left.
	for i := 0; i < 2; i++ {
		if _, v := l.Admit(ctx, "b"); !v.Admitted() {
			t.Fatalf("b %d refused: %+v", i, v)
		}
	}
	if _, v := l.Admit(ctx, "c"); !v.Admitted() {
		t.Fatalf("c refused: %+v", v)
	}
	if _, v := l.Admit(ctx, "d"); v.Reason != ReasonGlobalRate {
		t.Errorf("d: got %+v, want global_rate", v)
	}
}

// TestInFlightCaps: a ticket holds a slot until released; a refusal takes
// nothing, and a changed limit applies to the next request.
func TestInFlightCaps(t *testing.T) {
	l := New(Options{Global: Limit{MaxInFlight: 3}, ClientDefault: Limit{MaxInFlight: 1}})
	ctx := context.Background()
	t1, v := l.Admit(ctx, "a")
	if !v.Admitted() {
		t.Fatal(v)
	}
	if _, v := l.Admit(ctx, "a"); v.Reason != ReasonClientInFlight || v.Count != 1 || v.Limit != 1 {
		t.Errorf("second a: %+v", v)
	}
	t2, _ := l.Admit(ctx, "b")
	t3, _ := l.Admit(ctx, "c")
	if _, v := l.Admit(ctx, "d"); v.Reason != ReasonGlobalInFlight {
		t.Errorf("d: %+v, want global_in_flight", v)
	}
	if clients, global := l.InFlight(); global != 3 || clients["a"] != 1 || clients["d"] != 0 {
		t.Errorf("in flight: %v, %d", clients, global)
	}
	t1.Release()
	t2.Release()
	t3.Release()
	if clients, global := l.InFlight(); global != 0 || clients["a"] != 0 {
		t.Errorf("after release: %v, %d", clients, global)
	}
	l.SetOverride("a", &Limit{MaxInFlight: 2})
	ta, _ := l.Admit(ctx, "a")
	tb, v := l.Admit(ctx, "a")
	if !v.Admitted() {
		t.Errorf("override not applied: %+v", v)
	}
	ta.Release()
	tb.Release()
	if lim, src := l.Effective("a"); src != SourceDatabase || lim.MaxInFlight != 2 {
		t.Errorf("effective: %+v %s", lim, src)
	}
	l.ReplaceOverrides(nil)
	if _, src := l.Effective("a"); src != SourceDefault {
		t.Errorf("after reload without overrides: %s", src)
	}
}

// TestUnlimitedAdmitDoesNotAllocate: a client without limits is
// admitted with no allocation (the state exists after the first call).
func TestUnlimitedAdmitDoesNotAllocate(t *testing.T) {
	l := New(Options{})
	ctx := context.Background()
	l.Admit(ctx, "a")
	if n := testing.AllocsPerRun(100, func() {
		tk, _ := l.Admit(ctx, "a")
		tk.Release()
	}); n != 0 {
		t.Errorf("Admit allocates %v times per call", n)
	}
}

// TestDecisionCounts: admitted requests are counted by Admit, refusals by
// the caller's Count.
func TestDecisionCounts(t *testing.T) {
	l := New(Options{ClientDefault: Limit{RPS: 1.0 / 60, Burst: 1}})
	ctx := context.Background()
	l.Admit(ctx, "a")
	_, v := l.Admit(ctx, "a")
	l.Count("a", Rejected, v.Reason)
	got := map[DecisionCount]bool{}
	for _, d := range l.Decisions() {
		got[d] = true
	}
	if len(got) != 2 || !got[DecisionCount{"a", Admitted, ReasonNone, 1}] || !got[DecisionCount{"a", Rejected, ReasonClientRate, 1}] {
		t.Errorf("decisions: %v", l.Decisions())
	}
}
