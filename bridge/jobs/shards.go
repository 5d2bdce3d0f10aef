package jobs

import (
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
)

// Shards spreads each kind of work over several asynq queues. asynq keeps
// all of one queue's keys under one hash tag, the queue's name, so on a
// Redis Cluster one queue lives on one master: a kind of work split over N
// queues spreads over the masters. The work of one key (an account, a
// customer) always goes to the same queue. The zero value, like 1, is one
// queue per kind, named as the kind.
//
// With N, the queues are named so that their hash slots fall one in each
// Nth of the slot space: a cluster whose masters serve equal ranges of
// slots (as redis-cli --cluster create and rebalance leave it) holds the
// same number of each kind's queues on every master when N is a multiple
// of the masters. Numbered queues, kind-1, kind-2..., would land where
// their names' hashes fall: with 6 shards on 3 masters, one master held 3
// of the 6 alert queues and another 1.
type Shards int

// Queue is the queue of kind that key's tasks go to.
func (n Shards) Queue(kind, key string) string {
	if n <= 1 {
		return kind
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	qs := n.queues(kind)
	return qs[h.Sum32()%uint32(len(qs))]
}

// Queues are all the queues of kind, one per Nth of the slot space in
// order: kind itself in the Nth its slot falls in, and in each other Nth
// kind-j for the smallest j whose slot falls there. The names of N are
// among those of any multiple of N, whose Nths split N's: raising N to a
// multiple leaves every queue of the old N in use.
func (n Shards) Queues(kind string) []string {
	return slices.Clone(n.queues(kind))
}

// clusterSlots is the number of Redis Cluster hash slots.
const clusterSlots = 16384

var named sync.Map // shardsOf → []string

type shardsOf struct {
	kind string
	n    Shards
}

func (n Shards) queues(kind string) []string {
	if n <= 1 {
		return []string{kind}
	}
	if qs, ok := named.Load(shardsOf{kind, n}); ok {
		return qs.([]string)
	}
	qs := make([]string, n)
	left := int(n)
	// Each j lands in some Nth; a few times N candidates fill them all.
	for j := 0; left > 0; j++ {
		name := kind
		if j > 0 {
			name = kind + "-" + strconv.Itoa(j)
		}
		i := slot(name) * int(n) / clusterSlots
		if qs[i] == "" {
			qs[i] = name
			left--
		}
	}
	named.Store(shardsOf{kind, n}, qs)
	return qs
}

// slot is the Redis Cluster hash slot of asynq's keys of queue name, which
// all have the name as their hash tag: CRC16 (XMODEM) of it, modulo 16384.
func slot(name string) int {
	var crc uint16
	for i := 0; i < len(name); i++ {
		crc ^= uint16(name[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc % clusterSlots)
}
