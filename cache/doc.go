// Package cache is Athena's read cache: whole fetch responses kept in an
// in-process cache bounded by bytes (otter), optionally written through to
// Redis, and the generation-based invalidation that keeps reads exact.
//
// A cached response is keyed by the database scope, the normalised request
// and the current generation of every table the read touches plus a
// scope-wide generation. A committed write bumps the generations it may
// have changed, so later reads compute a different key: invalidation is
// O(1) and never has to find the entries it makes unreachable.
//
// With Redis the generations live there (INCR on write), so every gateway
// process sharing the Redis agrees on them; a PUBLISH lets the other
// processes forget superseded generations and entries at once. A process
// holding a lease keeps a mirror of the generations and answers a local hit
// with no Redis command; a write answers only after every leased reader
// acknowledged its notice or lost its lease (lease.go, docs/cache.md say
// why no stale read is possible). Without a lease a read fetches its
// generations with one MGET. When Redis
// cannot be reached, reads bypass the cache and writes still succeed; their
// bumps are replayed as soon as Redis answers again. See README "Read
// cache" for the exact guarantee.
package cache
