package orders

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Orders written before the merchant's index existed (P w:{m}:idx) are
// indexed once, in the background: the list and the export then find
// them without waiting for their next change.

// TypeReindex indexes every order of a merchant.
const TypeReindex = "orders:reindex"

// ReindexPayload names the merchant.
type ReindexPayload struct {
	Merchant string `json:"merchant"`
}

// NewReindexTask is the one reindex of a merchant a Redis ever needs:
// its id stays taken for a year once done, so that each start of the
// bridge enqueues it and only the first runs.
func NewReindexTask(merchant string) (*asynq.Task, []asynq.Option) {
	b, _ := json.Marshal(ReindexPayload{Merchant: merchant})
	return asynq.NewTask(TypeReindex, b), []asynq.Option{
		asynq.Queue("default"), asynq.TaskID("orders-reindex-v1-" + merchant), asynq.Retention(365 * 24 * time.Hour),
	}
}

// reindexBatch is how many order keys one step reads.
const reindexBatch = 500

// Reindex puts every stored order of merchant in its index, and returns
// how many it found. Indexing an order already there changes nothing.
func (s *Store) Reindex(ctx context.Context, merchant string) (int, error) {
	node, err := s.nodeOf(ctx, s.ordersKey(merchant))
	if err != nil {
		return 0, err
	}
	prefix := s.base(merchant) + "o:"
	match := escapeGlob(prefix) + "*"
	n := 0
	var cursor uint64
	for {
		keys, next, err := node.Scan(ctx, cursor, match, reindexBatch).Result()
		if err != nil {
			return n, fmt.Errorf("orders: scan the orders of %s: %w", merchant, err)
		}
		if len(keys) > 0 {
			vals, err := s.rdb.MGet(ctx, keys...).Result()
			if err != nil {
				return n, fmt.Errorf("orders: read the orders of %s: %w", merchant, err)
			}
			_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, v := range vals {
					str, ok := v.(string)
					if !ok {
						continue // expired meanwhile
					}
					agg, err := decodeAggregate([]byte(str))
					if err != nil || agg.Order == nil {
						continue
					}
					s.index(ctx, p, merchant, strings.TrimPrefix(keys[i], prefix), agg.Order.Order.CreatedAt, s.ttlFrom(agg.lastActivity()))
					n++
				}
				return nil
			})
			if err != nil {
				return n, fmt.Errorf("orders: index the orders of %s: %w", merchant, err)
			}
		}
		if cursor = next; cursor == 0 {
			return n, nil
		}
	}
}

// nodeOf is the client of the Redis that holds key: on a Cluster, SCAN
// sees only the node it is sent to.
func (s *Store) nodeOf(ctx context.Context, key string) (redis.Cmdable, error) {
	if c, ok := s.rdb.(*redis.ClusterClient); ok {
		node, err := c.MasterForKey(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("orders: the master of %s: %w", key, err)
		}
		return node, nil
	}
	return s.rdb, nil
}

// escapeGlob escapes what SCAN's MATCH would read as a pattern.
func escapeGlob(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`, `]`, `\]`)
	return r.Replace(s)
}

// ReindexHandler is the asynq handler of TypeReindex.
func (s *Store) ReindexHandler(ctx context.Context, t *asynq.Task) error {
	var p ReindexPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("orders: decode %s: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	_, err := s.Reindex(ctx, p.Merchant)
	return err
}
