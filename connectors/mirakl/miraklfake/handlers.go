package miraklfake

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// M11: list threads.
func (s *Server) listThreads(w http.ResponseWriter, r *http.Request) {
	shop := shopOf(r)
	q := r.URL.Query()
	var lq listQuery
	var tok *pageToken
	if q.Has("page_token") {
		p, err := decodeToken(q.Get("page_token"))
		if err != nil || p.Query.Shop != shop {
			writeError(w, http.StatusBadRequest, "Invalid page_token")
			return
		}
		lq, tok = p.Query, &p
	} else {
		p := params{q: q}
		lq = listQuery{
			Shop:         shop,
			Limit:        p.int("limit", api.DefaultThreadLimit, 1, api.MaxThreadLimit),
			UpdatedSince: p.time("updated_since"),
			EntityType:   q.Get("entity_type"),
			EntityIDs:    p.list("entity_id"),
			WithMessages: p.bool("with_messages", false),
		}
		switch {
		case q.Has("entity_type") && !slices.Contains(api.EntityTypes, lq.EntityType):
			p.fail("Invalid value for parameter entity_type")
		case len(lq.EntityIDs) > 0 && lq.EntityType == "":
			p.fail("The entity_type must be specified to use the entity_id filter")
		}
		if p.refuse(w) {
			return
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*thread
	for _, t := range s.threads {
		if t.shop == shop && lq.matches(t) {
			match = append(match, t)
		}
	}
	page, next, prev := paginate(match, lq, tok)
	out := api.ThreadList{Data: []api.Thread{}, NextPageToken: next, PreviousPageToken: prev}
	for _, t := range page {
		if lq.WithMessages {
			out.Data = append(out.Data, cloneThread(t.Thread, api.MaxListedMessages))
			continue
		}
		c := cloneThread(t.Thread, -1)
		// Present only with with_messages=true, as the spec says.
		c.NoStoreReplyNeeded = nil
		out.Data = append(out.Data, c)
	}
	writeJSON(w, http.StatusOK, out)
}

// matches applies the listing's filters: updated at or after
// updated_since, about one of the given entities.
func (q listQuery) matches(t *thread) bool {
	if !q.UpdatedSince.IsZero() && t.DateUpdated.Before(q.UpdatedSince) {
		return false
	}
	if q.EntityType == "" {
		return true
	}
	return slices.ContainsFunc(t.Entities, func(e api.Entity) bool {
		return e.Type == q.EntityType && (len(q.EntityIDs) == 0 || slices.Contains(q.EntityIDs, e.ID))
	})
}

// M10: one thread, with all its messages.
func (s *Server) getThread(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.threadFromPath(w, r)
	if t == nil {
		return
	}
	writeJSON(w, http.StatusOK, cloneThread(t.Thread, len(t.Messages)))
}

// M12: the shop replies to a thread.
func (s *Server) reply(w http.ResponseWriter, r *http.Request) {
	in, files, status, reason := readReply(r)
	if status == 0 {
		status, reason = http.StatusBadRequest, checkInput(in)
	}
	if reason != "" {
		writeError(w, status, reason)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.threadFromPath(w, r)
	if t == nil {
		return
	}
	to, reason := recipients(t, in.To)
	switch {
	case reason != "":
	case len(t.Messages) >= api.MaxMessagesPerThread:
		reason = fmt.Sprintf("Maximum of %d messages on a thread", api.MaxMessagesPerThread)
	case len(files) > 0 && s.entityAttachmentsLocked(t)+len(files) > api.MaxAttachmentsPerEntity:
		reason = fmt.Sprintf("Maximum of %d attachments across all threads of the same entity", api.MaxAttachmentsPerEntity)
	}
	if reason != "" {
		writeError(w, http.StatusBadRequest, reason)
		return
	}

	shop := s.shops[t.shop]
	now := api.NewTime(s.opts.Now())
	m := api.Message{
		ID:          newID(),
		Body:        in.Body,
		DateCreated: now,
		From:        shopSender(shop),
		To:          to,
	}
	for i := range files {
		m.Attachments = append(m.Attachments, s.storeFileLocked(t.shop, &files[i]))
	}
	if in.Topic != nil {
		t.Topic = *in.Topic
	}
	s.appendLocked(t, m)
	s.replies = append(s.replies, cloneReply(Reply{
		ShopID: t.shop, ThreadID: t.ID, MessageID: m.ID, Body: in.Body,
		To: in.To, Topic: in.Topic, Files: files, At: now.Time,
	}))
	writeJSON(w, http.StatusCreated, api.ReplyCreated{MessageID: m.ID, ThreadID: t.ID})
}

// readReply reads M12's multipart body: the message_input part (JSON) and
// the files parts. A non-zero status refuses the request with reason.
func readReply(r *http.Request) (in api.MessageInput, files []File, status int, reason string) {
	status, reason = readMultipart(r, "message_input", &in, func(part *multipart.Part, content []byte) (int, string) {
		files = append(files, File{
			Name:        part.FileName(),
			ContentType: cmp.Or(part.Header.Get("Content-Type"), "application/octet-stream"),
			Content:     content,
			Size:        int64(len(content)),
		})
		return 0, ""
	})
	if status != 0 {
		return in, nil, status, reason
	}
	return in, files, 0, ""
}

// readMultipart reads a multipart/form-data body of one JSON part named
// jsonPart, decoded strictly into in, and parts named "files", each with
// a file name, read whole and handed to file (which may refuse it).
// Parts the operation does not name are ignored, as Spring does. A
// non-zero status refuses the request with reason.
func readMultipart(r *http.Request, jsonPart string, in any, file func(part *multipart.Part, content []byte) (int, string)) (status int, reason string) {
	mt, ps, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || ps["boundary"] == "" {
		return http.StatusUnsupportedMediaType, "Content type must be multipart/form-data"
	}
	failed := func(err error) (int, string) {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return http.StatusRequestEntityTooLarge, "Request too large"
		}
		return http.StatusBadRequest, "Malformed multipart body"
	}
	mr := multipart.NewReader(r.Body, ps["boundary"])
	seen := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return failed(err)
		}
		switch part.FormName() {
		case jsonPart:
			if seen {
				return http.StatusBadRequest, jsonPart + " is given twice"
			}
			seen = true
			// Spring, which serves Mirakl's API, binds a JSON part by its
			// Content-Type: another type is refused.
			if pt, _, _ := mime.ParseMediaType(part.Header.Get("Content-Type")); pt != "application/json" {
				return http.StatusUnsupportedMediaType, jsonPart + " must be sent as application/json"
			}
			dec := json.NewDecoder(part)
			dec.DisallowUnknownFields()
			if err := dec.Decode(in); err != nil {
				if status, reason = failed(err); status == http.StatusBadRequest {
					reason = "Invalid " + jsonPart
				}
				return status, reason
			}
		case "files":
			if part.FileName() == "" {
				return http.StatusBadRequest, "A file has no file name"
			}
			content, err := io.ReadAll(part)
			if err != nil {
				return failed(err)
			}
			if status, reason = file(part, content); status != 0 {
				return status, reason
			}
		default:
			if _, err := io.Copy(io.Discard, part); err != nil {
				return failed(err)
			}
		}
	}
	if !seen {
		return http.StatusBadRequest, jsonPart + " is required"
	}
	return 0, ""
}

// checkInput applies the spec's schema of message_input. Lengths are in
// UTF-16 code units, as Java counts a String's characters.
func checkInput(in api.MessageInput) string {
	if n := javaLen(in.Body); n < api.MinBodyChars || n > api.MaxBodyChars {
		return fmt.Sprintf("body: size must be between %d and %d", api.MinBodyChars, api.MaxBodyChars)
	}
	if len(in.To) == 0 {
		return "to: must not be empty"
	}
	for i, to := range in.To {
		switch to.Type {
		case api.ParticipantOperator, api.ParticipantShop, api.ParticipantCustomer:
		default:
			return fmt.Sprintf("to[%d].type: must be one of OPERATOR, SHOP, CUSTOMER", i)
		}
	}
	if tp := in.Topic; tp != nil {
		n := javaLen(tp.Value)
		switch {
		case tp.Type == api.TopicFreeText && (n < api.MinFreeTextTopic || n > api.MaxTopicChars):
			return fmt.Sprintf("topic.value: size must be between %d and %d", api.MinFreeTextTopic, api.MaxTopicChars)
		case tp.Type == api.TopicReasonCode && (n < api.MinReasonCodeTopic || n > api.MaxTopicChars):
			return fmt.Sprintf("topic.value: size must be between %d and %d", api.MinReasonCodeTopic, api.MaxTopicChars)
		case tp.Type != api.TopicFreeText && tp.Type != api.TopicReasonCode:
			return "topic.type: must be one of FREE_TEXT, REASON_CODE"
		}
	}
	return ""
}

func javaLen(s string) int { return len(utf16.Encode([]rune(s))) }

// recipients resolves a reply's recipients among the thread's authorized
// participants, by type and, when given, by id.
func recipients(t *thread, to []api.Recipient) ([]api.Participant, string) {
	var out []api.Participant
	for _, rc := range to {
		i := slices.IndexFunc(t.AuthorizedParticipants, func(p api.Participant) bool {
			return p.Type == rc.Type && (rc.ID == "" || p.ID == rc.ID)
		})
		if i < 0 {
			return nil, fmt.Sprintf("Recipient %s is not a participant of the thread", rc.Type)
		}
		if !slices.ContainsFunc(out, func(p api.Participant) bool { return p == t.AuthorizedParticipants[i] }) {
			out = append(out, t.AuthorizedParticipants[i])
		}
	}
	return out, ""
}

// entityAttachmentsLocked counts the attachments across all the threads
// of the shop that share an entity with t; with several entities, the
// busiest counts.
func (s *Server) entityAttachmentsLocked(t *thread) int {
	most := 0
	for _, e := range t.Entities {
		n := 0
		for _, other := range s.threads {
			if other.shop == t.shop && slices.Contains(other.Entities, e) {
				for _, m := range other.Messages {
					n += len(m.Attachments)
				}
			}
		}
		most = max(most, n)
	}
	return most
}

// M13: download an attachment the shop can see.
func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f, ok := s.files[r.PathValue("attachment_id")]
	ok = ok && f.shop == shopOf(r)
	var file File
	if ok {
		file = f.File
		file.Content = slices.Clone(f.Content)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "Attachment not found")
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	// FormatMediaType writes a non-ASCII name as filename*=utf-8''…
	// (RFC 2231/5987), one of the forms the PHP SDK parses.
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": file.Name}))
	w.Header().Set("Content-Length", strconv.Itoa(len(file.Content)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(file.Content)
}

// OR11: list orders, with offset pagination.
func (s *Server) listOrders(w http.ResponseWriter, r *http.Request) {
	p := params{q: r.URL.Query()}
	maxN := p.int("max", api.DefaultOrderMax, 1, api.MaxOrderMax)
	offset := p.int("offset", 0, 0, 1<<31-1)
	paginate := p.bool("paginate", true)
	updatedFrom, updatedTo := p.time("start_update_date"), p.time("end_update_date")
	createdFrom, createdTo := p.time("start_date"), p.time("end_date")
	ids, states := p.list("order_ids"), p.list("order_state_codes")
	if p.refuse(w) {
		return
	}
	if !updatedFrom.IsZero() && s.opts.OrderUpdateMargin > 0 {
		updatedFrom = updatedFrom.Add(-s.opts.OrderUpdateMargin)
	}
	in := func(t, from, to time.Time) bool {
		return (from.IsZero() || !t.Before(from)) && (to.IsZero() || !t.After(to))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	var match []*api.Order
	for _, o := range sortedOrders(s.orders[shopOf(r)]) {
		switch {
		case len(ids) > 0 && !slices.Contains(ids, o.OrderID):
		case len(states) > 0 && !slices.Contains(states, o.OrderState):
		case !in(o.LastUpdatedDate.Time, updatedFrom, updatedTo):
		case !in(o.CreatedDate.Time, createdFrom, createdTo):
		default:
			match = append(match, o)
		}
	}
	out := api.OrderList{Orders: []api.Order{}, TotalCount: len(match)}
	page := match
	if paginate {
		page = match[min(offset, len(match)):min(offset+maxN, len(match))]
	}
	for _, o := range page {
		out.Orders = append(out.Orders, cloneOrder(*o))
	}
	writeJSON(w, http.StatusOK, out)
}

// sortedOrders lists orders as OR11 does by default: by creation date,
// then by id.
func sortedOrders(orders map[string]*api.Order) []*api.Order {
	out := slices.Collect(maps.Values(orders))
	slices.SortFunc(out, func(a, b *api.Order) int {
		return cmp.Or(a.CreatedDate.Compare(b.CreatedDate.Time), strings.Compare(a.OrderID, b.OrderID))
	})
	return out
}

// threadFromPath finds the shop's thread named by the path, or answers
// 404: another shop's thread does not exist for this one.
func (s *Server) threadFromPath(w http.ResponseWriter, r *http.Request) *thread {
	t, ok := s.threads[r.PathValue("thread_id")]
	if !ok || t.shop != shopOf(r) {
		writeError(w, http.StatusNotFound, "Thread not found")
		return nil
	}
	return t
}

// params reads query parameters, keeping the first refusal.
type params struct {
	q   url.Values
	err string
}

func (p *params) fail(reason string) {
	if p.err == "" {
		p.err = reason
	}
}

// refuse answers 400 with the first refusal, if any.
func (p *params) refuse(w http.ResponseWriter) bool {
	if p.err == "" {
		return false
	}
	writeError(w, http.StatusBadRequest, p.err)
	return true
}

func (p *params) int(name string, def, lo, hi int) int {
	if !p.q.Has(name) {
		return def
	}
	n, err := strconv.Atoi(p.q.Get(name))
	if err != nil || n < lo || n > hi {
		p.fail(fmt.Sprintf("Invalid value for parameter %s: must be between %d and %d", name, lo, hi))
		return def
	}
	return n
}

func (p *params) bool(name string, def bool) bool {
	if !p.q.Has(name) {
		return def
	}
	switch strings.ToLower(p.q.Get(name)) {
	case "true":
		return true
	case "false":
		return false
	}
	p.fail(fmt.Sprintf("Invalid value for parameter %s: must be true or false", name))
	return def
}

func (p *params) time(name string) time.Time {
	if !p.q.Has(name) {
		return time.Time{}
	}
	t, err := api.ParseTime(p.q.Get(name))
	if err != nil {
		p.fail(fmt.Sprintf("Invalid value for parameter %s: must be an ISO 8601 date", name))
	}
	return t
}

// list reads a list given comma-separated, repeated, or both.
func (p *params) list(name string) []string {
	var out []string
	for _, v := range p.q[name] {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}
