package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A local hit without Redis: the lease.
//
// With Redis, the generations a read needs are normally in the mirror (a
// process-local copy of the Redis counters), so a local hit costs no round
// trip. That is only exact while this process cannot miss a write made by
// another one, which three rules guarantee:
//
//  1. A write answers its client only after every live reader process has
//     applied its notice (dropped the mirrored generations it bumped) and
//     acknowledged it, or after that process's lease has run out.
//     Membership is the hash readersKey: process id → lease end in Redis
//     time; the writer reads it in the same pipeline as its INCR and
//     PUBLISH, and waits for each member until an ack or its lease end.
//  2. A process uses its mirror only while its own lease runs (healthy).
//     The lease is renewed (renewScript) and only then activated once a
//     PING on the subscription connection came back: every notice
//     published before the renewal was delivered on that connection
//     before the pong, and the subscriber applies them in order. The
//     local lease ends at (time the renewal was sent) + leaseLocal, never
//     later than the end Redis recorded, so a writer waiting for that end
//     outlasts it.
//  3. A session break empties the mirror before the lease resumes: a
//     lapsed lease (locally or in Redis, including a lost readers hash),
//     a subscription error or resubscription (go-redis reconnects and
//     notices in between are lost). Generations fetched after the clear
//     come from MGETs processed after the renewal, so they include every
//     write a missed notice announced; an MGET that began before a clear
//     or a notice does not store its result (mirror.seq).
//
// Lost membership (Redis restart, eviction of readersKey) is covered by the
// hash's birth time: a writer that finds the hash missing or younger than
// one lease waits until any lease granted before the loss has ended.
//
// So a read that starts after a write's response either finds the mirror
// without the bumped generations (it then reads them from Redis) or runs
// outside a lease (it reads every generation from Redis, as before).
// While unhealthy nothing changes from the previous design: one MGET per
// read. Costs: a write waits for the acks (one more round trip through the
// slowest reader), or up to a lease when a reader stops answering.

const (
	readersKey = "athena:cache:readers"
	bornField  = "~born"
	// lease is how long a renewal is recorded for; leaseLocal (a margin
	// shorter, for clock-rate differences) how long this process trusts
	// it; renewals run at renewEvery.
	lease      = time.Second
	leaseLocal = lease * 9 / 10
	renewEvery = lease / 4
	ackWait    = 20 * time.Millisecond // slack on top of a member's lease end
)

// renewScript records this reader's lease (ARGV[1] id, ARGV[2] ms) and
// drops expired ones; it returns 1 when the previous lease was still
// running (the session continues), else 0.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not redis.call('HGET', KEYS[1], '` + bornField + `') then
  redis.call('HSET', KEYS[1], '` + bornField + `', now)
end
redis.call('HSET', KEYS[1], ARGV[1], now + tonumber(ARGV[2]))
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= '` + bornField + `' and tonumber(all[i+1]) < now then
    redis.call('HDEL', KEYS[1], all[i])
  end
end
if prev and tonumber(prev) > now then return 1 end
return 0`)

func ackChannel(id string) string { return Channel + ":ack:" + id }

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// mirror is this process's copy of Redis generations, valid only while
// the lease runs (see above).
type mirror struct {
	mu  sync.RWMutex
	m   map[genKey]uint64
	seq uint64 // moves on every forget and clear
}

// lookup returns the scope-wide generation then one per table, if all are
// mirrored.
func (x *mirror) lookup(scope string, tables []string) ([]uint64, bool) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	g, ok := x.m[genKey{scope, ""}]
	if !ok {
		return nil, false
	}
	gens := make([]uint64, len(tables)+1)
	gens[0] = g
	for i, t := range tables {
		if gens[i+1], ok = x.m[genKey{scope, t}]; !ok {
			return nil, false
		}
	}
	return gens, true
}

func (x *mirror) version() uint64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.seq
}

// store keeps generations read from Redis unless a notice or a clear came
// in since seq was taken: they may predate that write.
func (x *mirror) store(seq uint64, scope string, tables []string, gens []uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.seq != seq {
		return
	}
	x.m[genKey{scope, ""}] = gens[0]
	for i, t := range tables {
		x.m[genKey{scope, t}] = gens[i+1]
	}
}

// forget drops the generations a write bumped (every one of the scope when
// wide).
func (x *mirror) forget(scope string, tables []string, wide bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.seq++
	if wide {
		for k := range x.m {
			if k.scope == scope {
				delete(x.m, k)
			}
		}
		return
	}
	for _, t := range tables {
		delete(x.m, genKey{scope, t})
	}
}

func (x *mirror) clear() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.seq++
	clear(x.m)
}

// monotonic nanoseconds since the cache was built.
func (c *Cache) mono() int64 { return int64(time.Since(c.base)) }

// healthy reports whether the lease runs: the mirror may answer.
func (c *Cache) healthy() bool {
	return !c.degraded.Load() && c.mono() < c.leaseUntil.Load()
}

// renew extends the lease (rules 2 and 3 above). It runs on the loop's
// goroutine only.
func (c *Cache) renew(ctx context.Context) {
	if c.degraded.Load() {
		c.leaseUntil.Store(0)
		return
	}
	sent := c.mono()
	rctx, cancel := context.WithTimeout(ctx, redisOpTimeout)
	defer cancel()
	cont, err := renewScript.Run(rctx, c.rdb, []string{readersKey}, c.id, lease.Milliseconds()).Int64()
	if err != nil {
		c.redisFailed(err)
		return
	}
	token := strconv.FormatInt(sent, 10)
	if err := c.sub.Ping(rctx, token); err != nil {
		return
	}
	for {
		select {
		case p := <-c.pongs:
			if p != token {
				continue // an older renewal's pong
			}
		case <-rctx.Done():
			return
		}
		break
	}
	breaks := c.breaks.Load()
	if cont != 1 || breaks != c.lastBreaks || c.mono() >= c.leaseUntil.Load() {
		c.mirror.clear() // a new session: anything mirrored may be stale
	}
	c.lastBreaks = breaks
	c.leaseUntil.Store(sent + int64(leaseLocal))
}

// receive reads the subscription in order: notices (applied, then
// acknowledged), acks for this process's writes, pongs for renew, and
// (re)subscriptions and errors, which break the session.
func (c *Cache) receive(ctx context.Context) {
	for {
		msg, err := c.sub.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.sessionBreak()
			select { // go-redis reconnects on the next call; do not spin
			case <-ctx.Done():
				return
			case <-time.After(c.opts.ProbeInterval):
			}
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			c.sessionBreak() // a (re)subscription: notices before it are lost
		case *redis.Pong:
			select {
			case c.pongs <- m.Payload:
			default:
			}
		case *redis.Message:
			if m.Channel == c.ackCh {
				c.acked(m.Payload)
				continue
			}
			n, ok := decodeNotice(m.Payload)
			if !ok {
				continue
			}
			if c.beforeApply != nil {
				c.beforeApply()
			}
			if n.All {
				c.mirror.clear()
				continue
			}
			c.mirror.forget(n.Scope, n.Tables, n.Wide)
			c.drop(n.Scope, n.Tables, n.Wide, n.At)
			if n.ID != "" && n.ID != c.id {
				select {
				case c.acks <- n.ID + " " + strconv.FormatUint(n.N, 10):
				default: // the writer then waits for our lease to end
				}
			}
		}
	}
}

func (c *Cache) sessionBreak() {
	c.leaseUntil.Store(0)
	c.breaks.Add(1)
}

// sendAcks publishes acknowledgements of applied notices.
func (c *Cache) sendAcks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-c.acks:
			writer, n, _ := strings.Cut(a, " ")
			actx, cancel := context.WithTimeout(ctx, redisOpTimeout)
			_ = c.rdb.Publish(actx, ackChannel(writer), n+" "+c.id).Err()
			cancel()
		}
	}
}

// waiter collects the acks of one write.
type waiter chan string

func (c *Cache) expect(n uint64) waiter {
	w := make(waiter, 16)
	c.waitMu.Lock()
	c.waiters[n] = w
	c.waitMu.Unlock()
	return w
}

func (c *Cache) unexpect(n uint64) {
	c.waitMu.Lock()
	delete(c.waiters, n)
	c.waitMu.Unlock()
}

func (c *Cache) acked(payload string) {
	ns, member, ok := strings.Cut(payload, " ")
	n, err := strconv.ParseUint(ns, 10, 64)
	if !ok || err != nil {
		return
	}
	c.waitMu.Lock()
	w := c.waiters[n]
	c.waitMu.Unlock()
	if w != nil {
		select {
		case w <- member:
		default:
		}
	}
}

// awaitReaders is rule 1: after a write's pipeline returned (at recv,
// with Redis time now and the readers hash), wait until every other live
// reader acknowledged notice w or its lease ended.
func (c *Cache) awaitReaders(ctx context.Context, w waiter, readers map[string]string, now int64, recv time.Time) {
	pending := map[string]time.Time{}
	var until time.Time // the lost-membership wait
	born, ok := readers[bornField]
	b, err := strconv.ParseInt(born, 10, 64)
	switch {
	case !ok || err != nil:
		until = recv.Add(lease + ackWait)
	case now-b < lease.Milliseconds():
		until = recv.Add(time.Duration(b+lease.Milliseconds()-now)*time.Millisecond + ackWait)
	}
	for id, v := range readers {
		end, err := strconv.ParseInt(v, 10, 64)
		if id == bornField || id == c.id || err != nil || end <= now {
			continue
		}
		pending[id] = recv.Add(time.Duration(end-now)*time.Millisecond + ackWait)
	}
	for {
		deadline := until
		for id, d := range pending {
			if !time.Now().Before(d) {
				delete(pending, id)
				continue
			}
			if deadline.IsZero() || d.After(deadline) {
				deadline = d
			}
		}
		if len(pending) == 0 && !time.Now().Before(until) {
			return
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case id := <-w:
			delete(pending, id)
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		if ctx.Err() != nil {
			return
		}
	}
}
