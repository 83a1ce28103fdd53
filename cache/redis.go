package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedis opens a client for url ("redis://host:port/db"). It does no I/O:
// go-redis connects on first use, so a dead Redis never blocks start-up.
// Timeouts are short because every Redis use is an optimisation: a slow
// Redis must degrade to process-local behaviour, not stall requests.
func NewRedis(url string) (*redis.Client, error) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("parse redis url: %w", err)
	}
	opts.DialTimeout = time.Second
	opts.ReadTimeout = 500 * time.Millisecond
	opts.WriteTimeout = 500 * time.Millisecond
	opts.MaxRetries = 1
	// One dial attempt: go-redis would otherwise retry a refused dial five
	// times with backoff, turning "Redis is down" into half a second per
	// call instead of an immediate error.
	opts.DialerRetries = 1
	return redis.NewClient(opts), nil
}

// Ping checks that Redis answers.
func Ping(ctx context.Context, c *redis.Client) error {
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}
