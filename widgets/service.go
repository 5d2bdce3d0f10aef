package widgets

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/mail"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// Formats a widget is rendered in.
const (
	FormatJSON      = "json"      // Gorgias: the JSON widget
	FormatZendesk   = "zendesk"   // Zendesk app: {"version","status","html"}
	FormatHTML      = "html"      // an HTML page
	FormatHelpScout = "helpscout" // Help Scout: {"html"}
)

// Stable error codes of the widget routes.
const (
	CodeMissingToken     = "missing_token"
	CodeInvalidToken     = "invalid_token"
	CodeMissingEmail     = "missing_email"
	CodeInvalidEmail     = "invalid_email"
	CodeStoreNotAllowed  = "store_not_allowed"
	CodeInvalidSignature = "invalid_signature"
	CodeUnknownSidebar   = "unknown_sidebar"
)

// Counter counts answers by format and state.
type Counter interface {
	CountRead(format, state string)
}

// Service answers sidebar requests: it authenticates the sidebar, reads
// the customer's document and renders it in the sidebar's view.
type Service struct {
	reader  *Reader
	counter Counter
	byToken map[[sha256.Size]byte]*View
	byID    map[string]*View
	// byMerchant are the views each merchant's renders are kept for
	// (Prerender).
	byMerchant map[string][]*View
	// refills are the refills running (see refill).
	refills chan struct{}
	// renders memoises rendered widgets by view, format and document
	// revision: an agent's sidebar asks for the same one over and over.
	renders *lru.Cache[string, []byte]
	// actions, when set, gives the widgets their order action buttons
	// and serves the action pages.
	actions OrderActions
	// invoices, when set, gives orders with an invoice their link to it
	// (see ServeInvoices).
	invoices  InvoicePDFs
	publicURL string // for absolute links; "" makes them relative
	keyPrefix string
}

// NewService indexes every sidebar of cfg. counter may be nil; actions
// may be nil too: the widgets then show no action button and the action
// routes answer 404. (A nil pointer in a non-nil interface is not nil:
// pass a literal nil.)
func NewService(cfg *config.Config, reader *Reader, counter Counter, actions OrderActions) *Service {
	s := &Service{reader: reader, counter: counter, byToken: map[[sha256.Size]byte]*View{}, byID: map[string]*View{},
		byMerchant: map[string][]*View{}, refills: make(chan struct{}, maxRefills),
		actions: actions, publicURL: strings.TrimRight(cfg.Server.PublicURL, "/"), keyPrefix: cfg.Redis.KeyPrefix}
	for _, m := range cfg.Merchants {
		for _, sb := range m.Sidebars {
			v := NewView(m.ID, sb)
			s.byID[sb.ID] = v
			if nativeFormat(sb.Kind) != "" {
				s.byMerchant[m.ID] = append(s.byMerchant[m.ID], v)
			}
			if tok := sb.Token.Reveal(); tok != "" {
				s.byToken[sha256.Sum256([]byte(tok))] = v
			}
		}
	}
	s.renders, _ = lru.New[string, []byte](max(cfg.Widgets.LastKnown, 1))
	return s
}

// Request is one sidebar read.
type Request struct {
	// Token is the bearer token, for every format but FormatHelpScout.
	Token string
	Email string
	// Stores, if any, narrow the sidebar's stores.
	Stores      []string
	IfNoneMatch string
	Format      string
	// AcceptsGzip lets the answer be gzipped (Response.Encoding).
	AcceptsGzip bool
}

// Response is what to answer.
type Response struct {
	Status      int
	ContentType string
	ETag        string
	Body        []byte
	// Kept, when set, is the body instead of Body: a render kept in Redis,
	// a part of the value read, sent without a copy.
	Kept string
	// Encoding is "gzip" when the body is gzipped, else "".
	Encoding string
	// Freshness says whether the data is current.
	Freshness Freshness
}

// Authenticate finds the sidebar a bearer token belongs to. The map is
// keyed by the token's digest and the token is compared again in constant
// time, so that no timing tells how much of a guess was right.
func (s *Service) Authenticate(token string) (*View, error) {
	if token == "" {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeMissingToken, "Authorization", "Authorization: a Bearer token is required")
	}
	v, ok := s.byToken[sha256.Sum256([]byte(token))]
	if !ok || subtle.ConstantTimeCompare([]byte(v.Sidebar.Token.Reveal()), []byte(token)) != 1 {
		return nil, httpapi.Errorf(http.StatusUnauthorized, CodeInvalidToken, "Authorization", "Authorization: the token is not a sidebar's token")
	}
	return v, nil
}

// Serve answers a bearer-authenticated read.
func (s *Service) Serve(ctx context.Context, req Request) (Response, error) {
	v, err := s.Authenticate(req.Token)
	if err != nil {
		return Response{}, err
	}
	return s.serve(ctx, v, req)
}

// ServeHelpScout answers Help Scout's signed request for a sidebar: the
// X-HelpScout-Signature header is base64 HMAC-SHA1 of the raw body. With
// acceptsGzip, the answer may be gzipped.
func (s *Service) ServeHelpScout(ctx context.Context, sidebarID, signature string, body []byte, acceptsGzip bool) (Response, error) {
	v, ok := s.byID[sidebarID]
	if !ok || v.Sidebar.Kind != config.SidebarHelpScout {
		return Response{}, httpapi.Errorf(http.StatusNotFound, CodeUnknownSidebar, "sidebar", "sidebar %q is not a helpscout sidebar", sidebarID)
	}
	if !helpScoutSigned(v.Sidebar.Secret.Reveal(), signature, body) {
		return Response{}, httpapi.Errorf(http.StatusUnauthorized, CodeInvalidSignature, "X-HelpScout-Signature", "X-HelpScout-Signature does not match the body")
	}
	var hs helpScoutRequest
	if err := httpapi.DecodeJSON("", body, &hs); err != nil {
		return Response{}, err
	}
	return s.serve(ctx, v, Request{Email: hs.email(), Format: FormatHelpScout, AcceptsGzip: acceptsGzip})
}

// helpScoutSigned checks Help Scout's signature of body, in constant time.
func helpScoutSigned(secret, signature string, body []byte) bool {
	got, err := base64.StdEncoding.DecodeString(signature)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write(body)
	return signature != "" && err == nil && hmac.Equal(got, mac.Sum(nil))
}

// helpScoutRequest is the part of Help Scout's dynamic-app request the
// bridge reads: the conversation's customer. Its emails may be plain
// strings or objects with a value, depending on the API version
// (UNVERIFIED), so both are read.
type helpScoutRequest struct {
	Customer struct {
		Email  string            `json:"email"`
		Emails []json.RawMessage `json:"emails"`
	} `json:"customer"`
}

func (h helpScoutRequest) email() string {
	if h.Customer.Email != "" {
		return h.Customer.Email
	}
	for _, raw := range h.Customer.Emails {
		var s string
		if json.Unmarshal(raw, &s) == nil && s != "" {
			return s
		}
		var o struct {
			Value string `json:"value"`
		}
		if json.Unmarshal(raw, &o) == nil && o.Value != "" {
			return o.Value
		}
	}
	return ""
}

func (s *Service) serve(ctx context.Context, v *View, req Request) (Response, error) {
	email, err := checkEmail(req.Email, req.Format)
	if err != nil {
		return Response{}, err
	}
	if len(req.Stores) > 0 {
		if v, err = narrow(v, req.Stores); err != nil {
			return Response{}, err
		}
	}
	// The kept render serves clients that take it as it is: gzipped.
	// Others are served as before, from the document and the memo.
	field := ""
	if len(req.Stores) == 0 && req.AcceptsGzip {
		field = v.renderField(req.Format)
	}
	snap := s.reader.ReadSidebar(ctx, v.Merchant, email, field)
	res := Response{Status: http.StatusOK, ContentType: contentType(req.Format), Freshness: snap.Freshness}
	defer func() { s.count(req.Format, res) }()
	now := s.now()
	if p := snap.Pre; p != nil {
		if p.usable(now) {
			res = s.servePre(res, v, req, p, now)
			return res, nil
		}
		// Its links are of an hour past: render again, and keep that.
		snap = s.reader.WithDocument(ctx, v.Merchant, email, snap)
		res.Freshness = snap.Freshness
	}
	acts := s.actionsFor(v, now)
	if snap.Freshness.State != StateOK {
		// Degraded answers are never cached: the next read may be fresh.
		res.Body = render(v, snap, req.Format, acts)
		return res, nil
	}
	signed := acts.signed(snap.Doc)
	res.ETag = v.etag(snap.Rev, req.Format, signed, now)
	if etagMatches(req.IfNoneMatch, res.ETag) {
		res.Status = http.StatusNotModified
		return res, nil
	}
	memo := res.ETag + email
	if body, ok := s.renders.Get(memo); ok {
		res.Body = body
		return res, nil
	}
	res.Body = render(v, snap, req.Format, acts)
	s.renders.Add(memo, res.Body)
	if field != "" && snap.Rev != "" {
		s.refill(ctx, v, email, field, snap, res.Body, signed, now)
	}
	return res, nil
}

// servePre answers with a render kept in Redis, as it is.
func (s *Service) servePre(res Response, v *View, req Request, p *Prerendered, now time.Time) Response {
	// A 304 names the gzipped representation too (its weak ETag).
	res.ETag, res.Encoding = v.etag(p.Rev, req.Format, p.Signed, now), "gzip"
	if etagMatches(req.IfNoneMatch, res.ETag) {
		res.Status = http.StatusNotModified
		return res
	}
	res.Kept = p.Gzip
	return res
}

func (s *Service) count(format string, res Response) {
	if s.counter == nil {
		return
	}
	state := res.Freshness.State
	if res.Status == http.StatusNotModified {
		state = "not_modified"
	}
	s.counter.CountRead(format, state)
}

// checkEmail validates and normalises the customer's email. Help Scout's
// field is the body's, the others' the query's.
func checkEmail(raw, format string) (string, error) {
	field := "email"
	if format == FormatHelpScout {
		field = "customer.email"
	}
	email := orders.NormalizeEmail(raw)
	if email == "" {
		return "", httpapi.Errorf(http.StatusBadRequest, CodeMissingEmail, field, "%s is required: the customer's email address", field)
	}
	if len(email) > 254 {
		return "", httpapi.Errorf(http.StatusBadRequest, CodeInvalidEmail, field, "%s is longer than 254 characters", field)
	}
	if plainAddress(email) {
		return email, nil
	}
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || !strings.Contains(email, "@") {
		return "", httpapi.Errorf(http.StatusBadRequest, CodeInvalidEmail, field, "%s is not an email address", field)
	}
	return email, nil
}

// plainAddress tells whether email is of the plain form nearly every
// address has, which mail.ParseAddress takes as it is: a local part of
// lower-case letters, digits, '.', '_', '+' and '-', and a domain of
// such labels (letters, digits and '-') joined by single dots; neither
// part starts or ends with a dot. checkEmail asks it first: parsing is
// most of the check's cost, and the answer is the same (see its test).
func plainAddress(email string) bool {
	local, domain, ok := strings.Cut(email, "@")
	return ok && dotAtom(local, "._+-") && dotAtom(domain, ".-")
}

// dotAtom tells whether s is non-empty, of lower-case letters, digits and
// the bytes of allowed ('.' among them), with no leading, trailing or
// double dot.
func dotAtom(s, allowed string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && strings.IndexByte(allowed, c) < 0 {
			return false
		}
	}
	return true
}

// narrow restricts a view to some of its stores; asking for another store
// is refused, whoever's it is.
func narrow(v *View, stores []string) (*View, error) {
	for _, st := range stores {
		if !v.Sidebar.TargetsStore(st) {
			return nil, httpapi.Errorf(http.StatusForbidden, CodeStoreNotAllowed, "store", "store %q is not shown by this sidebar", st)
		}
	}
	sb := v.Sidebar
	sb.Stores = stores
	return NewView(v.Merchant, sb), nil
}

// now is the service's clock, the reader's.
func (s *Service) now() time.Time { return s.reader.now() }

func render(v *View, snap Snapshot, format string, acts *actionLinks) []byte {
	doc := v.Project(snap.Doc)
	switch format {
	case FormatZendesk:
		b, _ := json.Marshal(struct {
			Version int    `json:"version"`
			Status  string `json:"status"`
			HTML    string `json:"html"`
		}{Version, snap.Freshness.State, string(renderHTML("fragment", v, doc, snap.Freshness, acts))})
		return b
	case FormatHelpScout:
		b, _ := json.Marshal(struct {
			HTML string `json:"html"`
		}{string(renderHTML("fragment", v, doc, snap.Freshness, acts))})
		return b
	case FormatHTML:
		return renderHTML("page", v, doc, snap.Freshness, acts)
	default:
		return renderJSON(v, doc, snap.Freshness, acts)
	}
}

func contentType(format string) string {
	if format == FormatHTML {
		return "text/html; charset=utf-8"
	}
	return "application/json; charset=utf-8"
}

// etagMatches implements If-None-Match's weak comparison.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
