package zendeskfake

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

const rateWindow = time.Minute

// admit applies the account's limit and, for Update Ticket, its own limit,
// over a sliding minute. It sets the rate-limit headers and, when a limit
// is reached, answers 429 and returns false. A refused request uses no
// slot in either window.
func (s *Server) admit(w http.ResponseWriter, route string) bool {
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window = prune(s.window, now)
	s.updates = prune(s.updates, now)
	isUpdate := route == updateRoute
	accountFull := len(s.window) >= s.opts.RateLimit
	updateFull := isUpdate && len(s.updates) >= s.opts.UpdateRateLimit
	if !s.opts.Unthrottled && (accountFull || updateFull) {
		var wait time.Duration
		if accountFull {
			wait = s.window[0].Add(rateWindow).Sub(now)
		}
		if updateFull {
			wait = max(wait, s.updates[0].Add(rateWindow).Sub(now))
		}
		s.rateLimited++
		s.writeLimitHeaders(w)
		w.Header().Set("Retry-After", strconv.Itoa(ceilSeconds(wait)))
		// The body's wording is UNVERIFIED: the docs only say it details
		// the reason.
		writeError(w, http.StatusTooManyRequests, api.ErrorBody{
			Error:       api.ErrorName{Name: "APIRateLimitExceeded"},
			Description: "Number of allowed API requests per minute exceeded",
		})
		return false
	}
	s.window = append(s.window, now)
	if isUpdate {
		s.updates = append(s.updates, now)
	}
	s.writeLimitHeaders(w)
	return true
}

// setLimitHeaders sends the headers on answers that use no slot.
func (s *Server) setLimitHeaders(w http.ResponseWriter, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.window = prune(s.window, now)
	s.writeLimitHeaders(w)
}

// writeLimitHeaders needs mu held and a pruned window.
func (s *Server) writeLimitHeaders(w http.ResponseWriter) {
	w.Header().Set("X-Rate-Limit", strconv.Itoa(s.opts.RateLimit))
	w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(max(0, s.opts.RateLimit-len(s.window))))
}

// prune drops the requests that left the window.
func prune(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].Add(rateWindow).After(now) {
		i++
	}
	return ts[i:]
}

// ceilSeconds rounds up to whole seconds, at least one: Retry-After is an
// integer and zero would invite an immediate retry.
func ceilSeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
