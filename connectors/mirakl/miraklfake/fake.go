package miraklfake

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// Defaults.
const (
	// DefaultMaxBodyBytes bounds request bodies: Mirakl states 30 MB per
	// message for OR43, and nothing for M12.
	DefaultMaxBodyBytes = 30 << 20
	// DefaultOrderUpdateMargin is what OR11 takes off start_update_date
	// "to ensure no orders are missed". The spec gives no figure.
	DefaultOrderUpdateMargin = time.Minute
	// DefaultOperatorName is the operator's display name in threads.
	DefaultOperatorName = "Marketplace operator"
)

// Options configures a fake Mirakl instance.
type Options struct {
	// Shops are the instance's shops and the API keys of their users.
	Shops []Shop
	// PathPrefix mounts the API under a prefix, e.g. "/carrefour", so that
	// tests catch clients that drop the base URL's path.
	PathPrefix string
	// Throttle, when set, answers 429 with Retry-After past a number of
	// requests per API key. Nil: never throttled, as nothing documents
	// Mirakl's limits.
	Throttle *Throttle
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int64
	// OrderUpdateMargin is taken off OR11's start_update_date. Zero means
	// DefaultOrderUpdateMargin; a negative value means none.
	OrderUpdateMargin time.Duration
	// OperatorName is the operator's display name.
	OperatorName string
	// Carriers are the carriers registered on the instance, which OR23
	// takes by code; nil means DefaultCarriers.
	Carriers []Carrier
	// DocumentTypes are the instance's document types (DO01), of which
	// OR74 takes those of orders; nil means DefaultDocumentTypes.
	DocumentTypes []api.DocumentType
	// NoPartialAcceptance refuses an OR21 that accepts some lines of an
	// order and refuses others, as an operator may configure.
	NoPartialAcceptance bool
	// Now is the fake's clock, for the dates it stamps and the throttle.
	Now func() time.Time
}

// Shop is a shop of the instance.
type Shop struct {
	// ID is the shop's numeric id, as shop_id takes it.
	ID string
	// Name is the shop's display name, also used for its users.
	Name string
	// APIKeys are the keys of the shop's users. A key listed under several
	// shops belongs to a multi-shop user: its default shop is the first
	// that lists it, and it reaches the others with shop_id.
	APIKeys []string
}

// Throttle allows Requests per Window to each API key, in fixed windows.
type Throttle struct {
	Requests int
	Window   time.Duration
}

// Server is a fake Mirakl instance. It is safe for concurrent use.
type Server struct {
	opts     Options
	handler  http.Handler
	faults   fault.Injector
	keys     map[string][]string // API key → shop ids, default first
	shops    map[string]Shop
	carriers []Carrier
	docTypes []api.DocumentType

	mu          sync.Mutex
	threads     map[string]*thread
	files       map[string]*storedFile
	orders      map[string]map[string]*api.Order      // shop → order id → order
	evaluations map[string]map[string]*api.Evaluation // shop → order id → evaluation
	documents   map[string]map[string][]*Document     // shop → order id → documents
	docSeq      int64
	replies     []Reply
	requests    map[string]int
	windows     map[string]*window
	rateLimited int
	seq         int // insertion order of threads
}

// thread is a stored thread with the shop it belongs to.
type thread struct {
	shop string
	seq  int
	api.Thread
}

// storedFile is an attachment's content.
type storedFile struct {
	shop string
	File
}

// File is an attachment as the fake holds it.
type File struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Content     []byte `json:"-"`
	Size        int64  `json:"size"`
}

// Reply is a message a shop sent with M12, as the fake received it.
type Reply struct {
	ShopID    string          `json:"shop_id"`
	ThreadID  string          `json:"thread_id"`
	MessageID string          `json:"message_id"`
	Body      string          `json:"body"`
	To        []api.Recipient `json:"to"`
	Topic     *api.Topic      `json:"topic,omitempty"`
	Files     []File          `json:"files"`
	At        time.Time       `json:"at"`
}

// New returns a fake Mirakl instance with no threads and no orders.
func New(opts Options) *Server {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.OrderUpdateMargin == 0 {
		opts.OrderUpdateMargin = DefaultOrderUpdateMargin
	}
	opts.OperatorName = cmp.Or(opts.OperatorName, DefaultOperatorName)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.PathPrefix = strings.TrimRight(opts.PathPrefix, "/")
	if opts.PathPrefix != "" && !strings.HasPrefix(opts.PathPrefix, "/") {
		opts.PathPrefix = "/" + opts.PathPrefix
	}
	opts.Shops = slices.Clone(opts.Shops)
	s := &Server{opts: opts, keys: map[string][]string{}, shops: map[string]Shop{}, carriers: slices.Clone(opts.Carriers)}
	if opts.Carriers == nil {
		s.carriers = slices.Clone(DefaultCarriers)
	}
	s.docTypes = slices.Clone(opts.DocumentTypes)
	if opts.DocumentTypes == nil {
		s.docTypes = slices.Clone(DefaultDocumentTypes)
	}
	for _, shop := range opts.Shops {
		s.shops[shop.ID] = shop
		for _, key := range shop.APIKeys {
			s.keys[key] = append(s.keys[key], shop.ID)
		}
	}
	s.resetLocked()

	apiMux := http.NewServeMux()
	s.route(apiMux, "GET /api/inbox/threads", s.listThreads)
	s.route(apiMux, "GET /api/inbox/threads/{thread_id}", s.getThread)
	s.route(apiMux, "POST /api/inbox/threads/{thread_id}/message", s.reply)
	s.route(apiMux, "GET /api/inbox/threads/{attachment_id}/download", s.download)
	s.route(apiMux, "GET /api/orders", s.listOrders)
	s.route(apiMux, "GET /api/orders/{order_id}", s.getOrder)
	s.route(apiMux, "PUT /api/orders/{order_id}/accept", s.acceptOrder)
	s.route(apiMux, "PUT /api/orders/{order_id}/tracking", s.updateTracking)
	s.route(apiMux, "PUT /api/orders/{order_id}/ship", s.shipOrder)
	s.route(apiMux, "PUT /api/orders/{order_id}/cancel", s.cancelOrder)
	s.route(apiMux, "PUT /api/orders/cancel", s.cancelLines)
	s.route(apiMux, "GET /api/orders/{order_id}/evaluation", s.getEvaluation)
	s.route(apiMux, "GET /api/orders/documents", s.listDocuments)
	s.route(apiMux, "POST /api/orders/{order_id}/documents", s.uploadDocuments)
	s.route(apiMux, "GET /api/documents", s.listDocumentTypes)
	apiMux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "Resource not found")
	})

	// Faults sit behind auth and the throttle, so an injected failure
	// looks like the real API failing on a request it had accepted.
	outer := http.NewServeMux()
	outer.HandleFunc("GET /_fake/threads", s.dumpThreads)
	outer.HandleFunc("GET /_fake/replies", s.dumpReplies)
	outer.HandleFunc("GET /_fake/orders", s.dumpOrders)
	outer.Handle("/", s.gate(s.faults.Middleware(apiMux)))
	s.handler = outer
	if opts.PathPrefix != "" {
		s.handler = http.StripPrefix(opts.PathPrefix, outer)
	}
	return s
}

// ServeHTTP answers as a Mirakl instance would.
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

type shopKey struct{}

// gate authenticates the raw API key in Authorization, resolves the shop
// (shop_id or the key's default), runs the throttle and bounds the body,
// before the request reaches its handler.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Authorization")
		shops, ok := s.keyShops(key)
		if !ok {
			writeError(w, http.StatusUnauthorized, "Unauthorized")
			return
		}
		shop := shops[0]
		if q := r.URL.Query(); q.Has("shop_id") {
			id, err := strconv.ParseInt(q.Get("shop_id"), 10, 64)
			if err != nil {
				writeError(w, http.StatusBadRequest, "Invalid value for parameter shop_id")
				return
			}
			shop = strconv.FormatInt(id, 10)
			if !slices.Contains(shops, shop) {
				writeError(w, http.StatusForbidden, "You do not have access to this shop")
				return
			}
		}
		if wait, ok := s.admit(key); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(wholeSeconds(wait)))
			writeError(w, http.StatusTooManyRequests, "Too many requests")
			return
		}
		if r.ContentLength > s.opts.MaxBodyBytes {
			writeError(w, http.StatusRequestEntityTooLarge, "Request too large")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), shopKey{}, shop)))
	})
}

// keyShops finds the shops of an API key, comparing in constant time.
func (s *Server) keyShops(key string) ([]string, bool) {
	if key == "" {
		return nil, false
	}
	var found []string
	for k, shops := range s.keys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			found = shops
		}
	}
	return found, found != nil
}

func shopOf(r *http.Request) string { return r.Context().Value(shopKey{}).(string) }

// Faults returns the injector in front of the API handlers.
func (s *Server) Faults() *fault.Injector { return &s.faults }

// Thread returns a copy of a thread with all its messages.
func (s *Server) Thread(id string) (api.Thread, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.threads[id]
	if !ok {
		return api.Thread{}, false
	}
	return cloneThread(t.Thread, len(t.Messages)), true
}

// Threads returns a copy of every thread of every shop, with all its
// messages, in creation order.
func (s *Server) Threads() []api.Thread {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []api.Thread
	for _, t := range s.sortedLocked() {
		out = append(out, cloneThread(t.Thread, len(t.Messages)))
	}
	return out
}

// Replies returns the messages shops sent with M12, in order, with their
// recipients and files.
func (s *Server) Replies() []Reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Reply, len(s.replies))
	for i, r := range s.replies {
		out[i] = cloneReply(r)
	}
	return out
}

// Attachment returns a stored attachment, seeded or uploaded.
func (s *Server) Attachment(id string) (File, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[id]
	if !ok {
		return File{}, false
	}
	c := f.File
	c.Content = slices.Clone(f.Content)
	return c, true
}

// Orders returns a copy of a shop's orders ("" for the first shop), by
// creation date.
func (s *Server) Orders(shopID string) []api.Order {
	s.mu.Lock()
	defer s.mu.Unlock()
	shop, err := s.shopLocked(shopID)
	if err != nil {
		return nil
	}
	out := []api.Order{}
	for _, o := range sortedOrders(s.orders[shop]) {
		out = append(out, cloneOrder(*o))
	}
	return out
}

// Requests counts the requests that reached each API handler, keyed by
// route pattern such as "GET /api/inbox/threads". A request whose answer a
// fault replaced after the fact counts: it took effect.
func (s *Server) Requests() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.requests)
}

// RateLimited is the number of requests the throttle answered 429
// (injected 429s are counted by the fault injector instead).
func (s *Server) RateLimited() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rateLimited
}

// Reset empties the instance: threads, files, orders, evaluations,
// documents, replies, counters, throttle windows and queued faults.
func (s *Server) Reset() {
	s.faults.Clear()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resetLocked()
}

func (s *Server) resetLocked() {
	s.threads = map[string]*thread{}
	s.files = map[string]*storedFile{}
	s.orders = map[string]map[string]*api.Order{}
	s.evaluations = map[string]map[string]*api.Evaluation{}
	s.documents = map[string]map[string][]*Document{}
	s.docSeq = 0
	s.replies = nil
	s.requests = map[string]int{}
	s.windows = map[string]*window{}
	s.rateLimited, s.seq = 0, 0
}

// shopLocked resolves a seeding call's shop: "" is the first shop.
func (s *Server) shopLocked(id string) (string, error) {
	if id == "" {
		if len(s.opts.Shops) == 0 {
			return "", fmt.Errorf("miraklfake: no shop configured")
		}
		return s.opts.Shops[0].ID, nil
	}
	if _, ok := s.shops[id]; !ok {
		return "", fmt.Errorf("miraklfake: unknown shop %q", id)
	}
	return id, nil
}

// sortedLocked returns the threads in creation order.
func (s *Server) sortedLocked() []*thread {
	out := slices.Collect(maps.Values(s.threads))
	slices.SortFunc(out, func(a, b *thread) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// dumpThreads shows every thread without auth, for the demo.
func (s *Server) dumpThreads(w http.ResponseWriter, _ *http.Request) {
	type shopThread struct {
		ShopID string `json:"shop_id"`
		api.Thread
	}
	s.mu.Lock()
	out := []shopThread{}
	for _, t := range s.sortedLocked() {
		out = append(out, shopThread{ShopID: t.shop, Thread: cloneThread(t.Thread, len(t.Messages))})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// dumpReplies shows what the shops sent, files by name and size only.
func (s *Server) dumpReplies(w http.ResponseWriter, _ *http.Request) {
	out := s.Replies()
	if out == nil {
		out = []Reply{}
	}
	writeJSON(w, http.StatusOK, out)
}

// dumpOrders shows every shop's orders, keyed by shop id.
func (s *Server) dumpOrders(w http.ResponseWriter, _ *http.Request) {
	out := map[string][]api.Order{}
	for _, shop := range s.opts.Shops {
		out[shop.ID] = s.Orders(shop.ID)
	}
	writeJSON(w, http.StatusOK, out)
}

// cloneThread copies t, keeping its last n messages (all of them when n
// is at least their number; none, and no messages field, when n is -1).
func cloneThread(t api.Thread, n int) api.Thread {
	c := t
	c.Entities = slices.Clone(t.Entities)
	c.AuthorizedParticipants = slices.Clone(t.AuthorizedParticipants)
	c.CurrentParticipants = slices.Clone(t.CurrentParticipants)
	c.CustomerOrganization = clonePtr(t.CustomerOrganization)
	c.Metadata.LastSender = cloneSender(t.Metadata.LastSender)
	c.Metadata.ShopReplyNeededSince = clonePtr(t.Metadata.ShopReplyNeededSince)
	c.NoStoreReplyNeeded = slices.Clone(t.NoStoreReplyNeeded)
	c.Messages = nil
	if n >= 0 {
		c.Messages = []api.Message{}
		for _, m := range t.Messages[max(0, len(t.Messages)-n):] {
			c.Messages = append(c.Messages, cloneMessage(m))
		}
	}
	return c
}

func cloneMessage(m api.Message) api.Message {
	c := m
	c.From = cloneSender(m.From)
	c.To = slices.Clone(m.To)
	c.Attachments = slices.Clone(m.Attachments)
	return c
}

func cloneSender(s api.Sender) api.Sender {
	c := s
	c.OrganizationDetails = clonePtr(s.OrganizationDetails)
	return c
}

func cloneReply(r Reply) Reply {
	c := r
	c.To = slices.Clone(r.To)
	c.Topic = clonePtr(r.Topic)
	c.Files = make([]File, len(r.Files))
	for i, f := range r.Files {
		c.Files[i] = f
		c.Files[i].Content = slices.Clone(f.Content)
	}
	return c
}

func cloneOrder(o api.Order) api.Order {
	c := o
	c.AcceptanceDecision = clonePtr(o.AcceptanceDecision)
	c.Customer.BillingAddress = clonePtr(o.Customer.BillingAddress)
	c.Customer.ShippingAddress = clonePtr(o.Customer.ShippingAddress)
	c.OrderLines = slices.Clone(o.OrderLines)
	for i := range c.OrderLines {
		l := &c.OrderLines[i]
		l.ShippedDate = clonePtr(l.ShippedDate)
		l.Taxes = slices.Clone(l.Taxes)
		l.ShippingTaxes = slices.Clone(l.ShippingTaxes)
		l.Cancelations = slices.Clone(l.Cancelations)
		for j := range l.Cancelations {
			c := &l.Cancelations[j]
			c.Taxes = slices.Clone(c.Taxes)
			c.ShippingTaxes = slices.Clone(c.ShippingTaxes)
		}
	}
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

// writeError answers Mirakl's error body: the status and a message.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.ErrorResponse{Status: status, Message: msg})
}

// newID returns a random UUID (version 4), the form of Mirakl's thread,
// message and attachment ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
