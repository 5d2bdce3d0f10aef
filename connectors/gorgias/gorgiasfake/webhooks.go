package gorgiasfake

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
)

// Delivery is one call the fake made to an HTTP integration.
type Delivery struct {
	Integration string `json:"integration"`
	// Status is the answer's status, 0 when none came (Err says why).
	Status int    `json:"status"`
	Err    string `json:"error,omitempty"`
}

// AgentReply is the body of POST /_fake/tickets/{id}/agent-reply: what an
// agent does in the Gorgias UI, which no API call stands for. The reply is
// stored as a message and the integrations subscribed to
// ticket-message-created are called before the route answers.
type AgentReply struct {
	BodyText string `json:"body_text"`
	BodyHTML string `json:"body_html,omitempty"`
	// Public false makes an internal note; absent means a public reply.
	Public *bool `json:"public,omitempty"`
	// Status, when set (open or closed), is applied with the reply, as the
	// UI's "send & close" does, before the integrations are called.
	Status string      `json:"status,omitempty"`
	Files  []AgentFile `json:"files,omitempty"`
	// DeliverTwice calls every integration twice for this reply.
	DeliverTwice bool `json:"deliver_twice,omitempty"`
}

// AgentFile is a file the agent attaches; Data is base64 in JSON. With
// URL instead of Data, the message links to a file the fake does not
// hold, wherever URL points: where Gorgias serves files from is not
// documented, so a client must expect any URL there.
type AgentFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type,omitempty"`
	Data        []byte `json:"data,omitempty"`
	URL         string `json:"url,omitempty"`
}

// AgentReplyResult is the route's answer.
type AgentReplyResult struct {
	TicketID   int64      `json:"ticket_id"`
	MessageID  int64      `json:"message_id"`
	Deliveries []Delivery `json:"deliveries"`
}

// HumanAgent is the user the fake's agent replies come from: a person
// using the helpdesk, not the API user the bridge authenticates as.
func HumanAgent() api.Person {
	return api.Person{ID: 900001, Email: "agent@example.com", Name: "Alex Agent"}
}

// Deliveries returns the integration calls made so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

// WaitWebhooks waits for the integration calls made in the background (for
// messages created through the API) to finish.
func (s *Server) WaitWebhooks() { s.inflight.Wait() }

// webhookCall is one rendered integration call.
type webhookCall struct {
	name    string
	method  string
	url     string
	header  http.Header
	body    []byte
	repeats int
}

// agentReply serves POST /_fake/tickets/{id}/agent-reply. It is not behind
// the API's auth: it stands for the agent's browser session.
func (s *Server) agentReply(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4*s.opts.MaxUploadBytes+s.opts.MaxBodyBytes)
	var req AgentReply
	if !decodeBody(w, r, &req) {
		return
	}
	errs := fieldErrors{}
	if strings.TrimSpace(req.BodyText) == "" && strings.TrimSpace(req.BodyHTML) == "" {
		errs.add("body_text", reasonMissing)
	}
	checkStatus(errs, req.Status)
	for i, f := range req.Files {
		if f.Name == "" || (len(f.Data) == 0) == (f.URL == "") {
			errs.add("files."+strconv.Itoa(i), "A file needs a name, and content or a url.")
		}
	}
	if errs.refuse(w) {
		return
	}
	base := s.baseURL(r)

	s.mu.Lock()
	t := s.ticketFromPath(w, r)
	if t == nil {
		s.mu.Unlock()
		return
	}
	now := api.NewDatetime(s.opts.Now())
	switch req.Status {
	case api.StatusClosed:
		t.Status, t.ClosedDatetime = api.StatusClosed, now
	case api.StatusOpen:
		t.Status, t.ClosedDatetime = api.StatusOpen, nil
	}
	agent := HumanAgent()
	m := api.Message{
		Channel:   cmp.Or(t.Channel, "email"),
		Via:       "helpdesk",
		FromAgent: ptr(true),
		Sender:    &agent,
		Receiver:  clonePtr(t.Customer),
		BodyText:  req.BodyText,
		BodyHTML:  req.BodyHTML,
		// Gorgias sends a public reply and stamps it; the fake only
		// stamps it (Sent counts what the API made Gorgias send).
		SentDatetime: now,
	}
	if req.Public != nil && !*req.Public {
		m.Channel, m.Receiver, m.SentDatetime = api.ChannelInternalNote, nil, nil
	}
	for _, f := range req.Files {
		if f.URL != "" {
			m.Attachments = append(m.Attachments, api.Attachment{URL: f.URL, Name: f.Name, ContentType: cmp.Or(f.ContentType, "application/octet-stream")})
			continue
		}
		m.Attachments = append(m.Attachments, s.storeFileLocked(base, storedFile{
			name: f.Name, contentType: cmp.Or(f.ContentType, "application/octet-stream"), data: f.Data, private: true,
		}))
	}
	stored := s.addMessageLocked(t, m)
	t.UpdatedDatetime = stored.CreatedDatetime
	calls := s.callsLocked(t, stored, req.DeliverTwice || s.opts.DuplicateDeliveries)
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, AgentReplyResult{TicketID: t.ID, MessageID: stored.ID, Deliveries: s.deliver(calls)})
}

// emitLocked calls the integrations for a message created through the API,
// in the background, as Gorgias does.
func (s *Server) emitLocked(t *api.Ticket, m api.Message, twice bool) {
	calls := s.callsLocked(t, m, twice)
	if len(calls) == 0 {
		return
	}
	s.inflight.Add(1)
	go func() {
		defer s.inflight.Done()
		s.deliver(calls)
	}()
}

// callsLocked renders the calls of the integrations subscribed to
// ticket-message-created, for message m on ticket t.
func (s *Server) callsLocked(t *api.Ticket, m api.Message, twice bool) []webhookCall {
	vars := variables(t, m)
	var calls []webhookCall
	for _, in := range s.opts.Integrations {
		h := in.HTTP
		if in.Type != api.IntegrationTypeHTTP || h == nil || !h.Fires(api.TriggerTicketMessageCreated) {
			continue
		}
		c := webhookCall{
			name:    in.Name,
			method:  cmp.Or(h.Method, http.MethodPost),
			url:     render(h.URL, vars),
			header:  http.Header{},
			repeats: 1,
		}
		if twice {
			c.repeats = 2
		}
		for k, v := range h.Headers {
			c.header.Set(k, v)
		}
		if c.method != http.MethodGet {
			form := make(map[string]string, len(h.Form))
			for k, v := range h.Form {
				form[k] = render(v, vars)
			}
			ct := cmp.Or(h.RequestContentType, "application/json")
			c.header.Set("Content-Type", ct)
			if ct == "application/x-www-form-urlencoded" {
				q := url.Values{}
				for k, v := range form {
					q.Set(k, v)
				}
				c.body = []byte(q.Encode())
			} else {
				c.body, _ = json.Marshal(form) // a map of strings always encodes
			}
		}
		calls = append(calls, c)
	}
	return calls
}

// deliver makes the calls and records how each went.
func (s *Server) deliver(calls []webhookCall) []Delivery {
	out := []Delivery{}
	for _, c := range calls {
		for range c.repeats {
			d := Delivery{Integration: c.name}
			req, err := http.NewRequest(c.method, c.url, bytes.NewReader(c.body))
			if err == nil {
				req.Header = c.header.Clone()
				var resp *http.Response
				if resp, err = s.opts.WebhookClient.Do(req); err == nil {
					d.Status = resp.StatusCode
					_ = resp.Body.Close()
				}
			}
			if err != nil {
				d.Err = err.Error()
			}
			out = append(out, d)
		}
	}
	s.mu.Lock()
	s.deliveries = append(s.deliveries, out...)
	s.mu.Unlock()
	return out
}

var templateVar = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.]+)\s*\}\}`)

// render fills a template's {{variables}}; unknown ones render empty, as
// in Jinja. Values are pasted as they are, as Gorgias does.
func render(tmpl string, vars map[string]string) string {
	return templateVar.ReplaceAllStringFunc(tmpl, func(v string) string {
		return vars[templateVar.FindStringSubmatch(v)[1]]
	})
}

// variables are the template variables the fake knows for a message event.
// Booleans render as Python's True and False, as public integration code
// reports Gorgias does.
func variables(t *api.Ticket, m api.Message) map[string]string {
	vars := map[string]string{
		"ticket.id":           strconv.FormatInt(t.ID, 10),
		"ticket.status":       t.Status,
		"ticket.external_id":  t.ExternalID,
		"ticket.channel":      t.Channel,
		"ticket.subject":      t.Subject,
		"message.id":          strconv.FormatInt(m.ID, 10),
		"message.channel":     m.Channel,
		"message.via":         m.Via,
		"message.external_id": m.ExternalID,
		"message.body_text":   m.BodyText,
		"event.type":          api.TriggerTicketMessageCreated,
	}
	if m.FromAgent != nil {
		vars["message.from_agent"] = pyBool(*m.FromAgent)
	}
	if m.Public != nil {
		vars["message.public"] = pyBool(*m.Public)
	}
	if t.Customer != nil {
		vars["ticket.customer.id"] = strconv.FormatInt(t.Customer.ID, 10)
		vars["ticket.customer.email"] = t.Customer.Email
		vars["ticket.customer.name"] = t.Customer.Name
	}
	return vars
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func ptr[T any](v T) *T { return &v }
