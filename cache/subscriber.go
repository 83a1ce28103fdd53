package cache

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Start runs the background loop when Redis is configured: the pub/sub
// subscriber (other processes' writes free local entries at once) and the
// recovery probe (a degraded cache replays the bumps it could not make and
// resumes). It does no I/O itself and never blocks; Close stops the loop.
func (c *Cache) Start(context.Context) error {
	if c == nil || c.rdb == nil {
		return nil
	}
	c.startOnce.Do(func() {
		// Subscribe without channels does no I/O; the loop subscribes, and
		// go-redis reconnects the subscription after a Redis outage.
		c.sub = c.rdb.Subscribe(context.Background())
		go c.run()
	})
	return nil
}

// Close stops the background loop and the local cache's maintenance.
func (c *Cache) Close(context.Context) error {
	if c == nil {
		return nil
	}
	c.closeOnce.Do(func() {
		close(c.stop)
		if c.sub != nil {
			<-c.done
			_ = c.sub.Close()
			// Leave the readers at once, so writers stop waiting for us.
			ctx, cancel := context.WithTimeout(context.Background(), redisOpTimeout)
			_ = c.rdb.HDel(ctx, readersKey, c.id).Err()
			cancel()
		}
		c.local.StopAllGoroutines()
	})
	return nil
}

func (c *Cache) run() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	defer bg.Wait()
	defer c.sub.Close() // ends receive's blocking read
	defer cancel()
	go func() { // unblocks a Subscribe stuck dialling when Close is called
		select {
		case <-c.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	c.ackCh = ackChannel(c.id)
	sctx, scancel := context.WithTimeout(ctx, redisOpTimeout)
	// The channels are recorded even when this fails: go-redis subscribes
	// again on every reconnection, which receive sees as a session break.
	if err := c.sub.Subscribe(sctx, Channel, c.ackCh); err != nil {
		c.redisFailed(err)
	}
	scancel()
	bg.Go(func() { c.receive(ctx) })
	bg.Go(func() { c.sendAcks(ctx) })
	probe := time.NewTicker(c.opts.ProbeInterval)
	defer probe.Stop()
	renew := time.NewTicker(renewEvery)
	defer renew.Stop()
	c.renew(ctx)
	for {
		select {
		case <-c.stop:
			return
		case <-probe.C:
			c.probe(ctx)
		case <-renew.C:
			c.renew(ctx)
		}
	}
}

// probe brings a degraded cache back: replay the generation bumps that may
// have been lost, then resume. Until the replay succeeds every read of this
// process bypasses the cache, so none can be served from before a write
// this process made while Redis was away.
func (c *Cache) probe(ctx context.Context) {
	if !c.degraded.Load() {
		return
	}
	before := c.epoch.Load()
	c.pendingMu.Lock()
	keys := slices.Collect(maps.Keys(c.pending))
	c.pendingMu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	_, err := c.rdb.Pipelined(pctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.SetNX(pctx, k, randomGeneration(), 0)
			p.Incr(pctx, k)
		}
		if len(keys) > 0 {
			// Leased readers elsewhere mirror the generations these bumps
			// retire and never saw a notice for them.
			p.Publish(pctx, Channel, notice{All: true}.encode())
		}
		p.Ping(pctx)
		return nil
	})
	if err != nil {
		c.redisFailed(err)
		return
	}
	c.pendingMu.Lock()
	for _, k := range keys {
		delete(c.pending, k)
	}
	// A failure during the replay may have queued more bumps: stay
	// degraded and replay them on the next tick.
	resumed := c.epoch.Load() == before
	if resumed {
		c.local.InvalidateAll() // notices were missed while away
		c.idx.clear()
		c.mirror.clear()
		c.degraded.Store(false)
	}
	c.pendingMu.Unlock()
	if resumed {
		c.log.Info("redis answers again: read cache resumed", "replayed_bumps", len(keys))
	}
}
