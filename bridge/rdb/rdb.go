// Package rdb opens the bridge's system of record: a real Redis (single
// node, Cluster or Sentinel) or, when none is configured, an embedded
// in-process Redis that keeps a fresh machine working without any install.
//
// A Cluster client reloads the slot map every ClusterReload, not every
// minute as go-redis does by default: a master killed outright answers no
// MOVED that would make the client look again, so without the reload the
// bridge kept sending a dead master's slots to it for up to a minute after
// its replica had taken over. Readiness on a Cluster asks every master, so
// that a load balancer stops sending work while a slot has no master.
//
// Every key layout, with the hash tag that keeps a script's or a
// transaction's keys in one Cluster slot, is listed in one place: README,
// "Redis Cluster: key layout and failover".
//
// Every client honours its callers' deadlines (go-redis's
// ContextTimeoutEnabled), and every call gets one of at most CallTimeout,
// so that a Redis that hangs, rather than refusing connections, fails each
// call on time instead of after the socket timeouts and their retries.
// GetBatcher sends the GETs of concurrent callers together (per master on
// a cluster), each still within its budget.
package rdb

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/config"
)

// CallTimeout bounds one Redis call (a command, a pipeline or a
// transaction), from waiting for a pooled connection to reading the
// answer; a caller's earlier deadline wins. It is go-redis's default read
// timeout: a healthy Redis answers in milliseconds, and scripts that scan
// a big list still have room.
const CallTimeout = 3 * time.Second

// ClusterReload is how often a Cluster client reloads the slot map
// (CLUSTER SLOTS from one node): after a failover, the bridge finds the
// promoted replica within it. One small command a second per process.
const ClusterReload = time.Second

// Conn is an open connection to the system of record.
type Conn struct {
	Client redis.UniversalClient
	// Embedded is the in-process server when no Redis is configured.
	Embedded *miniredis.Miniredis

	stop chan struct{}
	wg   sync.WaitGroup
}

// Open connects to the configured Redis, or starts the embedded one.
// hooks, which tests use to watch every call, are added to the client and,
// on a Cluster, to each node's client too, where the transactions of
// WATCH run.
func Open(ctx context.Context, cfg config.Redis, log zerolog.Logger, hooks ...redis.Hook) (*Conn, error) {
	c := &Conn{stop: make(chan struct{})}
	if cfg.Embedded() {
		// The embedded server listens on loopback behind a random password
		// made at each start, which only this process knows: another local
		// user cannot read the customers' data it holds. (miniredis's
		// in-memory pipes would need no port, but they are unbuffered: a
		// pipeline larger than one read deadlocks on them.)
		m := miniredis.NewMiniRedis()
		password := rand.Text() + rand.Text()
		m.RequireAuth(password)
		if err := m.StartAddr("127.0.0.1:0"); err != nil {
			return nil, fmt.Errorf("rdb: start embedded redis: %w", err)
		}
		log.Warn().Msg("no Redis configured: using an embedded in-process Redis; its data is lost when the process stops, do not use it in production")
		c.Embedded = m
		c.Client = redis.NewClient(&redis.Options{Addr: m.Addr(), Password: password, ContextTimeoutEnabled: true})
		c.wg.Add(1)
		go c.advanceClock(time.Second)
	} else {
		client, err := newClient(cfg)
		if err != nil {
			return nil, err
		}
		c.Client = client
	}
	c.Client.AddHook(callDeadline{CallTimeout})
	for _, h := range hooks {
		c.Client.AddHook(h)
	}
	if cc, ok := c.Client.(*redis.ClusterClient); ok && len(hooks) > 0 {
		// Registered before the first call creates any node's client.
		cc.OnNewNode(func(node *redis.Client) {
			for _, h := range hooks {
				node.AddHook(h)
			}
		})
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.Client.Ping(pingCtx).Err(); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("rdb: ping: %w", err)
	}
	return c, nil
}

// newClient builds a single-node client from a URL, a Sentinel client from
// addresses and a master name, or a Cluster client from addresses. The
// password, when configured, wins over one in the URL: loading moves it out
// of the URL so that the URL can be logged.
func newClient(cfg config.Redis) (redis.UniversalClient, error) {
	if cfg.URL != "" {
		o, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("rdb: redis.url: %w", err)
		}
		if cfg.Username != "" {
			o.Username = cfg.Username
		}
		if !cfg.Password.IsZero() {
			o.Password = cfg.Password.Reveal()
		}
		o.ContextTimeoutEnabled = true
		return redis.NewClient(o), nil
	}
	u := &redis.UniversalOptions{
		Addrs: cfg.Addrs, MasterName: cfg.MasterName,
		Username: cfg.Username, Password: cfg.Password.Reveal(),
		ContextTimeoutEnabled: true,
	}
	if cfg.TLS {
		u.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.MasterName != "" {
		return redis.NewUniversalClient(u), nil
	}
	// Built from ClusterOptions, not through the universal client, which
	// cannot set the reload interval; everything else is what the universal
	// client would set.
	o := u.Cluster()
	o.ClusterStateReloadInterval = ClusterReload
	return redis.NewClusterClient(o), nil
}

// callDeadline gives every call a deadline of at most d. With
// ContextTimeoutEnabled, go-redis applies it to the pool wait, the dial,
// the write, the read and the retries alike.
type callDeadline struct{ d time.Duration }

func (h callDeadline) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h callDeadline) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		return next(ctx, cmd)
	}
}

func (h callDeadline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		ctx, cancel := h.bound(ctx)
		defer cancel()
		return next(ctx, cmds)
	}
}

func (h callDeadline) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= h.d {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, h.d)
}

// advanceClock moves the embedded server's TTL clock with wall time:
// miniredis only expires keys when told that time has passed.
func (c *Conn) advanceClock(every time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-c.stop:
			return
		case now := <-t.C:
			c.Embedded.FastForward(now.Sub(last))
			last = now
		}
	}
}

// Ping checks that Redis answers. On a Cluster, every master the client
// knows must answer and see the cluster as ok (CLUSTER INFO), so that
// readiness fails while any slot's master is unreachable or unpromoted.
func (c *Conn) Ping(ctx context.Context) error {
	cc, ok := c.Client.(*redis.ClusterClient)
	if !ok {
		return c.Client.Ping(ctx).Err()
	}
	// ForEachMaster reloads the slot map first. A master that is down but
	// still in it does not answer; once the others hold it as failed, they
	// answer cluster_state:fail until its replica takes over.
	return cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil {
			return fmt.Errorf("rdb: cluster node %s: %w", node.Options().Addr, err)
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("rdb: cluster node %s: cluster_state is not ok", node.Options().Addr)
		}
		return nil
	})
}

// Close closes the client and stops the embedded server.
func (c *Conn) Close() error {
	select {
	case <-c.stop:
		return nil
	default:
		close(c.stop)
	}
	c.wg.Wait()
	err := c.Client.Close()
	if c.Embedded != nil {
		c.Embedded.Close()
	}
	return err
}

// ConnOpt lets asynq components that only take an asynq.RedisConnOpt (the
// asynqmon dashboard) share this connection.
type ConnOpt struct{ Client redis.UniversalClient }

// MakeRedisClient implements asynq.RedisConnOpt.
func (o ConnOpt) MakeRedisClient() interface{} { return o.Client }
