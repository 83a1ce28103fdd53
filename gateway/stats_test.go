package gateway

import (
	"encoding/json"
	"testing"
	"time"
)

func TestStatsCountsRecordAndAdd(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var c StatsCounts
	c.Record(200, true, at)
	c.Record(404, false, at.Add(-time.Minute)) // older: the time stays
	want := StatsCounts{Total: 2, Successful: 1, Failed: 1, Cached: 1, LastRequestAt: at}
	if c != want {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	c.Add(StatsCounts{Total: 3, Successful: 3, LastRequestAt: at.Add(time.Hour)})
	if c.Total != 5 || c.Successful != 4 || c.Failed != 1 || c.Cached != 1 || !c.LastRequestAt.Equal(at.Add(time.Hour)) {
		t.Fatalf("after Add: %+v", c)
	}
}

func TestStatsDeltaMergedSumsRepeatedKeysAndSorts(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := StatsDelta{
		Clients: []ClientStatsDelta{
			{Client: "shop", StatsCounts: StatsCounts{Total: 1, Successful: 1, LastRequestAt: at}},
			{Client: "blog", StatsCounts: StatsCounts{Total: 1, Failed: 1}},
			{Client: "shop", StatsCounts: StatsCounts{Total: 2, Failed: 2, Cached: 1, LastRequestAt: at.Add(time.Second)}},
		},
		Tables: []TableStatsDelta{
			{Client: "shop", Table: "users", Operation: "insert", StatsCounts: StatsCounts{Total: 1}},
			{Client: "shop", Table: "users", Operation: "fetch", StatsCounts: StatsCounts{Total: 1}},
			{Client: "shop", Table: "users", Operation: "insert", StatsCounts: StatsCounts{Total: 4}},
		},
	}
	m := d.Merged()
	if len(m.Clients) != 2 || m.Clients[0].Client != "blog" || m.Clients[1].Client != "shop" {
		t.Fatalf("clients: %+v", m.Clients)
	}
	if s := m.Clients[1]; s.Total != 3 || s.Successful != 1 || s.Failed != 2 || s.Cached != 1 || !s.LastRequestAt.Equal(at.Add(time.Second)) {
		t.Errorf("shop: %+v", s)
	}
	if len(m.Tables) != 2 || m.Tables[0].Operation != "fetch" || m.Tables[1].Operation != "insert" || m.Tables[1].Total != 5 {
		t.Errorf("tables: %+v", m.Tables)
	}
	if len(d.Clients) != 3 || d.Clients[0].Total != 1 {
		t.Errorf("Merged changed its input: %+v", d.Clients)
	}
}

// The JSON form is what workflow histories hold: the counters sit beside
// the key, as they did before the counters became an embedded type.
func TestStatsDeltaWireFormat(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	d := StatsDelta{
		Clients: []ClientStatsDelta{{Client: "shop", StatsCounts: StatsCounts{Total: 2, Successful: 1, Failed: 1, Cached: 1, LastRequestAt: at}}},
		Tables:  []TableStatsDelta{{Client: "shop", Table: "users", Operation: "fetch", StatsCounts: StatsCounts{Total: 2}}},
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"clients":[{"client":"shop","total":2,"successful":1,"failed":1,"cached":1,"last_request_at":"2026-01-02T03:04:05Z"}],` +
		`"tables":[{"client":"shop","table":"users","operation":"fetch","total":2,"successful":0,"failed":0,"cached":0,"last_request_at":"0001-01-01T00:00:00Z"}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
