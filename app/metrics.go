package app

import (
	"github.com/athena-gateway/athena/cache"
	"github.com/athena-gateway/athena/registry"
	"github.com/athena-gateway/athena/telemetry"
)

// newMetrics builds the Prometheus registry and the families read at scrape
// time from the pools and the read cache (nil when the cache is off).
func newMetrics(reg *registry.Registry, rc *cache.Cache, lim *telemetry.Limiter) *telemetry.Metrics {
	m := telemetry.NewMetrics()
	lim.Register(m)
	pools := func(field func(registry.PoolStat) float64) func() []telemetry.Sample {
		return func() []telemetry.Sample {
			stats := reg.Stats()
			out := make([]telemetry.Sample, 0, len(stats))
			for _, s := range stats {
				if s.Open {
					out = append(out, telemetry.Sample{Labels: []string{s.Client, s.Kind}, Value: field(s)})
				}
			}
			return out
		}
	}
	labels := []string{"client", "kind"}
	m.AddGauges("athena_pool_max_connections", "Pool size limit per client.", labels, pools(func(s registry.PoolStat) float64 { return float64(s.MaxConns) }))
	m.AddGauges("athena_pool_connections", "Open connections per client pool.", labels, pools(func(s registry.PoolStat) float64 { return float64(s.TotalConns) }))
	m.AddGauges("athena_pool_idle_connections", "Idle connections per client pool.", labels, pools(func(s registry.PoolStat) float64 { return float64(s.IdleConns) }))
	m.AddGauges("athena_pool_in_use_connections", "Connections in use per client pool.", labels, pools(func(s registry.PoolStat) float64 { return float64(s.AcquiredConns) }))
	m.AddCounters("athena_pool_acquire_waits_total", "Acquires that had to wait for a connection.", labels, pools(func(s registry.PoolStat) float64 { return float64(s.EmptyAcquires) }))
	m.AddCounters("athena_pool_acquire_wait_seconds_total", "Time spent waiting for a connection.", labels, pools(func(s registry.PoolStat) float64 { return float64(s.AcquireWaitMS) / 1000 }))
	if rc == nil {
		return m
	}
	m.AddCounters("athena_cache_requests_total", "Read-cache outcomes.", []string{"outcome"}, func() []telemetry.Sample {
		s := rc.Stats()
		return []telemetry.Sample{
			{Labels: []string{"hit_local"}, Value: float64(s.HitsLocal)},
			{Labels: []string{"hit_redis"}, Value: float64(s.HitsRedis)},
			{Labels: []string{"miss"}, Value: float64(s.Misses)},
			{Labels: []string{"bypass"}, Value: float64(s.Bypasses)},
		}
	})
	one := func(v func(cache.Stats) float64) func() []telemetry.Sample {
		return func() []telemetry.Sample { return []telemetry.Sample{{Value: v(rc.Stats())}} }
	}
	m.AddCounters("athena_cache_loads_total", "Database loads started by the read cache (single-flight leaders).", nil, one(func(s cache.Stats) float64 { return float64(s.Loads) }))
	m.AddCounters("athena_cache_redis_errors_total", "Failed Redis exchanges; each degrades the cache to bypass.", nil, one(func(s cache.Stats) float64 { return float64(s.RedisErrors) }))
	m.AddGauges("athena_cache_bytes", "Weighted size of the in-process read cache.", nil, one(func(s cache.Stats) float64 { return float64(s.Bytes) }))
	m.AddGauges("athena_cache_redis_degraded", "1 while Redis is configured but not answering.", nil, one(func(s cache.Stats) float64 {
		if s.Degraded {
			return 1
		}
		return 0
	}))
	return m
}
