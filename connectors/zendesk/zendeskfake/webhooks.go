package zendeskfake

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

// The human agent who replies through AgentReply.
const (
	HumanAgentName  = "Alex Agent"
	HumanAgentEmail = "agent@example.com"
)

// Webhook is a webhook and the trigger that calls it, as the admin sets
// them up for the bridge (zendesk.Webhook and zendesk.Trigger): it fires
// when an agent adds a public comment other than through the API.
type Webhook struct {
	// ID is the webhook's id, sent as X-Zendesk-Webhook-Id.
	ID string
	// Endpoint is where the fake POSTs.
	Endpoint string
	// Secret is the signing secret.
	Secret string
	// Body is the trigger action's JSON body, with placeholders
	// (zendesk.WebhookBody).
	Body string
	// Twice delivers every invocation two times with the same invocation
	// id, as Zendesk may.
	Twice bool
}

// Delivery is one webhook call the fake made.
type Delivery struct {
	Webhook      string `json:"webhook"`
	InvocationID string `json:"invocation_id"`
	// Status is the answer's status, 0 when none came (Err says why).
	Status int    `json:"status"`
	Err    string `json:"error,omitempty"`
}

// AgentReply is the body of POST /_fake/tickets/{id}/agent-reply: an
// agent's comment in the agent workspace, which no API call stands for.
// The comment is stored, the status set, and the webhooks called before
// the route answers.
type AgentReply struct {
	Body     string `json:"body"`
	HTMLBody string `json:"html_body,omitempty"`
	// Public false makes an internal note; absent means a public reply.
	Public *bool `json:"public,omitempty"`
	// Status, when set, is applied with the comment, as "Submit as
	// solved" does.
	Status string      `json:"status,omitempty"`
	Files  []AgentFile `json:"files,omitempty"`
	// DeliverTwice delivers this reply's invocation twice.
	DeliverTwice bool `json:"deliver_twice,omitempty"`
}

// AgentFile is a file the agent attaches; Data is base64 in JSON.
type AgentFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type,omitempty"`
	Data        []byte `json:"data"`
}

// AgentReplyResult is the route's answer.
type AgentReplyResult struct {
	TicketID   int64      `json:"ticket_id"`
	CommentID  int64      `json:"comment_id"`
	Deliveries []Delivery `json:"deliveries"`
}

// Deliveries returns the webhook calls made so far, oldest first.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.deliveries...)
}

var agentReplyRoute = regexp.MustCompile(`^/_fake/tickets/([0-9]+)/agent-reply$`)

func agentReplyPath(p string) (int64, bool) {
	m := agentReplyRoute.FindStringSubmatch(p)
	if m == nil {
		return 0, false
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	return id, err == nil
}

// webhookCall is one rendered invocation.
type webhookCall struct {
	hook       Webhook
	invocation string
	body       []byte
	repeats    int
}

// agentReply serves POST /_fake/tickets/{id}/agent-reply. It is not behind
// the API's auth, rate limits or faults: it stands for the agent's
// browser session.
func (s *Server) agentReply(w http.ResponseWriter, r *http.Request, id int64) {
	r.Body = http.MaxBytesReader(w, r.Body, 4*s.opts.MaxUploadBytes+s.opts.MaxBodyBytes)
	var req AgentReply
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, api.ErrorBody{Error: api.ErrorName{Name: "BadRequest"}, Description: "Malformed JSON body"})
		return
	}
	v := invalid{}
	if strings.TrimSpace(req.Body) == "" && strings.TrimSpace(req.HTMLBody) == "" {
		v.add("comment", "BlankValue", "Comment: cannot be blank")
	}
	if req.Status != "" && (req.Status == api.StatusNew || !slices.Contains(api.Statuses, req.Status)) {
		v.add("status", "InvalidValue", "Status: is invalid")
	}
	for _, f := range req.Files {
		if f.Name == "" || len(f.Data) == 0 {
			v.add("uploads", "InvalidValue", "Uploads: a file needs a name and content")
		}
	}
	base := s.baseURL(r)

	s.mu.Lock()
	t := s.tickets[id]
	switch {
	case t == nil || t.Status == api.StatusDeleted:
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, notFound)
		return
	case t.Status == api.StatusClosed:
		v.add("status", "InvalidValue", "Status: closed prevents ticket update")
	case len(t.Comments) >= MaxComments:
		v.add("base", "TooManyComments", fmt.Sprintf("Ticket has reached the limit of %d comments", MaxComments))
	}
	if len(v) > 0 {
		s.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, v.body())
		return
	}
	// The agent's files go through an upload token, as the workspace's
	// do.
	token := ""
	for _, f := range req.Files {
		token = s.storeUploadLocked(base, token, f)
	}
	c := &api.NewComment{Body: req.Body, HTMLBody: req.HTMLBody, Public: req.Public}
	if c.Public == nil {
		c.Public = ptr(true)
	}
	if token != "" {
		c.Uploads = []string{token}
	}
	cm := s.addComment(t, c, s.humanAgent, false, commentAudit{updater: s.humanAgent, via: viaWeb})
	if req.Status != "" {
		t.Status = req.Status
	}
	t.UpdatedAt = s.stamp()
	// The bridge's trigger: an update (not a creation) with a public
	// comment, by an agent, not through the API. Triggers run after the
	// update, so the status rendered is the new one.
	var calls []webhookCall
	if cm.Public {
		calls = s.callsLocked(t, req.DeliverTwice)
	}
	s.mu.Unlock()

	writeJSON(w, http.StatusOK, AgentReplyResult{TicketID: t.ID, CommentID: cm.ID, Deliveries: s.deliver(calls)})
}

// storeUploadLocked adds f to the upload with token (a new one when
// token is empty) and returns the token.
func (s *Server) storeUploadLocked(base, token string, f AgentFile) string {
	u := s.uploads[token]
	if u == nil {
		token, u = s.newUploadLocked(s.opts.Now())
	}
	s.addFileLocked(base, u, f.Name, f.ContentType, f.Data)
	return token
}

// callsLocked renders one invocation of every webhook for ticket t.
func (s *Server) callsLocked(t *api.Ticket, twice bool) []webhookCall {
	var calls []webhookCall
	for _, h := range s.opts.Webhooks {
		s.nextInvocation++
		c := webhookCall{
			hook:       h,
			invocation: strconv.FormatInt(s.nextInvocation, 10),
			body:       []byte(s.renderLocked(h.Body, t)),
			repeats:    1,
		}
		if twice || h.Twice {
			c.repeats = 2
		}
		calls = append(calls, c)
	}
	return calls
}

// deliver signs and sends the calls, each attempt with a fresh timestamp,
// and records how each went.
func (s *Server) deliver(calls []webhookCall) []Delivery {
	out := []Delivery{}
	for _, c := range calls {
		for range c.repeats {
			d := Delivery{Webhook: c.hook.ID, InvocationID: c.invocation}
			req, err := http.NewRequest(http.MethodPost, c.hook.Endpoint, bytes.NewReader(c.body))
			if err == nil {
				ts := s.opts.Now().UTC().Format(time.RFC3339)
				mac := hmac.New(sha256.New, []byte(c.hook.Secret))
				mac.Write([]byte(ts))
				mac.Write(c.body)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("User-Agent", "Zendesk Webhook")
				req.Header.Set(api.HeaderWebhookID, c.hook.ID)
				req.Header.Set(api.HeaderWebhookInvocationID, c.invocation)
				req.Header.Set(api.HeaderWebhookSignatureTimestamp, ts)
				req.Header.Set(api.HeaderWebhookSignature, base64.StdEncoding.EncodeToString(mac.Sum(nil)))
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

var placeholder = regexp.MustCompile(`\{\{\s*([a-z_.]+)\s*\}\}`)

// renderLocked fills the placeholders the fake knows; others render empty
// (UNVERIFIED what Zendesk does with an unknown one). ticket.status renders
// the status's display name, as in Zendesk's placeholders reference.
func (s *Server) renderLocked(body string, t *api.Ticket) string {
	vars := map[string]string{
		"ticket.id":          strconv.FormatInt(t.ID, 10),
		"ticket.status":      displayStatus(t.Status),
		"ticket.external_id": t.ExternalID,
		"ticket.title":       t.Subject,
	}
	if u := s.users[s.humanAgent]; u != nil {
		vars["current_user.name"] = u.Name
		vars["current_user.email"] = u.Email
	}
	return placeholder.ReplaceAllStringFunc(body, func(p string) string {
		return vars[placeholder.FindStringSubmatch(p)[1]]
	})
}

func displayStatus(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func ptr[T any](v T) *T { return &v }
