package telemetry

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/athena-gateway/athena/postgres"
)

// TestLogWriterAudit: audit entries go through the writer's batches;
// FlushAudit writes everything queued before it (no flush interval, no
// batch size reached), Close writes the rest, and the log retention never
// deletes them.
func TestLogWriterAudit(t *testing.T) {
	pool := logPool(t)
	m := NewMetrics()
	w := NewLogWriter(postgres.NewLogStore(pool), LogOptions{BatchSize: 100, FlushInterval: time.Hour, Retention: -1}, m, nil)
	w.Start()
	old := time.Now().Add(-30 * 24 * time.Hour)
	w.Audit(AuditEntry{RequestID: "r1", Time: old, Actor: "admin", Action: "api_key.update", Target: "api_key:abc",
		Before: json.RawMessage(`{"name":"a"}`), After: json.RawMessage(`{"name":"b"}`)})
	w.Audit(AuditEntry{RequestID: "r2", Actor: "admin", Action: "client.delete", Target: "client:shop", Before: json.RawMessage(`{"client_name":"shop"}`)})
	if err := w.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := count(t, pool, "SELECT count(*) FROM admin_audit_log"); got != 2 {
		t.Fatalf("after FlushAudit: %d rows, want 2", got)
	}
	if got := count(t, pool, `SELECT count(*) FROM admin_audit_log WHERE request_id = 'r1' AND before->>'name' = 'a' AND after->>'name' = 'b'`); got != 1 {
		t.Fatalf("before/after not stored as JSON")
	}
	if got := count(t, pool, `SELECT count(*) FROM admin_audit_log WHERE request_id = 'r2' AND after IS NULL`); got != 1 {
		t.Fatalf("a missing after is not NULL")
	}
	if got := metricValue(t, m, "athena_log_written_total", "audit"); got != 2 {
		t.Fatalf("athena_log_written_total{log=audit}: got %v, want 2", got)
	}
	// Retention prunes the request and operation logs only.
	if _, err := w.Prune(context.Background(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if got := count(t, pool, "SELECT count(*) FROM admin_audit_log"); got != 2 {
		t.Fatalf("after Prune: %d rows, want 2", got)
	}
	w.Audit(AuditEntry{RequestID: "r3", Actor: "admin", Action: "api_key.create", Target: "api_key:def"})
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := count(t, pool, "SELECT count(*) FROM admin_audit_log"); got != 3 {
		t.Fatalf("after Close: %d rows, want 3", got)
	}
	// A closed (or nil) writer has nothing to flush and does not block.
	if err := w.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	var nilWriter *LogWriter
	nilWriter.Audit(AuditEntry{})
	if err := nilWriter.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
}
