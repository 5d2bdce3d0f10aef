package rdbtest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Slot is the Redis Cluster hash slot of key: CRC16 (XMODEM) of the key,
// or of its hash tag, modulo 16384. The tag is what lies between the first
// "{" and the first "}" after it, when that is not empty.
func Slot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	return int(crc16(key) % 16384)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial 0), the one Redis
// Cluster uses.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// SlotCheck is a go-redis hook that checks that every script (EVAL,
// EVALSHA, FCALL and their read-only forms) and every MULTI/EXEC
// transaction keeps its keys in one hash slot. On a Cluster, go-redis
// splits a transaction whose keys span slots into one transaction per
// slot without a word, and a script's keys outside the first one's slot
// fail with CROSSSLOT, or worse, only when the keys happen to sit on
// different masters. The test fails, at its end, with every offender, and
// with every CROSSSLOT error the cluster answered.
type SlotCheck struct {
	tb testing.TB
	// keys finds a command's keys (COMMAND GETKEYS) on a client without
	// this hook.
	keys redis.UniversalClient

	mu         sync.Mutex
	violations map[string]bool
	checked    int
	done       bool
}

// NewSlotCheck returns the hook. keys answers COMMAND GETKEYS; any node of
// the cluster will do.
func NewSlotCheck(tb testing.TB, keys redis.UniversalClient) *SlotCheck {
	s := &SlotCheck{tb: tb, keys: keys, violations: map[string]bool{}}
	tb.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.done = true
		for v := range s.violations {
			tb.Errorf("keys in more than one hash slot: %s", v)
		}
	})
	return s
}

// Checked is how many scripts and transactions the hook has checked.
func (s *SlotCheck) Checked() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checked
}

func (s *SlotCheck) DialHook(next redis.DialHook) redis.DialHook { return next }

func (s *SlotCheck) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if keys, ok := scriptKeys(cmd.Args()); ok {
			s.check(cmd.Name(), keys)
		}
		err := next(ctx, cmd)
		s.crossSlot(cmd.Name(), err)
		return err
	}
}

func (s *SlotCheck) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 0 && cmds[0].Name() == "multi" {
			var keys []string
			var names []string
			for _, cmd := range cmds {
				switch cmd.Name() {
				case "multi", "exec":
					continue
				}
				names = append(names, cmd.Name())
				if k, ok := scriptKeys(cmd.Args()); ok {
					keys = append(keys, k...)
					continue
				}
				keys = append(keys, s.commandKeys(cmd.Args())...)
			}
			s.check("MULTI["+strings.Join(names, " ")+"]", keys)
		} else {
			for _, cmd := range cmds {
				if keys, ok := scriptKeys(cmd.Args()); ok {
					s.check(cmd.Name(), keys)
				}
			}
		}
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			s.crossSlot(cmd.Name(), cmd.Err())
		}
		return err
	}
}

// crossSlot records a CROSSSLOT error from the cluster itself.
func (s *SlotCheck) crossSlot(what string, err error) {
	if err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		s.violations[what+": "+err.Error()] = true
	}
}

// scriptKeys are the keys of a script call, and whether cmd is one.
func scriptKeys(args []any) ([]string, bool) {
	if len(args) < 3 {
		return nil, false
	}
	switch strings.ToLower(fmt.Sprint(args[0])) {
	case "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro":
	default:
		return nil, false
	}
	n, err := strconv.Atoi(fmt.Sprint(args[2]))
	if err != nil || 3+n > len(args) {
		return nil, true
	}
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprint(args[3+i])
	}
	return keys, true
}

func (s *SlotCheck) commandKeys(args []any) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	q := append([]any{"command", "getkeys"}, args...)
	res, err := s.keys.Do(ctx, q...).StringSlice()
	if err != nil {
		// "The command has no key arguments" and its kin.
		return nil
	}
	return res
}

func (s *SlotCheck) check(what string, keys []string) {
	slots := map[int][]string{}
	for _, k := range keys {
		slots[Slot(k)] = append(slots[Slot(k)], k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.checked++
	if len(slots) > 1 {
		s.violations[fmt.Sprintf("%s %v", what, slots)] = true
	}
}
