// Package cache is Athena's read cache: an in-process cache plus optional
// Redis, and the invalidation that keeps reads exact. For now it holds the
// Redis connection the rest of the system may use.
package cache
