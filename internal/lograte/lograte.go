// Package lograte keeps a recurring warning from flooding the log: during
// an outage every request meets the same failure, and one line per request
// (131,727 lines in one logging-database outage) buries everything else.
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultInterval is the least time between two lines of one Warner.
const DefaultInterval = 10 * time.Second

// Warner logs the first occurrence of a warning at once and then at most
// one line per Interval, each carrying how many occurrences it stood for
// since the previous line ("suppressed"). The zero value is ready to use.
type Warner struct {
	Interval   time.Duration    // default DefaultInterval
	Now        func() time.Time // default time.Now
	mu         sync.Mutex
	next       time.Time
	suppressed int
}

// Warn logs msg with args on log unless a line went out less than Interval
// ago; then it only counts it.
func (w *Warner) Warn(ctx context.Context, log *slog.Logger, msg string, args ...any) {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	interval := w.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	t := now()
	w.mu.Lock()
	if t.Before(w.next) {
		w.suppressed++
		w.mu.Unlock()
		return
	}
	n := w.suppressed
	w.suppressed = 0
	w.next = t.Add(interval)
	w.mu.Unlock()
	if n > 0 {
		args = append(args, "suppressed", n)
	}
	log.WarnContext(ctx, msg, args...)
}
