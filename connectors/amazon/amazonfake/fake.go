package amazonfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

// Operation names, as Amazon names them.
const (
	OpGetOrders     = "getOrders"
	OpGetOrder      = "getOrder"
	OpGetOrderItems = "getOrderItems"
	OpCreateRDT     = "createRestrictedDataToken"
	// OpLWA counts LWA token requests in Requests.
	OpLWA = "lwa"
)

// Rate is a usage plan: tokens added per second, and the bucket's size.
type Rate struct {
	PerSecond float64
	Burst     int
}

// DefaultRates are the spec's default usage plans.
var DefaultRates = map[string]Rate{
	OpGetOrders:     {PerSecond: 0.0167, Burst: 20},
	OpGetOrder:      {PerSecond: 0.5, Burst: 30},
	OpGetOrderItems: {PerSecond: 0.5, Burst: 30},
	OpCreateRDT:     {PerSecond: 1, Burst: 10},
}

// Defaults.
const (
	DefaultAccessTokenTTL = time.Hour
	DefaultRDTTTL         = time.Hour
	DefaultListingDelay   = 2 * time.Minute
	DefaultItemsPageSize  = 100
)

// Options configures the fake seller account and application.
type Options struct {
	// ClientID and ClientSecret are the application's LWA credentials.
	ClientID     string
	ClientSecret string
	// RefreshTokens are the seller's authorisations of the application.
	RefreshTokens []string
	// MarketplaceIDs are the seller's marketplaces.
	MarketplaceIDs []string
	// RestrictedRole gives the application the role that lets it ask an
	// RDT for buyerInfo.
	RestrictedRole bool
	// AccessTokenTTL and RDTTTL are the tokens' lifetimes.
	AccessTokenTTL time.Duration
	RDTTTL         time.Duration
	// ListingDelay is how far before now a getOrders without a "Before"
	// stops; negative means none.
	ListingDelay time.Duration
	// ItemsPageSize is getOrderItems' page size.
	ItemsPageSize int
	// Rates overrides DefaultRates per operation; NoThrottle turns the
	// rate limits off.
	Rates      map[string]Rate
	NoThrottle bool
	// Now is the fake's clock: token expiry, buckets, listing bounds.
	Now func() time.Time
}

// Server is a fake SP-API endpoint with its LWA endpoint. It is safe for
// concurrent use.
type Server struct {
	opts    Options
	handler http.Handler
	faults  fault.Injector

	mu        sync.Mutex
	access    map[string]time.Time // access token → expiry
	rdts      map[string]rdt
	orders    map[string]*Order
	listings  map[string]*listing // NextToken → listing
	itemPages map[string]itemPage
	buckets   map[string]*bucket
	requests  map[string]int
	throttled map[string]int
	refreshOK map[string]bool
}

type rdt struct {
	expires   time.Time
	resources []Resource
}

// Resource is a restricted resource, as createRestrictedDataToken takes it.
type Resource struct {
	Method       string   `json:"method"`
	Path         string   `json:"path"`
	DataElements []string `json:"dataElements,omitempty"`
}

// New returns a fake with no orders.
func New(opts Options) *Server {
	if opts.AccessTokenTTL <= 0 {
		opts.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if opts.RDTTTL <= 0 {
		opts.RDTTTL = DefaultRDTTTL
	}
	if opts.ListingDelay == 0 {
		opts.ListingDelay = DefaultListingDelay
	}
	if opts.ListingDelay < 0 {
		opts.ListingDelay = 0
	}
	if opts.ItemsPageSize <= 0 {
		opts.ItemsPageSize = DefaultItemsPageSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts: opts, access: map[string]time.Time{}, rdts: map[string]rdt{}, orders: map[string]*Order{},
		listings: map[string]*listing{}, itemPages: map[string]itemPage{}, buckets: map[string]*bucket{},
		requests: map[string]int{}, throttled: map[string]int{}, refreshOK: map[string]bool{},
	}
	for _, t := range opts.RefreshTokens {
		s.refreshOK[t] = true
	}
	api := http.NewServeMux()
	api.Handle("GET /orders/v0/orders", s.operation(OpGetOrders, s.getOrders))
	api.Handle("GET /orders/v0/orders/{orderId}", s.operation(OpGetOrder, s.getOrder))
	api.Handle("GET /orders/v0/orders/{orderId}/orderItems", s.operation(OpGetOrderItems, s.getOrderItems))
	api.Handle("POST /tokens/2021-03-01/restrictedDataToken", s.operation(OpCreateRDT, s.createRDT))
	api.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErrors(w, http.StatusNotFound, "NotFound", "Resource not found.", "")
	})
	outer := http.NewServeMux()
	outer.HandleFunc("POST /auth/o2/token", s.token)
	outer.Handle("/", api)
	s.handler = outer
	return s
}

// ServeHTTP answers as SP-API and LWA would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Faults is the injector in front of the operations, behind auth and the
// rate limits.
func (s *Server) Faults() *fault.Injector { return &s.faults }

// Requests is how many calls reached op past authentication, throttled
// ones included.
func (s *Server) Requests(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests[op]
}

// Throttled is how many calls to op were answered 429.
func (s *Server) Throttled(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled[op]
}

// ExpireAccessTokens makes every access token and RDT issued so far
// expired, as if their hour had passed.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := s.opts.Now().Add(-time.Second)
	for t := range s.access {
		s.access[t] = past
	}
	for t, r := range s.rdts {
		r.expires = past
		s.rdts[t] = r
	}
}

// RevokeRefreshToken withdraws a seller's authorisation: LWA refuses the
// refresh token and the access tokens issued so far stop working.
func (s *Server) RevokeRefreshToken(t string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.refreshOK, t)
	clear(s.access)
	clear(s.rdts)
}

// ---- LWA ----

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests[OpLWA]++
	s.mu.Unlock()
	fields := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&fields); err != nil {
			lwaError(w, http.StatusBadRequest, "invalid_request", "The request body is not valid JSON.")
			return
		}
	case "application/x-www-form-urlencoded":
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			lwaError(w, http.StatusBadRequest, "invalid_request", "The request body is malformed.")
			return
		}
		for k := range r.PostForm {
			fields[k] = r.PostForm.Get(k)
		}
	default:
		lwaError(w, http.StatusBadRequest, "invalid_request", "Unsupported content type.")
		return
	}
	for _, k := range []string{"grant_type", "client_id", "client_secret"} {
		if fields[k] == "" {
			lwaError(w, http.StatusBadRequest, "invalid_request", "The request is missing a required parameter : "+k)
			return
		}
	}
	if fields["grant_type"] != "refresh_token" {
		lwaError(w, http.StatusBadRequest, "unsupported_grant_type", "The authorization grant type is not supported.")
		return
	}
	if fields["refresh_token"] == "" {
		lwaError(w, http.StatusBadRequest, "invalid_request", "The request is missing a required parameter : refresh_token")
		return
	}
	if fields["client_id"] != s.opts.ClientID || fields["client_secret"] != s.opts.ClientSecret {
		lwaError(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed")
		return
	}
	s.mu.Lock()
	ok := s.refreshOK[fields["refresh_token"]]
	var tok string
	if ok {
		tok = "Atza|" + randomID()
		s.access[tok] = s.opts.Now().Add(s.opts.AccessTokenTTL)
	}
	s.mu.Unlock()
	if !ok {
		lwaError(w, http.StatusBadRequest, "invalid_grant", "The request has an invalid grant parameter : refresh_token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "token_type": "bearer",
		"expires_in": int(s.opts.AccessTokenTTL / time.Second), "refresh_token": fields["refresh_token"],
	})
}

func lwaError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// ---- authentication, rate limits, faults ----

// caller is who made a call: with an access token, or with an RDT.
type caller struct {
	rdt *rdt
}

// allows tells whether the caller's RDT covers buyerInfo on method+path.
func (c caller) restricted(method, path, element string) bool {
	if c.rdt == nil {
		return false
	}
	for _, res := range c.rdt.resources {
		if res.Method == method && res.Path == path && slices.Contains(res.DataElements, element) {
			return true
		}
	}
	return false
}

type handler func(w http.ResponseWriter, r *http.Request, c caller)

// operation authenticates a call, charges its bucket, then lets faults
// and the handler have it.
func (s *Server) operation(op string, h handler) http.Handler {
	inner := func(c caller) http.Handler {
		return s.faults.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(w, r, c) }))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-amzn-RequestId", randomID())
		c, detail, ok := s.authenticate(r)
		if !ok {
			writeErrors(w, http.StatusForbidden, "Unauthorized", "Access to requested resource is denied.", detail)
			return
		}
		rate := s.rate(op)
		s.mu.Lock()
		s.requests[op]++
		admitted := s.opts.NoThrottle || s.takeLocked(op, rate)
		if !admitted {
			s.throttled[op]++
		}
		s.mu.Unlock()
		if !admitted {
			writeErrors(w, http.StatusTooManyRequests, "QuotaExceeded", "You exceeded your quota for the requested resource.", "")
			return
		}
		w.Header().Set("x-amzn-RateLimit-Limit", strconv.FormatFloat(rate.PerSecond, 'f', -1, 64))
		inner(c).ServeHTTP(w, r)
	})
}

// authenticate checks x-amz-access-token: an LWA access token, or an RDT
// for this very method and path.
func (s *Server) authenticate(r *http.Request) (caller, string, bool) {
	tok := r.Header.Get("x-amz-access-token")
	if tok == "" {
		return caller{}, "", false
	}
	now := s.opts.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.access[tok]; ok {
		if !now.Before(exp) {
			return caller{}, "The access token you provided has expired.", false
		}
		return caller{}, "", true
	}
	if t, ok := s.rdts[tok]; ok {
		if !now.Before(t.expires) {
			return caller{}, "The access token you provided has expired.", false
		}
		for _, res := range t.resources {
			if res.Method == r.Method && res.Path == r.URL.Path {
				return caller{rdt: &t}, "", true
			}
		}
		return caller{}, "The restricted data token does not cover this resource.", false
	}
	return caller{}, "The access token you provided is revoked, malformed or invalid.", false
}

func (s *Server) rate(op string) Rate {
	if r, ok := s.opts.Rates[op]; ok {
		return r
	}
	return DefaultRates[op]
}

// bucket is one operation's token bucket.
type bucket struct {
	tokens float64
	at     time.Time
}

func (s *Server) takeLocked(op string, rate Rate) bool {
	now := s.opts.Now()
	b := s.buckets[op]
	if b == nil {
		b = &bucket{tokens: float64(rate.Burst), at: now}
		s.buckets[op] = b
	}
	if el := now.Sub(b.at).Seconds(); el > 0 {
		b.tokens = math.Min(float64(rate.Burst), b.tokens+el*rate.PerSecond)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// ---- Tokens API ----

func (s *Server) createRDT(w http.ResponseWriter, r *http.Request, c caller) {
	if c.rdt != nil {
		writeErrors(w, http.StatusForbidden, "Unauthorized", "Access to requested resource is denied.", "")
		return
	}
	var in struct {
		RestrictedResources []Resource `json:"restrictedResources"`
		TargetApplication   string     `json:"targetApplication"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&in); err != nil {
		invalid(w, "Request is missing or has invalid parameters", "Malformed request body.")
		return
	}
	if len(in.RestrictedResources) == 0 {
		invalid(w, "Request is missing or has invalid parameters", "Resource not provided.")
		return
	}
	if len(in.RestrictedResources) > 50 {
		invalid(w, "Request is missing or has invalid parameters", "Too many resources.")
		return
	}
	for _, res := range in.RestrictedResources {
		if !slices.Contains([]string{"GET", "PUT", "POST", "DELETE"}, res.Method) || !strings.HasPrefix(res.Path, "/") {
			invalid(w, "Request is missing or has invalid parameters", "Invalid resource.")
			return
		}
		for _, e := range res.DataElements {
			if !slices.Contains([]string{"buyerInfo", "shippingAddress", "buyerTaxInformation"}, e) {
				invalid(w, "Request is missing or has invalid parameters", "Invalid data element.")
				return
			}
			if !s.opts.RestrictedRole {
				writeErrors(w, http.StatusForbidden, "Unauthorized",
					"Application does not have access to one or more requested data elements: ["+strings.Join(res.DataElements, ", ")+"]", "")
				return
			}
		}
	}
	tok := "Atz.sprdt|" + randomID()
	s.mu.Lock()
	s.rdts[tok] = rdt{expires: s.opts.Now().Add(s.opts.RDTTTL), resources: in.RestrictedResources}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"restrictedDataToken": tok, "expiresIn": int(s.opts.RDTTTL / time.Second)})
}

// ---- answers ----

// apiError is one of Amazon's errors.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details string `json:"details"`
}

func writeErrors(w http.ResponseWriter, status int, code, message, details string) {
	writeJSON(w, status, map[string]any{"errors": []apiError{{Code: code, Message: message, Details: details}}})
}

func invalid(w http.ResponseWriter, message, details string) {
	writeErrors(w, http.StatusBadRequest, "InvalidInput", message, details)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
