package gorgiasfake

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
)

// Reasons, worded as a Python API would word them.
const (
	reasonMissing = "Missing data for required field."
	reasonUnknown = "Unknown parameter."
)

// fieldErrors collects the reasons a request is refused, per field path.
type fieldErrors map[string][]string

func (e fieldErrors) add(field, reason string) { e[field] = append(e[field], reason) }

// refuse answers 400 with the collected reasons, if any.
func (e fieldErrors) refuse(w http.ResponseWriter) bool {
	if len(e) == 0 {
		return false
	}
	writeError(w, http.StatusBadRequest, "Invalid request", e)
	return true
}

func (s *Server) createTicket(w http.ResponseWriter, r *http.Request) {
	var req api.CreateTicketRequest
	if !readBody(w, r, &req) {
		return
	}
	errs := fieldErrors{}
	if n := len(req.Messages); n < api.MinMessages || n > api.MaxMessages {
		errs.add("messages", fmt.Sprintf("Length must be between %d and %d.", api.MinMessages, api.MaxMessages))
	}
	for i, m := range req.Messages {
		s.checkMessage(errs, fmt.Sprintf("messages.%d.", i), m)
	}
	checkExternalID(errs, "external_id", req.ExternalID)
	checkVia(errs, "via", req.Via)
	checkStatus(errs, req.Status)
	customer := req.Customer
	if customer == nil && len(req.Messages) > 0 {
		// An incoming first message names its customer as sender.
		if first := req.Messages[0]; first.FromAgent != nil && !*first.FromAgent {
			customer = first.Sender
		}
	}
	if customer == nil || (customer.ID == 0 && customer.Email == "") {
		errs.add("customer", "A customer (id or email) is required.")
	}
	for i, tag := range req.Tags {
		switch {
		case tag.ID != 0:
		case tag.Name == "":
			errs.add(fmt.Sprintf("tags.%d", i), "A tag needs an id or a name.")
		default:
			checkTagName(errs, fmt.Sprintf("tags.%d.name", i), tag.Name)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	tags := make([]api.Tag, len(req.Tags))
	for i, ref := range req.Tags {
		switch tag := s.tagLocked(ref); {
		case tag != nil:
			tags[i] = api.Tag{ID: tag.ID, Name: tag.Name}
		case ref.ID != 0:
			errs.add(fmt.Sprintf("tags.%d.id", i), "Unknown tag.")
		}
	}
	if customer != nil && customer.ID != 0 && s.customerByIDLocked(customer.ID) == nil {
		errs.add("customer.id", "Unknown customer.")
	}
	if errs.refuse(w) {
		return
	}
	// Tags named but unknown are created, as the helpdesk UI does.
	for i, ref := range req.Tags {
		if tags[i].ID == 0 {
			tags[i] = s.createTagLocked(ref.Name, "")
		}
	}
	now := api.NewDatetime(s.opts.Now())
	t := &api.Ticket{
		ID:              int64(len(s.tickets) + 1),
		ExternalID:      req.ExternalID,
		Status:          cmp.Or(req.Status, api.StatusOpen),
		Channel:         req.Channel,
		Via:             req.Via,
		Subject:         req.Subject,
		Language:        req.Language,
		Customer:        s.customerLocked(*customer),
		Tags:            dedupeTags(tags),
		CreatedDatetime: now,
		UpdatedDatetime: now,
	}
	t.URI = fmt.Sprintf("/api/tickets/%d/", t.ID)
	if t.Status == api.StatusClosed {
		t.ClosedDatetime = now
	}
	for _, m := range req.Messages {
		s.addMessageLocked(t, m)
	}
	s.tickets = append(s.tickets, t)
	writeJSON(w, http.StatusCreated, cloneTicket(t, true))
}

func (s *Server) getTicket(w http.ResponseWriter, r *http.Request) {
	if checkParams(r.URL.Query()).refuse(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketFromPath(w, r)
	if t == nil {
		return
	}
	writeJSON(w, http.StatusOK, cloneTicket(t, true))
}

func (s *Server) updateTicket(w http.ResponseWriter, r *http.Request) {
	var req api.UpdateTicketRequest
	if !readBody(w, r, &req) {
		return
	}
	errs := fieldErrors{}
	checkStatus(errs, req.Status)
	if errs.refuse(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketFromPath(w, r)
	if t == nil {
		return
	}
	now := api.NewDatetime(s.opts.Now())
	switch req.Status {
	case api.StatusClosed:
		t.Status, t.ClosedDatetime = req.Status, now
	case api.StatusOpen:
		t.Status, t.ClosedDatetime = req.Status, nil
	}
	if req.Subject != "" {
		t.Subject = req.Subject
	}
	if req.TrashedDatetime != nil {
		t.TrashedDatetime = clonePtr(req.TrashedDatetime)
	}
	t.UpdatedDatetime = now
	writeJSON(w, http.StatusOK, cloneTicket(t, true))
}

func (s *Server) createMessage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	errs := checkParams(q, "action")
	if a := q.Get("action"); q.Has("action") && a != "force" && a != "retry" && a != "cancel" {
		errs.add("action", "Must be one of: force, retry, cancel.")
	}
	if errs.refuse(w) {
		return
	}
	var m api.Message
	if !decodeBody(w, r, &m) {
		return
	}
	s.checkMessage(errs, "", m)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketFromPath(w, r)
	if t == nil || errs.refuse(w) {
		return
	}
	stored := s.addMessageLocked(t, m)
	t.UpdatedDatetime = stored.CreatedDatetime
	// Gorgias calls its integrations after the fact, not within the
	// request.
	s.emitLocked(t, stored, s.opts.DuplicateDeliveries)
	writeJSON(w, http.StatusCreated, stored)
}

func (s *Server) setTicketTags(w http.ResponseWriter, r *http.Request) {
	var req api.SetTicketTagsRequest
	if !readBody(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketFromPath(w, r)
	if t == nil {
		return
	}
	errs := fieldErrors{}
	if req.IDs == nil {
		errs.add("ids", reasonMissing)
	}
	tags := []api.Tag{}
	for i, id := range req.IDs {
		tag := s.tagLocked(api.Tag{ID: id})
		if tag == nil {
			errs.add(fmt.Sprintf("ids.%d", i), "Unknown tag.")
			continue
		}
		tags = append(tags, api.Tag{ID: tag.ID, Name: tag.Name})
	}
	if errs.refuse(w) {
		return
	}
	t.Tags = dedupeTags(tags)
	t.UpdatedDatetime = api.NewDatetime(s.opts.Now())
	w.WriteHeader(http.StatusAccepted)
}

func (s *Server) listTickets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	errs := checkParams(q, "cursor", "limit", "order_by", "external_id", "trashed", "customer_id", "ticket_ids")
	limit := parseLimit(errs, q)
	o, ok := parseOrder(q.Get("order_by"), "created_datetime:desc", "created_datetime", "updated_datetime")
	if !ok {
		errs.add("order_by", "Must be one of: created_datetime:asc, created_datetime:desc, updated_datetime:asc, updated_datetime:desc.")
	}
	trashed := parseBool(errs, q, "trashed", true)
	customerID := parseIDs(errs, q, "customer_id")
	ticketIDs := parseIDs(errs, q, "ticket_ids")
	if len(ticketIDs) > api.MaxPageLimit {
		errs.add("ticket_ids", fmt.Sprintf("Length must be at most %d.", api.MaxPageLimit))
	}
	cur := parseCursor(errs, q, o)
	if errs.refuse(w) {
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*api.Ticket
	for _, t := range s.tickets {
		switch {
		case q.Has("external_id") && t.ExternalID != q.Get("external_id"):
		case !trashed && t.Trashed():
		case len(customerID) > 0 && t.Customer.ID != customerID[0]:
		case len(ticketIDs) > 0 && !slices.Contains(ticketIDs, t.ID):
		default:
			match = append(match, t)
		}
	}
	key := func(t *api.Ticket) sortKey {
		if o.field == "updated_datetime" {
			return sortKey{t.UpdatedDatetime.Time, t.ID}
		}
		return sortKey{t.CreatedDatetime.Time, t.ID}
	}
	page, meta := paginate(match, key, o, cur, limit)
	out := api.List[api.Ticket]{Object: "list", URI: "/api/tickets", Data: []api.Ticket{}, Meta: meta}
	for _, t := range page {
		out.Data = append(out.Data, cloneTicket(t, false))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	errs := checkParams(q, "cursor", "limit", "order_by", "search")
	limit := parseLimit(errs, q)
	// The reference also lists name and usage orders; the fake has only
	// the default family.
	o, ok := parseOrder(q.Get("order_by"), "created_datetime:desc", "created_datetime")
	if !ok {
		errs.add("order_by", "The fake supports created_datetime:asc and created_datetime:desc only.")
	}
	cur := parseCursor(errs, q, o)
	if errs.refuse(w) {
		return
	}
	search := strings.ToLower(q.Get("search"))
	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*api.Tag
	for _, t := range s.tags {
		if strings.Contains(strings.ToLower(t.Name), search) {
			match = append(match, t)
		}
	}
	key := func(t *api.Tag) sortKey { return sortKey{t.CreatedDatetime.Time, t.ID} }
	page, meta := paginate(match, key, o, cur, limit)
	out := api.List[api.Tag]{Object: "list", URI: "/api/tags", Data: []api.Tag{}, Meta: meta}
	for _, t := range page {
		c := *t
		c.CreatedDatetime = clonePtr(t.CreatedDatetime)
		out.Data = append(out.Data, c)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) createTag(w http.ResponseWriter, r *http.Request) {
	var req api.CreateTagRequest
	if !readBody(w, r, &req) {
		return
	}
	errs := fieldErrors{}
	checkTagName(errs, "name", req.Name)
	if errs.refuse(w) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tagLocked(api.Tag{Name: req.Name}) != nil {
		writeError(w, http.StatusConflict, "A tag with this name already exists.", nil)
		return
	}
	tag := s.createTagLocked(req.Name, req.Description)
	writeJSON(w, http.StatusCreated, tag)
}

// checkMessage applies the rules of the message references to m.
func (s *Server) checkMessage(errs fieldErrors, prefix string, m api.Message) {
	if m.Channel == "" {
		errs.add(prefix+"channel", reasonMissing)
	}
	checkVia(errs, prefix+"via", m.Via)
	if m.FromAgent == nil {
		errs.add(prefix+"from_agent", reasonMissing)
	}
	checkExternalID(errs, prefix+"external_id", m.ExternalID)
	if m.Sender == nil || (m.Sender.ID == 0 && m.Sender.Email == "") {
		errs.add(prefix+"sender", reasonMissing)
	}
	incoming := m.FromAgent != nil && !*m.FromAgent
	if incoming && m.Receiver != nil {
		errs.add(prefix+"receiver", "An incoming message has no receiver.")
	}
	if m.Internal() {
		if incoming {
			errs.add(prefix+"from_agent", "An internal note is written by an agent.")
		}
		if m.Sender != nil {
			if _, ok := s.opts.Accounts[m.Sender.Email]; !ok {
				errs.add(prefix+"sender", "The sender of an internal note must be a user of the account.")
			}
		}
	}
	if m.Public != nil {
		// public is in the answers, not among a create's fields.
		errs.add(prefix+"public", reasonUnknown)
	}
	if m.BodyText == "" && m.BodyHTML == "" && len(m.Attachments) == 0 {
		errs.add(prefix+"body_text", "A message needs a body or attachments.")
	}
	for i, a := range m.Attachments {
		if a.URL == "" {
			errs.add(fmt.Sprintf("%sattachments.%d.url", prefix, i), reasonMissing)
		}
	}
}

// addMessageLocked stores a validated message on t.
func (s *Server) addMessageLocked(t *api.Ticket, m api.Message) api.Message {
	s.nextMessage++
	stored := cloneMessage(m)
	stored.ID, stored.TicketID = s.nextMessage, t.ID
	stored.CreatedDatetime = api.NewDatetime(s.opts.Now())
	public := !stored.Internal()
	stored.Public = &public
	if !stored.Internal() && *stored.FromAgent && stored.SentDatetime == nil {
		// Gorgias sends such a message to the customer and then fills
		// sent_datetime; the fake records the same trace.
		stored.SentDatetime = clonePtr(stored.CreatedDatetime)
		s.sent++
	}
	t.Messages = append(t.Messages, stored)
	return cloneMessage(stored)
}

// ticketFromPath finds the ticket named by the {id} path segment, or
// answers 404.
func (s *Server) ticketFromPath(w http.ResponseWriter, r *http.Request) *api.Ticket {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	var t *api.Ticket
	if err == nil {
		t = s.ticketLocked(id)
	}
	if t == nil {
		writeError(w, http.StatusNotFound, "Ticket not found.", nil)
	}
	return t
}

// tagLocked finds a tag by id, or else by exact (case-sensitive) name.
func (s *Server) tagLocked(ref api.Tag) *api.Tag {
	for _, t := range s.tags {
		if (ref.ID != 0 && t.ID == ref.ID) || (ref.ID == 0 && t.Name == ref.Name) {
			return t
		}
	}
	return nil
}

func (s *Server) createTagLocked(name, description string) api.Tag {
	t := &api.Tag{
		ID:              int64(len(s.tags) + 1),
		Name:            name,
		Description:     description,
		CreatedDatetime: api.NewDatetime(s.opts.Now()),
	}
	s.tags = append(s.tags, t)
	return api.Tag{ID: t.ID, Name: t.Name}
}

// customerLocked returns the account's customer with p's id or email,
// creating it on first sight as Gorgias does for tickets.
func (s *Server) customerLocked(p api.Person) *api.Person {
	if p.ID != 0 {
		return clonePtr(s.customerByIDLocked(p.ID))
	}
	c, ok := s.customers[p.Email]
	if !ok {
		c = &api.Person{ID: int64(len(s.customers) + 1), Email: p.Email, Name: p.Name}
		s.customers[p.Email] = c
	}
	return clonePtr(c)
}

func (s *Server) customerByIDLocked(id int64) *api.Person {
	for _, c := range s.customers {
		if c.ID == id {
			return c
		}
	}
	return nil
}

func dedupeTags(tags []api.Tag) []api.Tag {
	out := []api.Tag{}
	for _, t := range tags {
		if !slices.ContainsFunc(out, func(o api.Tag) bool { return o.ID == t.ID }) {
			out = append(out, t)
		}
	}
	return out
}

func checkExternalID(errs fieldErrors, field, v string) {
	if utf8.RuneCountInString(v) > api.MaxExternalIDLen {
		errs.add(field, fmt.Sprintf("Longer than maximum length %d.", api.MaxExternalIDLen))
	}
}

func checkVia(errs fieldErrors, field, v string) {
	switch {
	case v == "":
		errs.add(field, reasonMissing)
	case !slices.Contains(api.ViaValues, v):
		errs.add(field, "Must be one of the documented via values.")
	}
}

func checkTagName(errs fieldErrors, field, name string) {
	switch {
	case name == "":
		errs.add(field, reasonMissing)
	case utf8.RuneCountInString(name) > api.MaxTagNameLen:
		errs.add(field, fmt.Sprintf("Longer than maximum length %d.", api.MaxTagNameLen))
	}
}

func checkStatus(errs fieldErrors, v string) {
	if v != "" && v != api.StatusOpen && v != api.StatusClosed {
		errs.add("status", "Must be one of: open, closed.")
	}
}

// checkParams refuses query parameters outside allowed.
func checkParams(q url.Values, allowed ...string) fieldErrors {
	errs := fieldErrors{}
	for name := range q {
		if !slices.Contains(allowed, name) {
			errs.add(name, reasonUnknown)
		}
	}
	return errs
}

func parseLimit(errs fieldErrors, q url.Values) int {
	if !q.Has("limit") {
		return api.DefaultPageLimit
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > api.MaxPageLimit {
		errs.add("limit", fmt.Sprintf("Must be between 1 and %d.", api.MaxPageLimit))
	}
	return n
}

func parseBool(errs fieldErrors, q url.Values, name string, def bool) bool {
	switch v := q.Get(name); {
	case !q.Has(name):
		return def
	case v == "true":
		return true
	case v == "false":
		return false
	}
	errs.add(name, "Not a valid boolean.")
	return def
}

func parseIDs(errs fieldErrors, q url.Values, name string) []int64 {
	var ids []int64
	for _, v := range q[name] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			errs.add(name, "Must be a positive integer.")
			continue
		}
		ids = append(ids, id)
	}
	return ids
}

func parseCursor(errs fieldErrors, q url.Values, o order) *cursor {
	if !q.Has("cursor") {
		return nil
	}
	c, err := o.decode(q.Get("cursor"))
	if err != nil {
		errs.add("cursor", err.Error())
		return nil
	}
	return &c
}
