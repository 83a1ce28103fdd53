package postgres

import (
	"context"
	"slices"

	"github.com/athena-gateway/athena/gateway"
)

// Tables is the set of relations an operation reads or may change, for the
// read cache's invalidation (package cache): every name is resolved through
// the catalog ("schema.table"), so "users" and "public.users" are one table.
// A fetch's come with its plan (FetchPlan.Tables, resolved in the same pass
// as its statements); a write's from WriteTables.
type Tables struct {
	// Names are "schema.table", sorted and without duplicates.
	Names []string
	// Opaque means some change cannot be tracked by table name: a read
	// touches a view, a partitioned or inherited table (its rows change
	// through other names), so it must not be cached; a write reaches such
	// a relation, or a table with user triggers or rules (they may write
	// anywhere), so it must invalidate every table of the database.
	Opaque bool
}

// maxCascadeDepth bounds the walk along ON DELETE/UPDATE actions; a longer
// chain is treated as opaque rather than walked.
const maxCascadeDepth = 16

// WriteTables returns the tables a committed insert, update or delete on
// ref may have changed: ref itself plus, transitively, every table whose
// foreign key to it cascades or sets null/default (PostgreSQL changes
// those rows in the same statement). Opaque is set when any of them is not
// a plain table or has user triggers or rules.
func (db *DB) WriteTables(ctx context.Context, ref gateway.TableRef) (Tables, error) {
	var t Tables
	seen := map[gateway.TableRef]bool{}
	var walk func(ref gateway.TableRef, depth int) error
	walk = func(ref gateway.TableRef, depth int) error {
		m, err := db.meta.table(ctx, ref)
		if err != nil {
			return err
		}
		if seen[m.ref()] {
			return nil
		}
		seen[m.ref()] = true
		t.add(m, !m.Plain || m.SideEffects)
		for _, fk := range m.ForeignKey {
			if fk.RefSchema != m.Schema || fk.RefTable != m.Name {
				continue // not a key referencing m
			}
			if !changesReferencing(fk.OnDelete) && !changesReferencing(fk.OnUpdate) {
				continue
			}
			if !db.meta.exposed(fk.Schema) {
				// Rows change in a table no request reads by name; whatever
				// cascades on from it is unknown: every table may be stale.
				t.Opaque = true
				continue
			}
			if depth >= maxCascadeDepth {
				t.Opaque = true
				return nil
			}
			if err := walk(gateway.TableRef{Schema: fk.Schema, Name: fk.Table}, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(ref, 0); err != nil {
		return Tables{}, err
	}
	slices.Sort(t.Names)
	return t, nil
}

// changesReferencing reports whether a referential action modifies the
// referencing rows (cascade, set null, set default), as opposed to only
// refusing the change (no action, restrict).
func changesReferencing(action string) bool {
	return action == "c" || action == "n" || action == "d"
}

func (t *Tables) add(m *tableMeta, opaque bool) {
	t.Names = append(t.Names, m.Schema+"."+m.Name)
	t.Opaque = t.Opaque || opaque
}
