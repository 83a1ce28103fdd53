package api

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/athena-gateway/athena/gateway"
	"github.com/athena-gateway/athena/telemetry"
)

// recordedLogs is a telemetry.LogStore that keeps what it is given.
type recordedLogs struct {
	mu  sync.Mutex
	req []telemetry.RequestEntry
	ops []telemetry.OperationEntry
}

func (r *recordedLogs) CopyRequests(_ context.Context, rows []telemetry.RequestEntry) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.req = append(r.req, rows...)
	return int64(len(rows)), nil
}

func (r *recordedLogs) CopyOperations(_ context.Context, rows []telemetry.OperationEntry) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, rows...)
	return int64(len(rows)), nil
}

func (r *recordedLogs) CopyAudit(_ context.Context, rows []telemetry.AuditEntry) (int64, error) {
	return int64(len(rows)), nil
}

func (r *recordedLogs) PruneLogs(context.Context, time.Time, int) (int64, int64, error) {
	return 0, 0, nil
}

func (r *recordedLogs) CopyAdmissions(_ context.Context, rows []telemetry.AdmissionEntry) (int64, error) {
	return int64(len(rows)), nil
}

func (r *recordedLogs) PruneAdmissions(context.Context, time.Time, int) (int64, error) { return 0, nil }

func TestObserveQueuesRequestAndOperationLogs(t *testing.T) {
	h := newHarness(t)
	store := &recordedLogs{}
	// Not started: entries stay queued until Close writes them, so the
	// test reads them without waiting on a flush interval.
	logs := telemetry.NewLogWriter(store, telemetry.LogOptions{}, nil, nil)
	h.engine = New(registryDeps(h.reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Logs: logs}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.do("POST", "/gateway/fetch", "test", `{"table_name":"users"}`,
		"X-Request-Id", "req-ok", "X-User-Id", "u1", "X-Company-Id", "c1", "X-Organization-Id", "o1", "User-Agent", "sdk/2").want(t, 200)
	h.do("POST", "/gateway/data", "test", `{"table_name":"nope"}`, "X-Request-Id", "req-404").want(t, 404)
	h.do("GET", "/ping", "", "", "X-Request-Id", "req-ping").want(t, 200)
	if err := logs.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	if len(store.req) != 3 {
		t.Fatalf("request entries: got %d, want 3", len(store.req))
	}
	ok := store.req[0]
	if ok.RequestID != "req-ok" || ok.Client != "test" || ok.Method != "POST" || ok.Path != "/gateway/fetch" ||
		ok.Status != 200 || ok.UserID != "u1" || ok.CompanyID != "c1" || ok.OrganizationID != "o1" ||
		ok.UserAgent != "sdk/2" || ok.IPv4 == "" || ok.Cached || ok.Error != "" || ok.Time.IsZero() || ok.Duration <= 0 {
		t.Errorf("fetch entry: got %+v", ok)
	}
	// Errors carry the envelope's code and message, not just the status text.
	if e := store.req[1]; e.Status != 404 || e.Error != "unknown_table" || e.Message != `relation "nope" does not exist` || e.Path != "/gateway/data" {
		t.Errorf("404 entry: got %+v", e)
	}
	if len(store.ops) != 2 {
		t.Fatalf("operation entries: got %d, want 2 (the /ping request has none)", len(store.ops))
	}
	for i, want := range []struct {
		id, op, table, errCode string
		status                 int
	}{{"req-ok", "fetch", "users", "", 200}, {"req-404", "fetch", "nope", "unknown_table", 404}} {
		got := store.ops[i]
		if got.RequestID != want.id || got.Operation != want.op || got.Status != want.status || got.Client != "test" ||
			got.Rows != -1 || got.Table != want.table || got.Error != want.errCode {
			t.Errorf("operation %d: got %+v, want %s %s %s %d %s", i, got, want.id, want.op, want.table, want.status, want.errCode)
		}
	}
}

func TestGatewayOperation(t *testing.T) {
	for _, tt := range []struct {
		give string
		want string
		ok   bool
	}{
		{"/gateway/fetch", "fetch", true},
		{"/gateway/data", "fetch", true},
		{"/gateway/insert", "insert", true},
		{"/gateway/sql", "query", true},
		{"/query/sql", "query", true},
		{"/gateway/transaction", "transaction", true},
		{"/admin/clients", "", false},
		{"", "", false},
	} {
		got, ok := gatewayOperation(tt.give)
		if got != tt.want || ok != tt.ok {
			t.Errorf("gatewayOperation(%q): got %q %v, want %q %v", tt.give, got, ok, tt.want, tt.ok)
		}
	}
}

// TestObserveCountsStatistics: every request is counted once per client
// and, for gateway operations, per (client, table, operation); the sum of
// the counters equals the number of requests.
func TestObserveCountsStatistics(t *testing.T) {
	h := newHarness(t)
	stats := telemetry.NewStats(telemetry.StatsOptions{Interval: time.Hour})
	t.Cleanup(func() { _ = stats.Close(context.Background()) })
	h.engine = New(registryDeps(h.reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Stats: stats}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for i := 0; i < 5; i++ {
		h.do("POST", "/gateway/fetch", "test", `{"table_name":"users"}`).want(t, 200)
	}
	h.do("POST", "/gateway/fetch", "test", `{"table_name":"nope"}`).want(t, 404)
	h.do("PUT", "/gateway/insert", "test", `{"table_name":"users","insert_body":{"email":"s@x"}}`).want(t, 201)
	d := stats.Pending()
	var total, failed int64
	for _, c := range d.Clients {
		if c.Client == "test" {
			total, failed = c.Total, c.Failed
		}
	}
	if total != 7 || failed != 1 {
		t.Errorf("client totals: got total %d failed %d, want 7 and 1 (%+v)", total, failed, d.Clients)
	}
	per := map[string]int64{}
	for _, tt := range d.Tables {
		per[tt.Table+"/"+tt.Operation] += tt.Total
	}
	if per["users/fetch"] != 5 || per["nope/fetch"] != 1 || per["users/insert"] != 1 {
		t.Errorf("per-table counts: got %v", per)
	}
}

// TestRequestLogClientAddress: the logged address is the peer's unless the
// peer is a configured trusted proxy; a client cannot forge it with
// X-Forwarded-For (gin's default would believe any peer).
func TestRequestLogClientAddress(t *testing.T) {
	for _, tt := range []struct {
		name    string
		trusted []string
		want    string
	}{
		{"no proxy trusted", nil, "192.0.2.1"}, // httptest's peer address
		{"peer is a trusted proxy", []string{"192.0.2.0/24"}, "203.0.113.7"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			store := &recordedLogs{}
			logs := telemetry.NewLogWriter(store, telemetry.LogOptions{}, nil, nil)
			h.engine = New(registryDeps(h.reg, nil), Options{Version: "test", BodyLimitBytes: 1 << 20, Limits: gateway.DefaultLimits(), Logs: logs, TrustedProxies: tt.trusted}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			h.do("GET", "/ping", "", "", "X-Forwarded-For", "203.0.113.7").want(t, 200)
			if err := logs.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(store.req) != 1 || store.req[0].IPv4 != tt.want {
				t.Fatalf("logged address: got %+v, want %s", store.req, tt.want)
			}
		})
	}
}
