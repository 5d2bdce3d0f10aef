package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/redis/go-redis/v9"
)

// discussionMemory is what mirrored discussions cost in Redis, by family
// of key, measured with MEMORY USAGE after a phase that mirrored them.
type discussionMemory struct {
	threads int
	// bytes by family: the record, the merchant's index (one sorted set
	// for all), the ticket map, the message ledgers, the rest (cursors,
	// listings, locks: per account, not per discussion).
	record, index, tickets, ledgers, other int64
	// ledgered is the members of every message ledger: each message
	// mirrored in, each agent message relayed out, each own reply.
	ledgered int64
}

func (m discussionMemory) perDiscussion() float64 {
	return float64(m.record+m.index+m.tickets+m.ledgers) / float64(max(m.threads, 1))
}

// perMessage is a ledger's cost per message it holds.
func (m discussionMemory) perMessage() float64 {
	return float64(m.ledgers) / float64(max(m.ledgered, 1))
}

// measureDiscussions sums MEMORY USAGE of every discussion key of the
// bench merchant (a phase has at most a few hundred threads).
func (r *rig) measureDiscussions(ctx context.Context, prefix string, threads int) (discussionMemory, error) {
	m := discussionMemory{threads: threads}
	base := prefix + "dsc:{" + benchMerchant + "}:"
	var keys []string
	iter := r.rdb.Scan(ctx, 0, base+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return m, fmt.Errorf("SCAN: %w", err)
	}
	family := func(k string) string {
		f, _, _ := strings.Cut(strings.TrimPrefix(k, base), ":")
		return f
	}
	cmds, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.MemoryUsage(ctx, k, 0)
			switch family(k) {
			case "in", "out", "own":
				p.SCard(ctx, k)
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return m, fmt.Errorf("MEMORY USAGE: %w", err)
	}
	c := 0
	for _, k := range keys {
		n, _ := cmds[c].(*redis.IntCmd).Result()
		c++
		switch family(k) {
		case "d":
			m.record += n
		case "all":
			m.index += n
		case "tk":
			m.tickets += n
		case "in", "out", "own":
			m.ledgers += n
			members, _ := cmds[c].(*redis.IntCmd).Result()
			c++
			m.ledgered += members
		default:
			m.other += n
		}
	}
	return m, nil
}

func (m discussionMemory) print(w io.Writer) {
	fmt.Fprintf(w, "  Redis per discussion (MEMORY USAGE): %.0f bytes (record %.0f, share of the index %.0f, ticket map %.0f, message ledgers %.0f); a ledger holds %d messages at %.0f bytes each; per account: %d bytes\n",
		m.perDiscussion(), float64(m.record)/float64(max(m.threads, 1)), float64(m.index)/float64(max(m.threads, 1)),
		float64(m.tickets)/float64(max(m.threads, 1)), float64(m.ledgers)/float64(max(m.threads, 1)), m.ledgered, m.perMessage(), m.other)
}
