package rdb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// ErrNotReplicated is returned when fewer replicas than required
// acknowledged a write within the timeout. The write is on the master and
// may yet be lost in a failover: the caller must not report it as stored.
var ErrNotReplicated = errors.New("rdb: write not acknowledged by enough replicas in time")

// replicaRecheck is how long a master's count of connected replicas is
// trusted before it is asked again, when the count decides the wait.
const replicaRecheck = 10 * time.Second

// Replication makes writes that must survive a failover wait, with Redis
// WAIT, until they reached replicas. Redis replicates asynchronously: a
// write acknowledged by the master alone is lost if the master dies
// before passing it on and a replica takes over.
//
// WAIT counts the writes of the connection it is sent on. Write therefore
// sends the caller's writes and WAIT in one pipeline, which runs on one
// connection, to the master that holds the key; writes done earlier on
// other connections (asynq's enqueues, a transaction) are covered too,
// since a master replicates its writes in order: a replica that has the
// later write has the earlier ones. With a Cluster, each master written
// to gets its own WAIT.
type Replication struct {
	client  redis.UniversalClient
	prefix  string
	min     int // config redis.min_replica_acks: 0 auto, -1 never, N always
	timeout time.Duration
	now     func() time.Time
	log     zerolog.Logger

	mu       sync.Mutex
	replicas map[string]replicaCount // by master address; "" for a single node or Sentinel's master
}

type replicaCount struct {
	n  int
	at time.Time
}

// NewReplication returns the WAIT policy of the client: minAcks as
// config redis.min_replica_acks says, each WAIT bounded by timeout.
func NewReplication(client redis.UniversalClient, keyPrefix string, minAcks int, timeout time.Duration, now func() time.Time, log zerolog.Logger) *Replication {
	if now == nil {
		now = time.Now
	}
	return &Replication{client: client, prefix: keyPrefix, min: minAcks, timeout: timeout, now: now, log: log, replicas: map[string]replicaCount{}}
}

// Check asks the master (every master of a Cluster) how many replicas it
// has, and logs how accepted writes will wait.
func (r *Replication) Check(ctx context.Context) error {
	if r.min != 0 {
		r.log.Info().Int("min_replica_acks", r.min).Msg("redis: accepted writes wait for a fixed number of replicas")
		return nil
	}
	return r.eachMaster(ctx, func(addr string, c *redis.Client) error {
		n, err := r.count(ctx, addr, c)
		if err != nil {
			return err
		}
		r.log.Info().Int("replicas", n).Str("master", addr).Msg("redis: accepted writes wait for a replica while the master has one")
		return nil
	})
}

// Write queues write's commands (nil for none) on the master that holds
// key, then waits until they, and every write finished earlier on that
// master and on the masters holding also, reached the required replicas.
// Past the timeout it returns ErrNotReplicated.
func (r *Replication) Write(ctx context.Context, key string, write func(p redis.Pipeliner), also ...string) error {
	if r.min < 0 {
		if write == nil {
			return nil
		}
		_, err := r.client.Pipelined(ctx, func(p redis.Pipeliner) error { write(p); return nil })
		return err
	}
	type target struct {
		c     *redis.Client
		key   string
		write func(p redis.Pipeliner)
	}
	var targets []target
	seen := map[string]int{}
	for i, k := range append([]string{key}, also...) {
		addr, c, err := r.master(ctx, k)
		if err != nil {
			return err
		}
		if j, ok := seen[addr]; ok {
			if i == 0 {
				targets[j].write = write
			}
			continue
		}
		seen[addr] = len(targets)
		t := target{c: c, key: k}
		if i == 0 {
			t.write = write
		}
		targets = append(targets, t)
	}
	for addr, j := range seen {
		if err := r.writeAndWait(ctx, addr, targets[j].c, targets[j].key, targets[j].write); err != nil {
			return err
		}
	}
	return nil
}

// writeAndWait runs write (or, without one, a marker write in key's slot,
// so that WAIT has a write of this connection to wait for) and WAIT on
// one connection to the master at addr.
func (r *Replication) writeAndWait(ctx context.Context, addr string, c *redis.Client, key string, write func(p redis.Pipeliner)) error {
	need, err := r.need(ctx, addr, c)
	if err != nil {
		return err
	}
	if write == nil && need == 0 {
		return nil
	}
	var wait *redis.IntCmd
	_, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if write != nil {
			write(p)
		}
		if need > 0 {
			if write == nil {
				p.Set(ctx, r.marker(key), r.now().UnixMilli(), time.Minute)
			}
			wait = redis.NewIntCmd(ctx, "wait", need, r.timeout.Milliseconds())
			_ = p.Process(ctx, wait)
		}
		return nil
	})
	if err != nil || wait == nil {
		return err
	}
	got, err := wait.Result()
	if err != nil {
		return err
	}
	if int(got) >= need {
		return nil
	}
	if r.min == 0 {
		// The master may have lost its replicas since the count was taken
		// (a replica removed, or this is a new master after a failover):
		// with none left, there is nothing to wait for.
		n, err := r.count(ctx, addr, c)
		if err == nil && n == 0 {
			return nil
		}
	}
	return fmt.Errorf("%w: %d of %d replicas within %s", ErrNotReplicated, got, need, r.timeout)
}

// Do is a convenience for a Write of one key with no writes of its own:
// it waits until the writes finished earlier on the masters of keys
// reached the replicas.
func (r *Replication) Do(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	return r.Write(ctx, keys[0], nil, keys[1:]...)
}

// need is how many replicas a write on the master at addr waits for.
func (r *Replication) need(ctx context.Context, addr string, c *redis.Client) (int, error) {
	if r.min > 0 {
		return r.min, nil
	}
	r.mu.Lock()
	rc, ok := r.replicas[addr]
	r.mu.Unlock()
	if ok && r.now().Sub(rc.at) < replicaRecheck {
		return min(rc.n, 1), nil
	}
	n, err := r.count(ctx, addr, c)
	if err != nil {
		return 0, err
	}
	return min(n, 1), nil
}

// count asks the master how many replicas are connected to it.
func (r *Replication) count(ctx context.Context, addr string, c *redis.Client) (int, error) {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, _ = strconv.Atoi(v)
		}
	}
	r.mu.Lock()
	prev, known := r.replicas[addr]
	r.replicas[addr] = replicaCount{n: n, at: r.now()}
	r.mu.Unlock()
	if known && (prev.n == 0) != (n == 0) {
		r.log.Warn().Int("replicas", n).Str("master", addr).Msg("redis: the master's replicas changed; accepted writes wait for one only while it has one")
	}
	return n, nil
}

// master returns the master that holds key, and its address ("" when
// there is only one master).
func (r *Replication) master(ctx context.Context, key string) (string, *redis.Client, error) {
	switch c := r.client.(type) {
	case *redis.ClusterClient:
		m, err := c.MasterForKey(ctx, key)
		if err != nil {
			return "", nil, err
		}
		return m.Options().Addr, m, nil
	case *redis.Client:
		return "", c, nil
	default:
		return "", nil, fmt.Errorf("rdb: WAIT is not supported on a %T", r.client)
	}
}

func (r *Replication) eachMaster(ctx context.Context, fn func(addr string, c *redis.Client) error) error {
	if cc, ok := r.client.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			return fn(c.Options().Addr, c)
		})
	}
	_, c, err := r.master(ctx, "")
	if err != nil {
		return err
	}
	return fn("", c)
}

// marker is a key in the same Cluster slot as key, for a write that only
// gives WAIT something to wait for. Its hash tag is a short string chosen
// for that slot, so that any key, braces and all, has one.
func (r *Replication) marker(key string) string {
	slotTagsOnce.Do(func() {
		left := numSlots
		for i := 0; left > 0; i++ {
			t := strconv.Itoa(i)
			if s := Slot(t); slotTags[s] == "" {
				slotTags[s] = t
				left--
			}
		}
	})
	return r.prefix + "wait:{" + slotTags[Slot(key)] + "}"
}

const numSlots = 16384

var (
	slotTagsOnce sync.Once
	slotTags     [numSlots]string
)

// Slot is key's Redis Cluster slot: CRC16 (XMODEM) of its hash tag (the
// text between the first "{" and the next "}", when not empty), or of the
// whole key, modulo 16384.
func Slot(key string) int {
	if s := strings.IndexByte(key, '{'); s >= 0 {
		if e := strings.IndexByte(key[s+1:], '}'); e > 0 {
			key = key[s+1 : s+1+e]
		}
	}
	var crc uint16
	for i := 0; i < len(key); i++ {
		crc ^= uint16(key[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % numSlots
}
