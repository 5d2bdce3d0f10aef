package ratelimit

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// A session is one task attempt's use of the accounts it calls. Its first
// call to an account reserves the calls such a task needed lately, so that
// the task does not stop halfway for want of budget: a task cut short
// would start again and repeat its reads. What it did not use goes back
// to the account when the attempt ends.
type session struct {
	id, taskType string
	class        Class

	mu       sync.Mutex
	accounts map[string]*hold
}

type hold struct {
	reserved, used int
	deferred       bool
}

type sessionKey struct{}

func sessionFrom(ctx context.Context) *session {
	s, _ := ctx.Value(sessionKey{}).(*session)
	return s
}

func (s *session) hold(key string) *hold {
	h := s.accounts[key]
	if h == nil {
		h = &hold{}
		s.accounts[key] = h
	}
	return h
}

// spend uses one call already reserved for key, if any is left.
func (s *session) spend(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hold(key)
	if h.used < h.reserved {
		h.used++
		return true
	}
	return false
}

// reserved records n calls granted for key, the first of which goes now.
func (s *session) reserved(key string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.hold(key)
	h.reserved += n
	h.used++
}

func (s *session) deferred(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold(key).deferred = true
}

// Begin opens the pacing session of one attempt of a task; the calls made
// with the returned context are paced in the class of the task's queue.
func (l *Limiter) Begin(ctx context.Context, taskID, taskType, queue string) context.Context {
	return context.WithValue(ctx, sessionKey{}, &session{id: taskID, taskType: taskType, class: l.classOf(queue), accounts: map[string]*hold{}})
}

// End closes the session Begin opened: calls reserved but not made go
// back to their account, and what the attempt used teaches the next
// tasks of its type how much to reserve.
func (l *Limiter) End(ctx context.Context) {
	s := sessionFrom(ctx)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, h := range s.accounts {
		est := s.taskType + "\x00" + key
		if h.deferred {
			// Stopped for want of budget after h.used calls: the next
			// attempt reserves at least twice that, so a long task gets
			// through in a few attempts rather than one call at a time.
			l.est.grow(est, 2*(h.used+1))
		} else if h.used > 0 {
			l.est.add(est, h.used)
		}
		if unused := h.reserved - h.used; unused > 0 {
			l.refund(context.WithoutCancel(ctx), key, unused)
		}
	}
}

func (l *Limiter) refund(ctx context.Context, key string, n int) {
	g, paced := l.limit(key)
	if !paced {
		return
	}
	ms := float64(g.interval) / float64(time.Millisecond)
	err := refundScript.Run(ctx, l.rdb, []string{l.keys(key)[0]}, float64(n)*ms, float64(g.burst)*ms).Err()
	if err != nil {
		// Only a little budget is lost, until the bucket refills.
		zerolog.Ctx(ctx).Warn().Err(err).Str("account", key).Msg("unused rate-limit reservation not returned")
	}
}

// estimates remember, per task type and account, how many calls the last
// attempts needed.
type estimates struct {
	mu sync.Mutex
	m  map[string]*estimate
}

// samples is how many recent attempts an estimate remembers.
const samples = 8

type estimate struct {
	recent []int
	floor  int // raised by a deferral, until a sample confirms it
}

func (e *estimates) get(k string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	est := e.m[k]
	if est == nil {
		return 1
	}
	return max(1, est.floor, slices.Max(append([]int{0}, est.recent...)))
}

func (e *estimates) add(k string, used int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	est := e.entry(k)
	est.recent = append(est.recent, used)
	if len(est.recent) > samples {
		est.recent = est.recent[1:]
	}
	est.floor = 0
}

func (e *estimates) grow(k string, atLeast int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	est := e.entry(k)
	est.floor = max(est.floor, atLeast)
}

func (e *estimates) entry(k string) *estimate {
	est := e.m[k]
	if est == nil {
		est = &estimate{}
		e.m[k] = est
	}
	return est
}
