package gateway

import (
	"cmp"
	"slices"
	"time"
)

// StatsCounts is what was counted for one statistics key: requests (or
// operations), how many succeeded, failed and came from the cache, and the
// latest one's time. It is the one place counters are incremented and
// summed, whether one process counts requests (telemetry), a flush is
// merged before it is applied (postgres), or a workflow carries it.
type StatsCounts struct {
	Total         int64     `json:"total"`
	Successful    int64     `json:"successful"`
	Failed        int64     `json:"failed"`
	Cached        int64     `json:"cached"`
	LastRequestAt time.Time `json:"last_request_at"`
}

// Record counts one request answered with status at at: status < 400 is
// successful, anything else failed; cached counts independently.
func (c *StatsCounts) Record(status int, cached bool, at time.Time) {
	c.Total++
	if status < 400 {
		c.Successful++
	} else {
		c.Failed++
	}
	if cached {
		c.Cached++
	}
	if at.After(c.LastRequestAt) {
		c.LastRequestAt = at
	}
}

// Add sums o into c; the later LastRequestAt wins.
func (c *StatsCounts) Add(o StatsCounts) {
	c.Total += o.Total
	c.Successful += o.Successful
	c.Failed += o.Failed
	c.Cached += o.Cached
	if o.LastRequestAt.After(c.LastRequestAt) {
		c.LastRequestAt = o.LastRequestAt
	}
}

// ClientStatsDelta is what one gateway process counted for one client since
// its last flush. On the wire (JSON, workflow history) the counters sit
// beside the client name.
type ClientStatsDelta struct {
	Client string `json:"client"`
	StatsCounts
}

// TableStatsDelta is what one gateway process counted for one (client,
// table, operation) since its last flush.
type TableStatsDelta struct {
	Client    string `json:"client"`
	Table     string `json:"table"`
	Operation string `json:"operation"`
	StatsCounts
}

// StatsDelta is one flush of counters: counts only, never rows, so it is a
// few hundred bytes in workflow history.
type StatsDelta struct {
	Clients []ClientStatsDelta `json:"clients,omitempty"`
	Tables  []TableStatsDelta  `json:"tables,omitempty"`
}

// Empty reports whether d counts nothing.
func (d StatsDelta) Empty() bool { return len(d.Clients) == 0 && len(d.Tables) == 0 }

// Merged returns d with repeated keys summed into one entry each, sorted by
// key (client; then table and operation). One INSERT … ON CONFLICT cannot
// touch a row twice, and concurrent flushes sorted alike lock rows in the
// same order and cannot deadlock. d is not modified.
func (d StatsDelta) Merged() StatsDelta {
	var out StatsDelta
	ci := make(map[string]int, len(d.Clients))
	for _, c := range d.Clients {
		if i, ok := ci[c.Client]; ok {
			out.Clients[i].Add(c.StatsCounts)
			continue
		}
		ci[c.Client] = len(out.Clients)
		out.Clients = append(out.Clients, c)
	}
	type key struct{ client, table, op string }
	ti := make(map[key]int, len(d.Tables))
	for _, t := range d.Tables {
		k := key{t.Client, t.Table, t.Operation}
		if i, ok := ti[k]; ok {
			out.Tables[i].Add(t.StatsCounts)
			continue
		}
		ti[k] = len(out.Tables)
		out.Tables = append(out.Tables, t)
	}
	slices.SortFunc(out.Clients, func(a, b ClientStatsDelta) int { return cmp.Compare(a.Client, b.Client) })
	slices.SortFunc(out.Tables, func(a, b TableStatsDelta) int {
		return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Table, b.Table), cmp.Compare(a.Operation, b.Operation))
	})
	return out
}
