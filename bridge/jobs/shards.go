package jobs

import (
	"hash/fnv"
	"strconv"
)

// Shards spreads each kind of work over several asynq queues. asynq keeps
// all of one queue's keys under one hash tag, so on a Redis Cluster one
// queue lives on one master: a kind of work split over N queues spreads
// over the masters. The work of one key (an account, a customer) always
// goes to the same queue. The zero value, like 1, is one queue per kind,
// named as the kind; with N, the queues are kind, kind-1, ... kind-(N-1).
type Shards int

// Queue is the queue of kind that key's tasks go to.
func (n Shards) Queue(kind, key string) string {
	if n <= 1 {
		return kind
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return name(kind, int(h.Sum32()%uint32(n)))
}

// Queues are all the queues of kind.
func (n Shards) Queues(kind string) []string {
	out := []string{kind}
	for i := 1; i < int(n); i++ {
		out = append(out, name(kind, i))
	}
	return out
}

func name(kind string, i int) string {
	if i == 0 {
		return kind
	}
	return kind + "-" + strconv.Itoa(i)
}
