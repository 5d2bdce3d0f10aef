package gorgiasfake

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
)

// Defaults, from Gorgias's limitations page for API-key integrations.
const (
	DefaultCapacity     = 40
	DefaultWindow       = 20 * time.Second
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxUploadBytes bounds one uploaded file. Gorgias documents no
	// limit (UNVERIFIED); 10 MiB is a stricter guess than most helpdesks'.
	DefaultMaxUploadBytes = 10 << 20
)

// CallLimitHeader carries "used/capacity" on every authenticated answer.
const CallLimitHeader = "X-Gorgias-Account-Api-Call-Limit"

// Options configures a fake Gorgias account.
type Options struct {
	// Accounts maps each API user's email to their API key.
	Accounts map[string]string
	// Capacity and Window size the leaky bucket: Capacity requests drain
	// in Window (defaults 40 and 20 s; Enterprise accounts have 10 s).
	Capacity int
	Window   time.Duration
	// Unthrottled never answers 429, but still reports usage in the
	// call-limit header (the demo uses it).
	Unthrottled bool
	// PathPrefix mounts the API under a prefix, e.g. "/acme", so that tests
	// catch clients that drop the base URL's path.
	PathPrefix string
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int64
	// MaxUploadBytes bounds each file of POST /api/upload; larger ones get
	// 413.
	MaxUploadBytes int64
	// Integrations are the account's HTTP integrations: the fake calls
	// each one whose triggers include ticket-message-created whenever a
	// message is added to a ticket, through the API or by an agent (see
	// AgentReply), rendering its URL and body as Gorgias would.
	Integrations []api.Integration
	// DuplicateDeliveries calls every integration twice per event, as
	// Gorgias may when it retries a call it thinks timed out.
	DuplicateDeliveries bool
	// WebhookClient makes the integration calls; nil means a client with a
	// 10 s timeout.
	WebhookClient *http.Client
	// Now is the fake's clock, for the bucket and the datetimes it stamps.
	Now func() time.Time
}

// Server is a fake Gorgias account. It is safe for concurrent use.
type Server struct {
	opts    Options
	handler http.Handler
	faults  fault.Injector

	mu          sync.Mutex
	tickets     []*api.Ticket // in creation order; ids are index+1
	tags        []*api.Tag    // in creation order; ids are index+1
	customers   map[string]*api.Person
	buckets     map[string]*bucket
	requests    map[string]int
	rateLimited int
	sent        int
	nextMessage int64
	files       map[string]*storedFile // by key
	deliveries  []Delivery
	inflight    sync.WaitGroup // integration calls made in the background
}

// New returns a fake Gorgias account with no tickets.
func New(opts Options) *Server {
	if opts.Capacity <= 0 {
		opts.Capacity = DefaultCapacity
	}
	if opts.Window <= 0 {
		opts.Window = DefaultWindow
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
	opts.Integrations = slices.Clone(opts.Integrations)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.PathPrefix = strings.TrimRight(opts.PathPrefix, "/")
	if opts.PathPrefix != "" && !strings.HasPrefix(opts.PathPrefix, "/") {
		opts.PathPrefix = "/" + opts.PathPrefix
	}
	opts.Accounts = maps.Clone(opts.Accounts)
	s := &Server{opts: opts}
	s.resetLocked()

	apiMux := http.NewServeMux()
	s.route(apiMux, "GET /api/tickets", s.listTickets)
	s.route(apiMux, "POST /api/tickets", s.createTicket)
	s.route(apiMux, "GET /api/tickets/{id}", s.getTicket)
	s.route(apiMux, "PUT /api/tickets/{id}", s.updateTicket)
	s.route(apiMux, "POST /api/tickets/{id}/messages", s.createMessage)
	s.route(apiMux, "PUT /api/tickets/{id}/tags", s.setTicketTags)
	s.route(apiMux, "GET /api/tags", s.listTags)
	s.route(apiMux, "POST /api/tags", s.createTag)
	s.route(apiMux, "GET /api/messages", s.listMessages)
	s.route(apiMux, "POST /api/upload", s.upload)
	s.route(apiMux, "GET "+privateFilePath+"{key}/{name}", s.serveFile)
	apiMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Not found", nil)
	})

	// Faults sit behind auth and the bucket, so an injected failure looks
	// like the real API failing on a request it had accepted.
	outer := http.NewServeMux()
	outer.HandleFunc("GET /_fake/tickets", s.dumpTickets)
	outer.HandleFunc("POST /_fake/tickets/{id}/agent-reply", s.agentReply)
	outer.HandleFunc("GET "+publicFilePath+"{key}/{name}", s.servePublicFile)
	outer.Handle("/", s.gate(s.faults.Middleware(apiMux)))
	s.handler = outer
	if opts.PathPrefix != "" {
		s.handler = http.StripPrefix(opts.PathPrefix, outer)
	}
	return s
}

// ServeHTTP answers as Gorgias would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// route registers h and counts the requests that reach it, by pattern.
func (s *Server) route(mux *http.ServeMux, pattern string, h http.HandlerFunc) {
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests[pattern]++
		s.mu.Unlock()
		h(w, r)
	})
}

// gate authenticates the request, runs the account's bucket and bounds the
// body, as Gorgias does before looking at the request itself.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, key, ok := r.BasicAuth()
		want, known := s.opts.Accounts[user]
		if !ok || !known || subtle.ConstantTimeCompare([]byte(key), []byte(want)) != 1 {
			writeError(w, http.StatusUnauthorized, "Unauthorized", nil)
			return
		}
		s.mu.Lock()
		b := s.buckets[user]
		if b == nil {
			b = &bucket{}
			s.buckets[user] = b
		}
		used, wait, admitted := b.take(s.opts.Now(), s.opts.Capacity, s.opts.Window, s.opts.Unthrottled)
		if !admitted {
			s.rateLimited++
		}
		s.mu.Unlock()
		w.Header().Set(CallLimitHeader, fmt.Sprintf("%d/%d", used, s.opts.Capacity))
		if !admitted {
			w.Header().Set("Retry-After", strconv.Itoa(wholeSeconds(wait)))
			writeError(w, http.StatusTooManyRequests, "Too many requests", nil)
			return
		}
		limit := s.opts.MaxBodyBytes
		if r.URL.Path == "/api/upload" {
			limit = s.opts.MaxUploadBytes + uploadOverhead
		}
		if r.ContentLength > limit {
			writeError(w, http.StatusRequestEntityTooLarge, "Payload too large", nil)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// Faults returns the injector in front of the API handlers.
func (s *Server) Faults() *fault.Injector { return &s.faults }

// Tickets returns a copy of every ticket, trashed ones included, with
// their messages, in creation order.
func (s *Server) Tickets() []api.Ticket {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]api.Ticket, len(s.tickets))
	for i, t := range s.tickets {
		out[i] = cloneTicket(t, true)
	}
	return out
}

// Ticket returns a copy of one ticket, with its messages.
func (s *Server) Ticket(id int64) (api.Ticket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketLocked(id)
	if t == nil {
		return api.Ticket{}, false
	}
	return cloneTicket(t, true), true
}

// Trash moves a ticket to the trash, as an agent would in the UI. It
// reports whether the ticket exists.
func (s *Server) Trash(id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.ticketLocked(id)
	if t == nil {
		return false
	}
	now := api.NewDatetime(s.opts.Now())
	t.TrashedDatetime, t.UpdatedDatetime = now, now
	return true
}

// RateLimited is the number of requests answered 429 by the bucket
// (injected 429s are counted by the fault injector instead).
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// Sent is the number of messages Gorgias would have sent to a customer:
// public, from an agent, without sent_datetime. The bridge never means to.
func (s *Server) Sent() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sent
}

// Requests counts the requests that reached each API handler, keyed by
// route pattern such as "POST /api/tickets". A request whose answer a fault
// replaced after the fact counts: it took effect.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// Reset empties the account: tickets, tags, customers, files, buckets,
// counters, recorded deliveries and queued faults.
func (s *Server) Reset() {
	s.faults.Clear()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Server) resetLocked() {
	s.tickets, s.tags = nil, nil
	s.customers = map[string]*api.Person{}
	s.buckets = map[string]*bucket{}
	s.requests = map[string]int{}
	s.rateLimited, s.sent, s.nextMessage = 0, 0, 0
	s.files = map[string]*storedFile{}
	s.deliveries = nil
}

// dumpTickets shows the stored tickets without auth, for the demo.
func (s *Server) dumpTickets(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Tickets())
}

func (s *Server) ticketLocked(id int64) *api.Ticket {
	if id < 1 || id > int64(len(s.tickets)) {
		return nil
	}
	return s.tickets[id-1]
}

func cloneTicket(t *api.Ticket, withMessages bool) api.Ticket {
	c := *t
	c.Customer = clonePtr(t.Customer)
	c.Tags = slices.Clone(t.Tags)
	if c.Tags == nil {
		c.Tags = []api.Tag{}
	}
	c.CreatedDatetime = clonePtr(t.CreatedDatetime)
	c.UpdatedDatetime = clonePtr(t.UpdatedDatetime)
	c.ClosedDatetime = clonePtr(t.ClosedDatetime)
	c.TrashedDatetime = clonePtr(t.TrashedDatetime)
	c.Messages = nil
	if withMessages {
		for _, m := range t.Messages {
			c.Messages = append(c.Messages, cloneMessage(m))
		}
	}
	return c
}

func cloneMessage(m api.Message) api.Message {
	c := m
	c.FromAgent = clonePtr(m.FromAgent)
	c.Sender = clonePtr(m.Sender)
	c.Receiver = clonePtr(m.Receiver)
	c.Attachments = slices.Clone(m.Attachments)
	c.SentDatetime = clonePtr(m.SentDatetime)
	c.CreatedDatetime = clonePtr(m.CreatedDatetime)
	c.Public = clonePtr(m.Public)
	return c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string, data map[string][]string) {
	writeJSON(w, status, api.ErrorResponse{Error: api.ErrorDetail{Msg: msg, Data: data}})
}

// readBody refuses any query parameter, as the write endpoints take none,
// then decodes the JSON body into v.
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if checkParams(r.URL.Query()).refuse(w) {
		return false
	}
	return decodeBody(w, r, v)
}

// decodeBody reads a JSON body into v, refusing unknown fields as Gorgias
// refuses unknown parameters. It answers the error itself and reports
// whether the caller may go on.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON body")
	}
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "Payload too large", nil)
		return false
	case err != nil:
		writeError(w, http.StatusBadRequest, "Invalid request body", map[string][]string{"_body": {err.Error()}})
		return false
	}
	return true
}
