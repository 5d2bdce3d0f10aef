package miraklfake

import "time"

// window counts one API key's requests in the current fixed window.
type window struct {
	start time.Time
	used  int
}

// admit counts a request from key against the throttle, if any. When the
// window is full it reports how long until the next one opens.
func (s *Server) admit(key string) (time.Duration, bool) {
	th := s.opts.Throttle
	if th == nil || th.Requests <= 0 || th.Window <= 0 {
		return 0, true
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[key]
	if w == nil || !now.Before(w.start.Add(th.Window)) {
		w = &window{start: now}
		s.windows[key] = w
	}
	if w.used >= th.Requests {
		s.rateLimited++
		return w.start.Add(th.Window).Sub(now), false
	}
	w.used++
	return 0, true
}

// wholeSeconds rounds d up to whole seconds, at least one, as Retry-After
// takes them.
func wholeSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}
