package zendeskfake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"mime"
	"net/http"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

// createTicket serves POST /api/v2/tickets, idempotency included. It holds
// mu from the key lookup to the answer, so that concurrent requests with
// one key see a single creation.
func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	key := r.Header.Get(api.HeaderIdempotencyKey)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	for k, rp := range s.keys {
		if now.Sub(rp.at) >= s.opts.IdempotencyTTL {
			delete(s.keys, k)
		}
	}
	if rp, ok := s.keys[key]; ok && key != "" {
		if !bytes.Equal(rp.body, body) {
			writeError(w, http.StatusBadRequest, api.ErrorBody{
				Error:       api.ErrorName{Name: api.ErrIdempotentRequest},
				Description: "Request parameters don't match the given idempotency key",
			})
			return
		}
		w.Header().Set(api.HeaderIdempotencyLookup, api.LookupHit)
		if rp.location != "" {
			w.Header().Set("Location", rp.location)
		}
		writeRaw(w, rp.status, rp.answer)
		return
	}
	status, location, answer := s.create(r, body)
	if key != "" {
		s.keys[key] = &replay{body: body, status: status, location: location, answer: answer, at: now}
		w.Header().Set(api.HeaderIdempotencyLookup, api.LookupMiss)
	}
	if location != "" {
		w.Header().Set("Location", location)
	}
	writeRaw(w, status, answer)
}

// create validates and stores a ticket; the caller holds mu. It returns the
// answer rather than writing it, so that an idempotency key can keep it.
func (s *Server) create(r *http.Request, body []byte) (status int, location string, answer []byte) {
	tw, bad := decodeTicket(body)
	if bad != nil {
		return http.StatusBadRequest, "", mustJSON(bad)
	}
	v := invalid{}
	c := tw.Comment
	if c == nil || (strings.TrimSpace(c.Body) == "" && strings.TrimSpace(c.HTMLBody) == "") {
		v.add("description", "BlankValue", "Description: cannot be blank")
	}
	s.checkWrite(tw, v)
	if len(v) > 0 {
		return http.StatusUnprocessableEntity, "", mustJSON(v.body())
	}

	self := r.Context().Value(ctxKey{}).(int64)
	requester := self
	switch {
	case tw.Requester != nil:
		requester = s.findOrAddRequester(tw.Requester)
	case tw.RequesterID != 0:
		requester = tw.RequesterID
	}
	now := s.stamp()
	s.nextTicket++
	t := &api.Ticket{
		ID:          s.nextTicket,
		ExternalID:  tw.ExternalID,
		Subject:     tw.Subject,
		Status:      cmp.Or(tw.Status, api.StatusNew),
		RequesterID: requester,
		SubmitterID: self,
		Tags:        []string{},
		CreatedAt:   now,
		UpdatedAt:   now,
	}
	if tw.Tags != nil {
		t.Tags = slices.Clone(*tw.Tags)
	}
	s.tickets[t.ID] = t
	s.addComment(t, c, self, true, commentAudit{updater: self, custom: tw.Metadata, via: viaAPI})
	t.Description = t.Comments[0].PlainBody
	return http.StatusCreated, s.ticketURL(r, t.ID), mustJSON(s.ticketResponse(r, t))
}

// checkWrite applies the rules create and update share; the caller holds mu.
func (s *Server) checkWrite(tw *api.TicketWrite, v invalid) {
	if tw.Requester != nil && tw.RequesterID != 0 {
		v.add("requester", "InvalidValue", "Requester: requester and requester_id cannot both be given")
	}
	if tw.Requester != nil && !validEmail(tw.Requester.Email) {
		// Zendesk's own descriptions echo the value, customer data
		// included; so does the fake, to catch clients that copy them.
		v.add("requester", "InvalidValue", fmt.Sprintf("Requester: Email: %s is not properly formatted", tw.Requester.Email))
	}
	if tw.RequesterID != 0 && s.users[tw.RequesterID] == nil {
		v.add("requester_id", "InvalidValue", "Requester: is invalid")
	}
	if len(tw.ExternalID) > MaxExternalIDLen {
		v.add("external_id", "TooLong", fmt.Sprintf("External ID is too long (maximum is %d characters)", MaxExternalIDLen))
	}
	if tw.Status != "" && !slices.Contains(api.Statuses, tw.Status) {
		v.add("status", "InvalidValue", "Status: is invalid")
	}
	if tw.Priority != "" && !slices.Contains(api.Priorities, tw.Priority) {
		v.add("priority", "InvalidValue", "Priority: is invalid")
	}
	if tw.Type != "" && !slices.Contains(api.Types, tw.Type) {
		v.add("type", "InvalidValue", "Type: is invalid")
	}
	if tw.Comment != nil && tw.Comment.AuthorID != 0 && s.users[tw.Comment.AuthorID] == nil {
		v.add("comment", "InvalidValue", "Comment: author is invalid")
	}
	if tw.Comment != nil {
		now := s.opts.Now()
		for _, token := range tw.Comment.Uploads {
			// Whether Zendesk refuses or ignores a bad token is UNVERIFIED;
			// refusing is the stricter.
			if u := s.uploads[token]; u == nil || u.used || now.Sub(u.at) >= UploadTTL {
				v.add("comment", "InvalidValue", "Comment: uploads token is invalid or expired")
			}
		}
	}
}

// findOrAddRequester returns the user with this email, creating an end
// user when there is none; the caller holds mu.
func (s *Server) findOrAddRequester(req *api.Requester) int64 {
	if id, ok := s.byEmail[strings.ToLower(req.Email)]; ok {
		return id
	}
	name := req.Name
	if name == "" {
		name, _, _ = strings.Cut(req.Email, "@")
	}
	return s.addUser(name, req.Email, "end-user").ID
}

// addComment appends c, with the files of its upload tokens (checked
// already), and records the audit the update makes; the caller holds mu.
// Without public, the first comment is public and later ones take the
// first one's value.
func (s *Server) addComment(t *api.Ticket, c *api.NewComment, self int64, first bool, audit commentAudit) api.Comment {
	public := true
	if !first {
		public = t.Comments[0].Public
	}
	if c.Public != nil {
		public = *c.Public
	}
	s.nextComment++
	cm := api.Comment{
		ID:          s.nextComment,
		Type:        "Comment",
		AuthorID:    cmp.Or(c.AuthorID, self),
		Body:        c.Body,
		HTMLBody:    c.HTMLBody,
		PlainBody:   c.Body,
		Public:      public,
		Attachments: []api.Attachment{},
		CreatedAt:   s.stamp(),
	}
	if cm.PlainBody == "" {
		cm.PlainBody = stripTags(c.HTMLBody)
		cm.Body = cm.PlainBody
	}
	if cm.HTMLBody == "" {
		cm.HTMLBody = "<p>" + html.EscapeString(c.Body) + "</p>"
	}
	for _, token := range c.Uploads {
		if u := s.uploads[token]; u != nil {
			u.used = true
			cm.Attachments = append(cm.Attachments, u.attachments...)
		}
	}
	t.Comments = append(t.Comments, cm)
	s.nextAudit++
	audit.id = s.nextAudit
	s.audits[cm.ID] = audit
	return cm
}

// listTickets serves GET /api/v2/tickets, with ?external_id= matching
// every live ticket that has it.
func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ext, byExt := q["external_id"]
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*api.Ticket
	for _, t := range s.tickets {
		if t.Status != api.StatusDeleted && (!byExt || t.ExternalID == ext[0]) {
			match = append(match, t)
		}
	}
	slices.SortFunc(match, func(a, b *api.Ticket) int { return cmp.Compare(b.ID, a.ID) })
	page, next := s.paginate(r, len(match))
	out := api.TicketList{Tickets: []api.Ticket{}, Count: len(match), NextPage: next}
	for _, t := range match[page.from:page.to] {
		out.Tickets = append(out.Tickets, s.render(r, t))
	}
	if includes(r, "users") {
		out.Users = s.sideload(match[page.from:page.to])
	}
	writeJSON(w, http.StatusOK, out)
}

// showTicket serves GET /api/v2/tickets/{id}.
func (s *Server) showTicket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.live(w, r)
	if t == nil {
		return
	}
	writeJSON(w, http.StatusOK, s.ticketResponse(r, t))
}

// updateTicket serves PUT /api/v2/tickets/{id}: fields, status, tags
// (replaced) and a new comment.
func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	tw, bad := decodeTicket(body)
	if bad != nil {
		writeError(w, http.StatusBadRequest, *bad)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.live(w, r)
	if t == nil {
		return
	}
	v := invalid{}
	if t.Status == api.StatusClosed {
		v.add("status", "InvalidValue", "Status: closed prevents ticket update")
	}
	s.checkWrite(tw, v)
	if c := tw.Comment; c != nil {
		if strings.TrimSpace(c.Body) == "" && strings.TrimSpace(c.HTMLBody) == "" {
			v.add("comment", "BlankValue", "Comment: cannot be blank")
		}
		if len(t.Comments) >= MaxComments {
			v.add("base", "TooManyComments", fmt.Sprintf("Ticket has reached the limit of %d comments", MaxComments))
		}
	}
	if len(v) > 0 {
		writeError(w, http.StatusUnprocessableEntity, v.body())
		return
	}
	self := r.Context().Value(ctxKey{}).(int64)
	if tw.Subject != "" {
		t.Subject = tw.Subject
	}
	if tw.Status != "" {
		t.Status = tw.Status
	}
	if tw.Tags != nil {
		t.Tags = slices.Clone(*tw.Tags)
	}
	if tw.RequesterID != 0 {
		t.RequesterID = tw.RequesterID
	}
	if tw.Requester != nil {
		t.RequesterID = s.findOrAddRequester(tw.Requester)
	}
	if tw.ExternalID != "" {
		t.ExternalID = tw.ExternalID
	}
	if tw.Comment != nil {
		s.addComment(t, tw.Comment, self, false, commentAudit{updater: self, custom: tw.Metadata, via: viaAPI})
	}
	t.UpdatedAt = s.stamp()
	writeJSON(w, http.StatusOK, s.ticketResponse(r, t))
}

// deleteTicket serves DELETE /api/v2/tickets/{id} (a soft delete).
func (s *Server) deleteTicket(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.live(w, r)
	if t == nil {
		return
	}
	t.Status = api.StatusDeleted
	t.UpdatedAt = s.stamp()
	w.WriteHeader(http.StatusNoContent)
}

// listComments serves GET /api/v2/tickets/{id}/comments, oldest first.
func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.live(w, r)
	if t == nil {
		return
	}
	page, next := s.paginate(r, len(t.Comments))
	out := api.CommentList{Comments: []api.Comment{}, Count: len(t.Comments), NextPage: next}
	var authors []int64
	for _, c := range t.Comments[page.from:page.to] {
		out.Comments = append(out.Comments, copyComment(c))
		authors = append(authors, c.AuthorID)
	}
	if includes(r, "users") {
		slices.Sort(authors)
		out.Users = []api.User{}
		for _, id := range slices.Compact(authors) {
			if u := s.users[id]; u != nil {
				out.Users = append(out.Users, *u)
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// tags serves the ticket Tags endpoints: GET lists, POST sets, PUT adds,
// DELETE removes.
func (s *Server) tags(w http.ResponseWriter, r *http.Request) {
	var in api.Tags
	if r.Method != http.MethodGet {
		body, ok := readBody(w, r)
		if !ok {
			return
		}
		if err := json.Unmarshal(body, &in); err != nil || len(in.Tags) == 0 {
			writeError(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorName{Name: "BadRequest"}, Description: "tags must be a non-empty list"})
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.live(w, r)
	if t == nil {
		return
	}
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, api.Tags{Tags: slices.Clone(t.Tags)})
		return
	}
	if t.Status == api.StatusClosed {
		writeError(w, http.StatusUnprocessableEntity, invalid{"status": {{Description: "Status: closed prevents ticket update", Error: "InvalidValue"}}}.body())
		return
	}
	status := http.StatusOK
	switch r.Method {
	case http.MethodPost:
		t.Tags, status = slices.Clone(in.Tags), http.StatusCreated
	case http.MethodPut:
		for _, tag := range in.Tags {
			if !slices.Contains(t.Tags, tag) {
				t.Tags = append(t.Tags, tag)
			}
		}
	case http.MethodDelete:
		t.Tags = slices.DeleteFunc(t.Tags, func(tag string) bool { return slices.Contains(in.Tags, tag) })
	}
	t.UpdatedAt = s.stamp()
	writeJSON(w, status, api.Tags{Tags: slices.Clone(t.Tags)})
}

// showUser serves GET /api/v2/users/{id}.
func (s *Server) showUser(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[id]
	if err != nil || u == nil {
		writeError(w, http.StatusNotFound, notFound)
		return
	}
	writeJSON(w, http.StatusOK, api.UserResponse{User: *u})
}

// createOrUpdateUser serves Create Or Update User: the user with the
// email gets the name sent, or an end user is created (201) with it.
func (s *Server) createOrUpdateUser(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var req struct {
		User *api.UserWrite `json:"user"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.User == nil {
		writeError(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorName{Name: "BadRequest"}, Description: "Malformed JSON body"})
		return
	}
	v := invalid{}
	if !validEmail(req.User.Email) {
		v.add("email", "InvalidValue", "Email: is not properly formatted")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, exists := s.byEmail[strings.ToLower(req.User.Email)]
	if !exists && strings.TrimSpace(req.User.Name) == "" {
		v.add("name", "BlankValue", "Name: is too short (minimum one character)")
	}
	if len(v) > 0 {
		writeError(w, http.StatusUnprocessableEntity, v.body())
		return
	}
	if exists {
		u := s.users[id]
		if req.User.Name != "" {
			u.Name = req.User.Name
		}
		writeJSON(w, http.StatusOK, api.UserResponse{User: *u})
		return
	}
	writeJSON(w, http.StatusCreated, api.UserResponse{User: *s.addUser(req.User.Name, req.User.Email, "end-user")})
}

var notFound = api.ErrorBody{Error: api.ErrorName{Name: api.ErrRecordNotFound}, Description: "Not found"}

// live returns the live ticket the path names, or answers 404; the caller
// holds mu.
func (s *Server) live(w http.ResponseWriter, r *http.Request) *api.Ticket {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	t := s.tickets[id]
	if err != nil || t == nil || t.Status == api.StatusDeleted {
		writeError(w, http.StatusNotFound, notFound)
		return nil
	}
	return t
}

// render is the ticket as the API shows it: no comments, and its URL.
func (s *Server) render(r *http.Request, t *api.Ticket) api.Ticket {
	c := copyTicket(t)
	c.Comments = nil
	c.URL = s.ticketURL(r, t.ID)
	return c
}

func (s *Server) ticketResponse(r *http.Request, t *api.Ticket) api.TicketResponse {
	out := api.TicketResponse{Ticket: s.render(r, t)}
	if includes(r, "users") {
		out.Users = s.sideload([]*api.Ticket{t})
	}
	return out
}

// sideload returns the requesters and submitters of ts, by id.
func (s *Server) sideload(ts []*api.Ticket) []api.User {
	var ids []int64
	for _, t := range ts {
		ids = append(ids, t.RequesterID, t.SubmitterID)
	}
	slices.Sort(ids)
	users := []api.User{}
	for _, id := range slices.Compact(ids) {
		if u := s.users[id]; u != nil {
			users = append(users, *u)
		}
	}
	return users
}

func (s *Server) ticketURL(r *http.Request, id int64) string {
	return s.baseURL(r) + "/api/v2/tickets/" + strconv.FormatInt(id, 10) + ".json"
}

func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + s.opts.Prefix
}

type span struct{ from, to int }

// paginate reads page and per_page (offset pagination, at most PerPage a
// page) and returns the slice bounds and the next page's URL, or nil.
func (s *Server) paginate(r *http.Request, n int) (span, *string) {
	q := r.URL.Query()
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page < 1 {
		page = 1
	}
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per < 1 || per > s.opts.PerPage {
		per = s.opts.PerPage
	}
	from := min(n, (page-1)*per)
	to := min(n, from+per)
	if to >= n {
		return span{from, to}, nil
	}
	q.Set("page", strconv.Itoa(page+1))
	next := s.baseURL(r) + r.URL.Path + ".json?" + q.Encode()
	return span{from, to}, &next
}

func includes(r *http.Request, what string) bool {
	return slices.Contains(strings.Split(r.URL.Query().Get("include"), ","), what)
}

// readBody reads a JSON request body, answering 400 for another content
// type and 413 past the size limit.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorName{Name: "BadRequest"}, Description: "Content-Type must be application/json"})
		return nil, false
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeError(w, http.StatusRequestEntityTooLarge, api.ErrorBody{Error: api.ErrorName{Name: "RequestEntityTooLarge"}, Description: "Request body too large"})
		return nil, false
	case err != nil:
		// The client went away; nobody reads this answer.
		w.WriteHeader(http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// decodeTicket reads a {"ticket": {...}} body, or returns the 400 to send.
func decodeTicket(body []byte) (*api.TicketWrite, *api.ErrorBody) {
	var req struct {
		Ticket *api.TicketWrite `json:"ticket"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &api.ErrorBody{Error: api.ErrorName{Name: "BadRequest"}, Description: "Malformed JSON body"}
	}
	if req.Ticket == nil {
		return nil, &api.ErrorBody{Error: api.ErrorName{Name: "BadRequest"}, Description: "Missing ticket parameter"}
	}
	return req.Ticket, nil
}

// invalid collects validation problems by field.
type invalid map[string][]api.ErrorDetail

func (v invalid) add(field, code, desc string) {
	v[field] = append(v[field], api.ErrorDetail{Description: desc, Error: code})
}

func (v invalid) body() api.ErrorBody {
	return api.ErrorBody{Error: api.ErrorName{Name: api.ErrRecordInvalid}, Description: "Record validation errors", Details: v}
}

// validEmail accepts a bare address whose domain has a dot.
func validEmail(e string) bool {
	a, err := mail.ParseAddress(e)
	if err != nil || a.Address != e {
		return false
	}
	_, domain, _ := strings.Cut(e, "@")
	return strings.Contains(domain, ".")
}

var tag = regexp.MustCompile(`<[^>]*>`)

func stripTags(s string) string {
	return strings.TrimSpace(html.UnescapeString(tag.ReplaceAllString(s, " ")))
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only our own wire types are marshalled
	}
	return b
}
