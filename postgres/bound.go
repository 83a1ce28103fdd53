package postgres

import "github.com/athena-gateway/athena/gateway"

// Row locks a bounded update or delete takes on the rows it chose. An
// UPDATE takes FOR NO KEY UPDATE on the rows it changes (FOR UPDATE only
// when it changes a key), so choosing with that mode blocks nobody a plain
// UPDATE would not; a DELETE takes FOR UPDATE.
const (
	lockForUpdate      = " FOR UPDATE OF t1"
	lockForNoKeyUpdate = " FOR NO KEY UPDATE OF t1"
)

// mutationWhere writes the WHERE clause of an UPDATE or DELETE whose target
// has alias t0. Without a bound it is the conditions. With one, the
// statement is restricted to the identity of the rows the bound chooses, in
// the same statement:
//
//	WHERE (t0.pk) IN (SELECT t1.pk FROM tbl AS t1 WHERE <conds>
//	                  ORDER BY <sort>, t1.pk LIMIT $n OFFSET $m FOR … OF t1)
//
// Why this shape:
//   - PostgreSQL has no UPDATE … LIMIT; a subquery choosing the keys is the
//     one statement that both bounds and returns the changed rows.
//   - The identity is the primary key. Its columns end the ORDER BY as a
//     tiebreaker, so equal sort values (or no sort at all) still choose the
//     same rows every time and consecutive ranges never overlap.
//   - The subquery locks what it chooses. Under READ COMMITTED a row changed
//     by a concurrent transaction is then re-checked against the conditions
//     on its newest version before it counts towards the limit (LockRows
//     runs below Limit, so the limit is still filled from the rows that
//     qualify). Without the lock the subquery would choose from its
//     snapshot and the outer statement, re-checking only "key IN (…)",
//     would write a row that no longer matches the conditions.
//   - A table without a primary key is matched by (tableoid, ctid): the
//     physical address of the row version, unique across partitions and
//     inheritance children. The lock keeps the chosen versions in place
//     until the outer statement writes them. One caveat remains, which the
//     primary key does not have: when a chosen row was changed by a
//     transaction that committed while the subquery waited for its lock,
//     the subquery yields the newest version's address, which the outer
//     statement's snapshot cannot see, so that row is left unchanged. The
//     statement then writes fewer rows than the limit, never a row outside
//     the bound. Give the table a primary key for exact behaviour.
//   - Relations with neither (views, foreign tables) are refused: there is
//     nothing to identify their rows by, and an unbounded write is not what
//     was asked.
func (b *sqlBuf) mutationWhere(s scope, conds []gateway.Condition, bound gateway.RowBound, lock string) error {
	cond := s
	cond.code = gateway.CodeInvalidFetchCondition
	if !bound.Bounded() {
		return b.where(cond, conds)
	}
	m := s.meta
	key := m.PrimaryKey
	physical := len(key) == 0
	if physical && m.Kind != "r" && m.Kind != "p" {
		return gateway.Errorf(s.code, "limit/offset on %q needs a primary key to identify the rows it chooses (it is a view or foreign table without one); filter with conditions instead", m.Name)
	}
	// identity writes the key columns of alias, comma separated.
	identity := func(alias string) {
		if physical {
			b.WriteString(alias + ".tableoid, " + alias + ".ctid")
		}
		for i, k := range key {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(alias)
			b.WriteByte('.')
			b.ident(k)
		}
	}
	b.WriteString(" WHERE (")
	identity(s.alias)
	b.WriteString(") IN (SELECT ")
	identity("t1")
	b.WriteString(" FROM ")
	b.WriteString(m.ident())
	b.WriteString(" AS t1")
	inner := scope{alias: "t1", meta: m, code: gateway.CodeInvalidFetchCondition}
	if err := b.where(inner, conds); err != nil {
		return err
	}
	sorts := bound.Sort
	for _, k := range key {
		if !sortsOn(sorts, k) {
			sorts = append(sorts[:len(sorts):len(sorts)], gateway.Sort{Column: k})
		}
	}
	inner.code = s.code
	if err := b.orderBy(inner, sorts); err != nil {
		return err
	}
	if err := b.limitOffset(bound.Limit, bound.Offset, s.code); err != nil {
		return err
	}
	b.WriteString(lock)
	b.WriteByte(')')
	return nil
}

// sortsOn reports whether sorts already orders by column.
func sortsOn(sorts []gateway.Sort, column string) bool {
	for _, s := range sorts {
		if s.Column == column {
			return true
		}
	}
	return false
}
