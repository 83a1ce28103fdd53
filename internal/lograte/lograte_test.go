package lograte

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestWarnerFirstThenOnePerInterval: the first warning is logged, repeats
// within the interval are counted, and the next line says how many.
func TestWarnerFirstThenOnePerInterval(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	w := Warner{Interval: 10 * time.Second, Now: func() time.Time { return now }}
	for range 1000 { // 1000 warnings over 20 s
		w.Warn(context.Background(), log, "store down")
		now = now.Add(20 * time.Millisecond)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	if strings.Contains(lines[0], "suppressed") || !strings.Contains(lines[1], "suppressed=499") {
		t.Errorf("lines:\n%s", buf.String())
	}
}
