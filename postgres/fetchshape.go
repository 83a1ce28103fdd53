package postgres

import (
	"context"
	"reflect"
	"slices"
	"sync"

	"github.com/athena-gateway/athena/gateway"
)

// Plans by shape. A fetch of a known gateway.FetchShape differs from the
// shape's probe only in its slot values, and the builder binds each of
// those as it is (textValue of a number or a string is its text) into one
// placeholder: the statements are the same and only their arguments
// differ. So the plan of the probe is built once per shape, with the
// argument index of every slot, and a fetch of that shape copies the plan
// with its own values in those arguments instead of building SQL.
//
// A shape plan is only used when that is provably what the builder gives:
// each slot's sentinel must be exactly one argument of the probe's rows
// statement (and, when there is a count, of the WHERE arguments it
// shares), and the plan the builder makes for the first real fetch must
// equal the probe's plan with that fetch's values put in. Otherwise the
// shape is remembered as having no plan and its fetches are planned in
// full (PlanFetch), as is any fetch while the plan's metadata is stale.

// shapePlan is the plan of one shape: the probe's plan and, per slot, its
// argument index in the rows arguments (the count arguments are a prefix
// of those, see buildFetch).
type shapePlan struct {
	plan *FetchPlan
	args []int
}

// shapePlans remembers shape plans by shape; nil remembers a shape that
// has none. Bounded like planMemo; when full it starts over.
type shapePlans struct {
	mu sync.RWMutex
	m  map[*gateway.FetchShape]*shapePlan
}

const shapePlanEntries = 256

func (sp *shapePlans) get(f *gateway.FetchShape) (*shapePlan, bool) {
	sp.mu.RLock()
	p, ok := sp.m[f]
	sp.mu.RUnlock()
	return p, ok
}

func (sp *shapePlans) put(f *gateway.FetchShape, p *shapePlan) {
	sp.mu.Lock()
	if sp.m == nil || len(sp.m) >= shapePlanEntries {
		sp.m = make(map[*gateway.FetchShape]*shapePlan, 16)
	}
	sp.m[f] = p
	sp.mu.Unlock()
}

// PlanFetchShape plans req, a fetch bound from shape (shape.Bind): through
// the shape's plan when it has one and its metadata is current, else in
// full, as PlanFetch(ctx, req, nil).
func (db *DB) PlanFetchShape(ctx context.Context, req *gateway.FetchRequest, shape *gateway.FetchShape) (*FetchPlan, error) {
	sp, known := db.shapePlans.get(shape)
	if sp != nil && sp.plan.current(db.meta) {
		return sp.bind(req, shape), nil
	}
	p, err := db.PlanFetch(ctx, req, nil)
	if err != nil || (known && sp == nil) {
		return p, err
	}
	db.shapePlans.put(shape, db.newShapePlan(ctx, shape, req, p))
	return p, nil
}

// newShapePlan plans shape's probe and checks it against p, the plan of
// req; nil when the shape's plan cannot stand for the builder.
func (db *DB) newShapePlan(ctx context.Context, shape *gateway.FetchShape, req *gateway.FetchRequest, p *FetchPlan) *shapePlan {
	probe, err := db.PlanFetch(ctx, shape.Probe(), nil)
	if err != nil {
		return nil
	}
	sp := &shapePlan{plan: probe, args: make([]int, shape.Slots())}
	for i := range sp.args {
		want, err := textValue(shape.Sentinel(i))
		if err != nil {
			return nil
		}
		sp.args[i] = -1
		for j, a := range probe.q.rowsArgs {
			if a == want {
				if sp.args[i] != -1 {
					return nil // bound twice
				}
				sp.args[i] = j
			}
		}
		if sp.args[i] == -1 || slices.Contains(probe.q.countArgs, want) && sp.args[i] >= len(probe.q.countArgs) {
			return nil
		}
	}
	if got := sp.bind(req, shape); !reflect.DeepEqual(got.q, p.q) || !reflect.DeepEqual(got.Tables, p.Tables) ||
		got.head != p.head || got.count != p.count {
		return nil
	}
	return sp
}

// bind returns the shape's plan with req's slot values in its arguments.
func (sp *shapePlan) bind(req *gateway.FetchRequest, shape *gateway.FetchShape) *FetchPlan {
	p := *sp.plan
	p.q.rowsArgs = slices.Clone(p.q.rowsArgs)
	for i, j := range sp.args {
		v, _ := textValue(shape.Value(req, i)) // a number or a string: never fails
		p.q.rowsArgs[j] = v
	}
	if n := len(p.q.countArgs); n > 0 {
		p.q.countArgs = p.q.rowsArgs[:n:n] // the WHERE arguments, as buildFetch shares them
	}
	return &p
}
