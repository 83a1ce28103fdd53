// Package admission is the gateway's admission limiter (spec §5): before a
// tenant request runs, it checks the request against a global limit and
// against its client's limit — requests per second with a burst, and a cap
// on requests in flight — and says whether it may run and, when not, why
// and for how long to wait.
//
// Rates are shared by every gateway process through Redis when one is
// configured (GCRA, github.com/go-redis/redis_rate), and kept per process
// (golang.org/x/time/rate) otherwise or while Redis does not answer: a
// Redis outage loosens the limit to one per process, never stops traffic.
// In-flight caps are always per process: a request in flight holds a slot
// of this process, and a crashed process must not leak slots elsewhere.
//
// The package decides; it neither answers HTTP nor records anything.
package admission

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// Limit is one limit: RPS requests per second with Burst requests at
// once, and at most MaxInFlight requests running. A zero RPS or
// MaxInFlight is no limit on that dimension.
type Limit struct {
	RPS         float64 `json:"rps" yaml:"rps"`
	Burst       int     `json:"burst" yaml:"burst"`
	MaxInFlight int     `json:"max_in_flight" yaml:"max_in_flight"`
}

// Validate reports a negative or non-finite value.
func (l Limit) Validate() error {
	if l.RPS < 0 || math.IsNaN(l.RPS) || math.IsInf(l.RPS, 0) {
		return fmt.Errorf("rps must be a finite number >= 0, got %v", l.RPS)
	}
	if l.Burst < 0 {
		return fmt.Errorf("burst must be >= 0, got %d", l.Burst)
	}
	if l.MaxInFlight < 0 {
		return fmt.Errorf("max_in_flight must be >= 0, got %d", l.MaxInFlight)
	}
	return nil
}

// withDefaults fills a missing burst: one second's worth of requests, at
// least one, so a rate alone is a sensible limit.
func (l Limit) withDefaults() Limit {
	if l.RPS > 0 && l.Burst <= 0 {
		l.Burst = max(1, int(math.Ceil(l.RPS)))
	}
	return l
}

// unlimited reports a limit that admits everything.
func (l Limit) unlimited() bool { return l.RPS <= 0 && l.MaxInFlight <= 0 }

// ParseLimit decodes and validates a limit document (the "admission" key
// of a client's athena_client_configs row, or an admin PUT body). Unknown
// fields are errors, so a typo is not silently no limit.
func ParseLimit(doc []byte) (Limit, error) {
	var l Limit
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return Limit{}, err
	}
	if dec.More() {
		return Limit{}, fmt.Errorf("trailing data after the limit object")
	}
	return l, l.Validate()
}

// Decision is what admission does with a request.
type Decision string

// Decisions, as stored in gateway_admission_events.decision.
const (
	Admitted Decision = "admitted"
	Deferred Decision = "deferred"
	Rejected Decision = "rejected"
)

// Reason says which limit refused a request.
type Reason string

// Reasons, as stored in gateway_admission_events.reason. An admitted
// request has none.
const (
	ReasonNone           Reason = ""
	ReasonClientRate     Reason = "client_rate"
	ReasonGlobalRate     Reason = "global_rate"
	ReasonClientInFlight Reason = "client_in_flight"
	ReasonGlobalInFlight Reason = "global_in_flight"
)
