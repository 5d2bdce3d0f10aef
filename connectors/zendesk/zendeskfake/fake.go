package zendeskfake

import (
	"cmp"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

// Requests per minute per account, by plan.
const (
	PlanTeam         = 200
	PlanGrowth       = 400
	PlanProfessional = 400
	PlanEnterprise   = 700
	PlanHighVolume   = 2500
)

// Documented limits.
const (
	// UpdateTicketLimit is Update Ticket's own limit, per minute per account.
	UpdateTicketLimit = 100
	// MaxComments is the most comments a ticket holds.
	MaxComments = 5000
	// MaxExternalIDLen is the longest external_id accepted.
	MaxExternalIDLen = 255
)

// Defaults for the UNVERIFIED values.
const (
	DefaultIdempotencyTTL = 2 * time.Hour
	DefaultMaxBodyBytes   = 1 << 20
	maxPerPage            = 100
	// DefaultMaxUploadBytes is Zendesk's 50 MB attachment limit, as
	// secondary sources give it.
	DefaultMaxUploadBytes = 50 << 20
	// UploadTTL is how long an upload token can be used: 60 minutes in
	// Zendesk's help article (one translation says 3 days; the fake takes
	// the shorter).
	UploadTTL = time.Hour
)

// Options configures a fake account.
type Options struct {
	// Agents maps each agent's email to its API token: the credentials the
	// account accepts. Every agent shares the account's rate limits.
	Agents map[string]string
	// Prefix is a path prefix to serve under (for example "/acme"), so that
	// tests catch clients that build absolute paths. Empty serves at root.
	Prefix string
	// RateLimit is the account's limit per minute; 0 means PlanTeam.
	RateLimit int
	// UpdateRateLimit is Update Ticket's limit per minute; 0 means
	// UpdateTicketLimit.
	UpdateRateLimit int
	// Unthrottled turns throttling off; the headers are still sent.
	Unthrottled bool
	// IdempotencyTTL is how long an idempotency key is remembered; 0 means
	// DefaultIdempotencyTTL.
	IdempotencyTTL time.Duration
	// PerPage caps list pages below Zendesk's 100, to exercise pagination;
	// 0 means 100.
	PerPage int
	// MaxBodyBytes is the largest request body accepted; 0 means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// MaxUploadBytes is the largest file Upload Files accepts (413 past
	// it); 0 means DefaultMaxUploadBytes.
	MaxUploadBytes int64
	// PublicAttachments serves attachments to anyone who has their URL,
	// Zendesk's default; otherwise (the fake's default, the stricter one,
	// as with "private attachments" on) they need the agent's credentials.
	PublicAttachments bool
	// Webhooks are the account's webhooks, each called by the bridge's
	// trigger (zendesk.Trigger): when an agent adds a public comment other
	// than through the API, which only AgentReply does in the fake.
	Webhooks []Webhook
	// WebhookClient makes the webhook calls; nil means a client with a
	// 10 s timeout (Zendesk's own is about 10 s, from secondary sources).
	WebhookClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the fake account. It is an http.Handler, safe for concurrent use.
type Server struct {
	opts   Options
	faults *fault.Injector
	mux    *http.ServeMux
	chain  http.Handler

	mu          sync.Mutex
	agents      map[string]agent // by lowercased email
	users       map[int64]*api.User
	byEmail     map[string]int64 // lowercased email → user id
	tickets     map[int64]*api.Ticket
	keys        map[string]*replay
	nextUser    int64
	nextTicket  int64
	nextComment int64
	window      []time.Time // admitted requests, oldest first
	updates     []time.Time // admitted Update Ticket requests
	rateLimited int
	requests    map[string]int

	uploads        map[string]*upload     // by token
	files          map[string]*storedFile // by the key in their content_url
	audits         map[int64]commentAudit // by comment id
	nextAttachment int64
	nextAudit      int64
	nextInvocation int64
	humanAgent     int64
	deliveries     []Delivery
}

type agent struct {
	token  string
	userID int64
}

// replay is what an idempotency key remembers.
type replay struct {
	body     []byte // the request, to compare
	status   int
	location string
	answer   []byte
	at       time.Time
}

// New returns an empty account with opts' agents.
func New(opts Options) *Server {
	if opts.RateLimit <= 0 {
		opts.RateLimit = PlanTeam
	}
	if opts.UpdateRateLimit <= 0 {
		opts.UpdateRateLimit = UpdateTicketLimit
	}
	if opts.IdempotencyTTL <= 0 {
		opts.IdempotencyTTL = DefaultIdempotencyTTL
	}
	if opts.PerPage <= 0 || opts.PerPage > maxPerPage {
		opts.PerPage = maxPerPage
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxUploadBytes <= 0 {
		opts.MaxUploadBytes = DefaultMaxUploadBytes
	}
	if opts.WebhookClient == nil {
		opts.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	opts.Webhooks = slices.Clone(opts.Webhooks)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Prefix = strings.TrimSuffix(opts.Prefix, "/")
	s := &Server{opts: opts, faults: &fault.Injector{}, mux: http.NewServeMux()}
	s.routes()
	s.chain = s.faults.Middleware(s.mux)
	s.reset()
	return s
}

func (s *Server) routes() {
	s.mux.HandleFunc("GET /api/v2/tickets", s.listTickets)
	s.mux.HandleFunc("POST /api/v2/tickets", s.createTicket)
	s.mux.HandleFunc("GET /api/v2/tickets/{id}", s.showTicket)
	s.mux.HandleFunc("PUT /api/v2/tickets/{id}", s.updateTicket)
	s.mux.HandleFunc("DELETE /api/v2/tickets/{id}", s.deleteTicket)
	s.mux.HandleFunc("GET /api/v2/tickets/{id}/comments", s.listComments)
	s.mux.HandleFunc("GET /api/v2/tickets/{id}/audits", s.listAudits)
	s.mux.HandleFunc("POST /api/v2/uploads", s.uploadFile)
	s.mux.HandleFunc("GET /api/v2/tickets/{id}/tags", s.tags)
	s.mux.HandleFunc("POST /api/v2/tickets/{id}/tags", s.tags)
	s.mux.HandleFunc("PUT /api/v2/tickets/{id}/tags", s.tags)
	s.mux.HandleFunc("DELETE /api/v2/tickets/{id}/tags", s.tags)
	s.mux.HandleFunc("GET /api/v2/users/{id}", s.showUser)
	s.mux.HandleFunc("POST /api/v2/users/create_or_update", s.createOrUpdateUser)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, api.ErrorBody{Error: api.ErrorName{Name: api.ErrInvalidEndpoint}, Description: "Not found"})
	})
}

// updateRoute is the route Update Ticket's own limit applies to.
const updateRoute = "PUT /api/v2/tickets/{id}"

type ctxKey struct{}

// ServeHTTP strips the prefix, serves the demo endpoint, then
// authenticates, rate-limits, counts, and hands the request to the fault
// injector in front of the API. Fault matchers see the path without the
// prefix and without ".json".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, ok := strings.CutPrefix(r.URL.Path, s.opts.Prefix)
	if !ok || (p != "" && p[0] != '/') {
		writeError(w, http.StatusNotFound, api.ErrorBody{Error: api.ErrorName{Name: api.ErrInvalidEndpoint}, Description: "Not found"})
		return
	}
	if p == "/_fake/tickets" && r.Method == http.MethodGet {
		writeJSON(w, http.StatusOK, s.Tickets())
		return
	}
	if id, ok := agentReplyPath(p); ok && r.Method == http.MethodPost {
		s.agentReply(w, r, id)
		return
	}
	if key, ok := strings.CutPrefix(p, attachmentPath); ok && r.Method == http.MethodGet {
		s.serveAttachment(w, r, strings.TrimSuffix(key, "/"))
		return
	}
	u := *r.URL
	u.Path, u.RawPath = strings.TrimSuffix(p, ".json"), ""
	r2 := r.Clone(r.Context())
	r2.URL = &u
	limit := s.opts.MaxBodyBytes
	if u.Path == "/api/v2/uploads" {
		limit = s.opts.MaxUploadBytes
	}
	r2.Body = http.MaxBytesReader(w, r.Body, limit)

	userID, ok := s.authenticate(r2)
	if !ok {
		s.setLimitHeaders(w, s.opts.Now())
		writeError(w, http.StatusUnauthorized, api.ErrorBody{Error: api.ErrorName{Name: api.ErrCouldNotAuth}})
		return
	}
	_, route := s.mux.Handler(r2)
	if !s.admit(w, route) {
		return
	}
	s.mu.Lock()
	s.requests[route]++
	s.mu.Unlock()
	s.chain.ServeHTTP(w, r2.WithContext(context.WithValue(r2.Context(), ctxKey{}, userID)))
}

// authenticate checks Basic {email}/token:{token} and returns the agent's
// user id.
func (s *Server) authenticate(r *http.Request) (int64, bool) {
	user, token, ok := r.BasicAuth()
	if !ok {
		return 0, false
	}
	email, ok := strings.CutSuffix(user, "/token")
	if !ok {
		return 0, false
	}
	s.mu.Lock()
	a, ok := s.agents[strings.ToLower(email)]
	s.mu.Unlock()
	if !ok || !constantTimeEqual(a.token, token) {
		return 0, false
	}
	return a.userID, true
}

// Faults returns the injector in front of the API (after auth and rate
// limiting).
func (s *Server) Faults() *fault.Injector { return s.faults }

// Tickets returns a copy of every ticket, comments included, in id order.
// Deleted tickets have status "deleted".
func (s *Server) Tickets() []api.Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]api.Ticket, 0, len(s.tickets))
	for _, t := range s.tickets {
		out = append(out, copyTicket(t))
	}
	slices.SortFunc(out, func(a, b api.Ticket) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Ticket returns a copy of one ticket, deleted or not, with its comments.
func (s *Server) Ticket(id int64) (api.Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok {
		return api.Ticket{}, false
	}
	return copyTicket(t), true
}

// User returns one user: an agent, or a requester the account created.
func (s *Server) User(id int64) (api.User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return api.User{}, false
	}
	return *u, true
}

// Delete deletes a ticket as an agent would (soft delete): it is no
// longer listed or shown. It reports whether there was a live ticket.
func (s *Server) Delete(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tickets[id]
	if !ok || t.Status == api.StatusDeleted {
		return false
	}
	t.Status = api.StatusDeleted
	t.UpdatedAt = s.stamp()
	return true
}

// RateLimited is the number of 429 answers the rate limiter gave (faults
// not included).
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// Requests counts the admitted requests by route, for example
// "POST /api/v2/tickets" or "PUT /api/v2/tickets/{id}".
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// Reset empties the account: tickets, requesters, uploads, idempotency
// keys, rate windows, counters, recorded deliveries and queued faults.
// Agents stay.
func (s *Server) Reset() {
	s.faults.Clear()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
}

func (s *Server) reset() {
	s.users = map[int64]*api.User{}
	s.byEmail = map[string]int64{}
	s.tickets = map[int64]*api.Ticket{}
	s.keys = map[string]*replay{}
	s.agents = map[string]agent{}
	s.window, s.updates = nil, nil
	s.rateLimited = 0
	s.requests = map[string]int{}
	s.nextUser, s.nextTicket, s.nextComment = 0, 0, 0
	s.uploads, s.files, s.audits = map[string]*upload{}, map[string]*storedFile{}, map[int64]commentAudit{}
	s.nextAttachment, s.nextAudit, s.nextInvocation = 0, 0, 0
	s.deliveries = nil
	emails := make([]string, 0, len(s.opts.Agents))
	for e := range s.opts.Agents {
		emails = append(emails, e)
	}
	slices.Sort(emails) // stable user ids across runs
	for _, e := range emails {
		u := s.addUser(e, e, "admin")
		s.agents[strings.ToLower(e)] = agent{token: s.opts.Agents[e], userID: u.ID}
	}
	// The person who replies in the agent workspace: a user with no API
	// token, unlike the bridge's agent.
	s.humanAgent = s.addUser(HumanAgentName, HumanAgentEmail, "agent").ID
}

// addUser stores a new user; the caller holds mu.
func (s *Server) addUser(name, email, role string) *api.User {
	s.nextUser++
	u := &api.User{ID: s.nextUser, Name: name, Email: email, Role: role}
	s.users[u.ID] = u
	s.byEmail[strings.ToLower(email)] = u.ID
	return u
}

// stamp is the current time at Zendesk's precision (whole seconds), so that
// tickets created in the same second tie on created_at.
func (s *Server) stamp() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

func copyTicket(t *api.Ticket) api.Ticket {
	c := *t
	c.Tags = slices.Clone(t.Tags)
	c.Comments = make([]api.Comment, len(t.Comments))
	for i, cm := range t.Comments {
		c.Comments[i] = copyComment(cm)
	}
	if t.Comments == nil {
		c.Comments = nil
	}
	return c
}

func copyComment(c api.Comment) api.Comment {
	c.Attachments = slices.Clone(c.Attachments)
	if c.Attachments == nil {
		c.Attachments = []api.Attachment{}
	}
	return c
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"InternalError"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, body api.ErrorBody) {
	writeJSON(w, status, body)
}
