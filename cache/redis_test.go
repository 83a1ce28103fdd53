package cache

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestRedisPing(t *testing.T) {
	url := os.Getenv("ATHENA_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	c, err := NewRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := Ping(context.Background(), c); err != nil {
		t.Fatalf("redis at %s (make test starts it): %v", url, err)
	}
	dead, err := NewRedis("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := Ping(ctx, dead); err == nil {
		t.Fatal("ping of a dead redis succeeded")
	}
	if ctx.Err() != nil {
		t.Fatal("ping of a dead redis hung until the guard deadline")
	}
	if _, err := NewRedis("http://nope"); err == nil {
		t.Error("a non-redis URL was accepted")
	}
}
