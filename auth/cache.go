package auth

import (
	"sync"
	"time"
)

// keyCache holds key lookups by public id for a short time: found keys and
// "not found" answers alike, so a flood of unknown ids costs one store query
// per id per TTL. It is bounded: when full, expired entries are swept (at
// most once per TTL) and then arbitrary entries are evicted, so an
// attacker minting ids can churn the cache but not grow it.
type keyCache struct {
	mu        sync.Mutex
	max       int
	ttl       time.Duration
	entries   map[string]keyEntry
	nextSweep time.Time
}

type keyEntry struct {
	key     Key
	found   bool
	expires time.Time
}

func newKeyCache(max int, ttl time.Duration) *keyCache {
	return &keyCache{max: max, ttl: ttl, entries: make(map[string]keyEntry)}
}

// get returns the entry for id; ok is false when absent or expired.
func (c *keyCache) get(id string, now time.Time) (k Key, found, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return Key{}, false, false
	}
	if !now.Before(e.expires) {
		delete(c.entries, id)
		return Key{}, false, false
	}
	return e.key, e.found, true
}

// put caches a lookup made at now for one TTL.
func (c *keyCache) put(id string, k Key, found bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[id]; !exists && len(c.entries) >= c.max {
		c.makeRoom(now)
	}
	c.entries[id] = keyEntry{key: k, found: found, expires: now.Add(c.ttl)}
}

// makeRoom frees at least one slot. The O(n) sweep of expired entries runs
// at most once per TTL (every entry lives exactly one TTL, so an earlier
// sweep cannot find more); if that frees nothing, arbitrary entries go.
func (c *keyCache) makeRoom(now time.Time) {
	if !now.Before(c.nextSweep) {
		c.nextSweep = now.Add(c.ttl)
		for id, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, id)
			}
		}
	}
	for id := range c.entries {
		if len(c.entries) < c.max {
			break
		}
		delete(c.entries, id)
	}
}

func (c *keyCache) remove(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}

func (c *keyCache) clear() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

func (c *keyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
