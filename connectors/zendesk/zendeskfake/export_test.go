package zendeskfake

import "github.com/helpdesk-bridge/bridge/connectors/zendesk/api"

// FillComments brings a ticket to n comments without n requests, for the
// 5000-comment test.
func (s *Server) FillComments(id int64, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.tickets[id]
	for len(t.Comments) < n {
		s.addComment(t, &api.NewComment{Body: "filler"}, t.SubmitterID, false, commentAudit{updater: t.SubmitterID, via: viaAPI})
	}
}
