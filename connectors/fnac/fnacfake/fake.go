package fnacfake

import (
	"cmp"
	"crypto/rand"
	"crypto/subtle"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
)

// Error codes the fake answers with. ERR_096, ERR_105 and ERR_146 are
// real; the others are invented (see the package doc).
const (
	CodeAuth           = "ERR_001"
	CodeValidation     = "ERR_096"
	CodeLimit          = "ERR_105"
	CodeEnumeration    = "ERR_146"
	CodeNoIncident     = "ERR_110"
	CodeUnknownMessage = "ERR_129"
)

// Defaults.
const (
	DefaultTokenTTL     = time.Hour
	DefaultMaxBodyBytes = 1 << 20
	maxResultsCount     = 100
)

// Options configures a fake.
type Options struct {
	Shops []Shop
	// PathPrefix mounts the API below a prefix: <prefix>/api.php/<service>.
	PathPrefix string
	// TokenTTL is how long a token is valid; 0 means DefaultTokenTTL.
	TokenTTL time.Duration
	// Throttle, when set, answers 429 past Requests per Window.
	Throttle *Throttle
	// MaxBodyBytes bounds request bodies; larger ones get 413.
	MaxBodyBytes int64
	// Now is the fake's clock.
	Now func() time.Time
}

// Shop is one account: Fnac's or Darty's.
type Shop struct {
	PartnerID, ShopID, Key string
	Name                   string
}

// Throttle allows Requests per Window, in fixed windows.
type Throttle struct {
	Requests int
	Window   time.Duration
}

// MessageSeed is a message written on Fnac by a client or the call centre.
type MessageSeed struct {
	RefererType string // api.TypeOrder (default) or api.TypeOffer
	RefererID   string
	From        string // api.FromClient (default) or api.FromCallCenter
	FromName    string
	Subject     string
	Body        string
	OfferTitle  string
	At          time.Time // zero means now
	Files       []FileSeed
}

// FileSeed is a file of a seeded message.
type FileSeed struct {
	Name, Type string
	Content    []byte
}

// Sent is a reply the seller sent.
type Sent struct {
	MessageID, ParentID string
	To, Subject, Type   string
	Body                string
}

type message struct {
	api.Message
	created, updated time.Time
	parent, to       string
	files            []string // file ids
}

type file struct {
	name, typ string
	content   []byte
}

type shopState struct {
	Shop
	messages  []*message
	incidents map[string]bool
	sent      []Sent
	orders    []*order
}

type token struct {
	shop     *shopState
	validity time.Time
}

// Server is a fake Fnac API. It is safe for concurrent use.
type Server struct {
	opts   Options
	faults fault.Injector
	mux    http.Handler

	mu       sync.Mutex
	shops    map[string]*shopState // by shop_id
	tokens   map[string]token
	files    map[string]file
	auths    int
	window   time.Time
	inWindow int
}

// New returns a fake with opts' shops and no messages.
func New(opts Options) *Server {
	opts.TokenTTL = cmp.Or(opts.TokenTTL, DefaultTokenTTL)
	opts.MaxBodyBytes = cmp.Or(opts.MaxBodyBytes, DefaultMaxBodyBytes)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, shops: map[string]*shopState{}, tokens: map[string]token{}, files: map[string]file{}}
	for _, sh := range opts.Shops {
		s.shops[sh.ShopID] = &shopState{Shop: sh, incidents: map[string]bool{}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+opts.PathPrefix+"/api.php/{service}", s.serveAPI)
	mux.HandleFunc("GET "+opts.PathPrefix+"/files/{id}", s.serveFile)
	s.mux = s.faults.Middleware(mux)
	return s
}

// Faults is the injector in front of the fake.
func (s *Server) Faults() *fault.Injector { return &s.faults }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// ExpireTokens makes every token issued so far expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.tokens {
		t.validity = time.Time{}
		s.tokens[k] = t
	}
}

// Auths is how many tokens were issued.
func (s *Server) Auths() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

// OpenIncident puts an order in incident status, which allows replies to
// the call centre.
func (s *Server) OpenIncident(shopID, orderID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shops[shopID].incidents[orderID] = true
}

// AddMessage seeds a message and returns its id. fileURL is the base
// under which files are served, e.g. the test server's URL.
func (s *Server) AddMessage(shopID, fileBase string, m MessageSeed) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := s.shops[shopID]
	if sh == nil {
		return "", fmt.Errorf("no shop %s", shopID)
	}
	if m.RefererID == "" {
		return "", fmt.Errorf("a message needs a referer")
	}
	at := m.At
	if at.IsZero() {
		at = s.opts.Now()
	}
	msg := &message{created: at, updated: at}
	msg.ID = uuid()
	msg.State, msg.Archived = api.StateUnread, api.False
	msg.Referer = api.Referer{Type: cmp.Or(m.RefererType, api.TypeOrder), ID: m.RefererID}
	msg.From = &api.From{Type: cmp.Or(m.From, api.FromClient), Name: m.FromName}
	msg.OfferTitle, msg.Subject, msg.Description = m.OfferTitle, m.Subject, m.Body
	for _, f := range m.Files {
		id := uuid()
		s.files[id] = file{name: f.Name, typ: f.Type, content: f.Content}
		msg.Files = append(msg.Files, api.File{Name: f.Name, URL: strings.TrimRight(fileBase, "/") + s.opts.PathPrefix + "/files/" + id, FileType: f.Type})
	}
	sh.messages = append(sh.messages, msg)
	return msg.ID, nil
}

// Message returns a message as messages_query would list it.
func (s *Server) Message(shopID, id string) (api.Message, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.shops[shopID].messages {
		if m.ID == id {
			return m.listed(), true
		}
	}
	return api.Message{}, false
}

// Messages returns every message of the shop, the seller's replies
// included, as messages_query would list them, in the order they were
// written.
func (s *Server) Messages(shopID string) []api.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []api.Message
	for _, m := range s.shops[shopID].messages {
		out = append(out, m.listed())
	}
	return out
}

// Sent returns the replies the shop sent, oldest first.
func (s *Server) Sent(shopID string) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.shops[shopID].sent)
}

func (m *message) listed() api.Message {
	out := m.Message
	out.CreatedAt, out.UpdatedAt = api.FormatTime(m.created), api.FormatTime(m.updated)
	return out
}

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	f, ok := s.files[r.PathValue("id")]
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", cmp.Or(f.typ, "application/octet-stream"))
	w.Header().Set("Content-Length", strconv.Itoa(len(f.content)))
	_, _ = w.Write(f.content)
}

// root is an answer's root for errors: <{service}_response status>.
type root struct {
	XMLName xml.Name
	Status  string      `xml:"status,attr"`
	Errors  []api.Error `xml:"error"`
}

func (s *Server) writeXML(w http.ResponseWriter, v any) {
	data, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	_, _ = io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?>`+"\n")
	_, _ = w.Write(data)
}

func (s *Server) fail(w http.ResponseWriter, service, status, code, text string) {
	severity := api.StatusError
	if status == api.StatusFatal {
		severity = api.StatusFatal
	}
	s.writeXML(w, root{
		XMLName: xml.Name{Space: api.Namespace, Local: service + "_response"},
		Status:  status,
		Errors:  []api.Error{{Severity: severity, Code: code, Text: text}},
	})
}

func (s *Server) throttled(w http.ResponseWriter) bool {
	t := s.opts.Throttle
	if t == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	if now.Sub(s.window) >= t.Window {
		s.window, s.inWindow = now, 0
	}
	s.inWindow++
	if s.inWindow <= t.Requests {
		return false
	}
	wait := s.window.Add(t.Window).Sub(now)
	w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
	w.WriteHeader(http.StatusTooManyRequests)
	return true
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if s.throttled(w) {
		return
	}
	service := r.PathValue("service")
	data, err := io.ReadAll(io.LimitReader(r.Body, s.opts.MaxBodyBytes+1))
	if err != nil {
		return
	}
	if int64(len(data)) > s.opts.MaxBodyBytes {
		http.Error(w, "request too large", http.StatusRequestEntityTooLarge)
		return
	}
	switch service {
	case api.ServiceAuth:
		s.serveAuth(w, data)
	case api.ServiceMessagesQuery:
		var q api.MessagesQuery
		if err := api.Decode(data, &q); err != nil {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: "+err.Error())
			return
		}
		sh, ok := s.session(w, service, q.Header)
		if ok {
			s.serveQuery(w, sh, q)
		}
	case api.ServiceMessagesUpdate:
		var u api.MessagesUpdate
		if err := api.Decode(data, &u); err != nil {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: "+err.Error())
			return
		}
		sh, ok := s.session(w, service, u.Header)
		if ok {
			s.serveUpdate(w, sh, u)
		}
	case api.ServiceOrdersQuery:
		var q api.OrdersQuery
		if err := api.Decode(data, &q); err != nil {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: "+err.Error())
			return
		}
		sh, ok := s.session(w, service, q.Header)
		if ok {
			s.serveOrdersQuery(w, sh, q)
		}
	case api.ServiceOrdersUpdate:
		var u api.OrdersUpdate
		if err := api.Decode(data, &u); err != nil {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: "+err.Error())
			return
		}
		sh, ok := s.session(w, service, u.Header)
		if ok {
			s.serveOrdersUpdate(w, sh, u)
		}
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) serveAuth(w http.ResponseWriter, data []byte) {
	var a api.AuthRequest
	if err := api.Decode(data, &a); err != nil || a.PartnerID == "" || a.ShopID == "" || a.Key == "" {
		s.fail(w, api.ServiceAuth, api.StatusFatal, CodeValidation, "XML Validation failed: Element auth: Missing child element(s)")
		return
	}
	s.mu.Lock()
	sh := s.shops[a.ShopID]
	if sh == nil || sh.PartnerID != a.PartnerID || subtle.ConstantTimeCompare([]byte(sh.Key), []byte(a.Key)) != 1 {
		s.mu.Unlock()
		s.fail(w, api.ServiceAuth, api.StatusFatal, CodeAuth, "Authentication failed")
		return
	}
	tok := uuid()
	validity := s.opts.Now().Add(s.opts.TokenTTL)
	s.tokens[tok] = token{shop: sh, validity: validity}
	s.auths++
	s.mu.Unlock()
	s.writeXML(w, api.AuthResponse{Status: api.StatusOK, Token: tok, Validity: validity.Format(time.RFC3339), Version: "2.6.0"})
}

// session checks the request header: a known, unexpired token of the
// shop named.
func (s *Server) session(w http.ResponseWriter, service string, h api.Header) (*shopState, bool) {
	s.mu.Lock()
	t, ok := s.tokens[h.Token]
	valid := ok && t.shop.ShopID == h.ShopID && t.shop.PartnerID == h.PartnerID && s.opts.Now().Before(t.validity)
	s.mu.Unlock()
	if !valid {
		s.fail(w, service, api.StatusFatal, CodeAuth, "Invalid or expired token")
		return nil, false
	}
	return t.shop, true
}

var (
	fromTypes  = []string{api.FromClient, api.FromCallCenter, api.FromSeller, api.FromSystem}
	dateTypes  = []string{"CreatedAt", "UpdatedAt", "AcceptedAt", "ReceivedAt", "DebitedAt", "ShippedAt", "RefusedAt", "CancelledAt"}
	toTypes    = []string{api.ToClient, api.ToCallCenter, api.ToAll}
	subjects   = []string{api.SubjectProductInformation, api.SubjectShippingInformation, api.SubjectOrderInformation, api.SubjectOfferProblem, api.SubjectOfferNotReceived, api.SubjectOtherQuestion}
	actions    = []string{api.ActionMarkAsRead, api.ActionMarkAsUnread, api.ActionArchive, api.ActionMarkAsReadAndArchive, api.ActionUnarchive, api.ActionReply, api.ActionCreate, api.ActionConfirmShopDelivery}
	msgTypes   = []string{api.TypeOrder, api.TypeOffer}
	yesNo      = []string{api.True, api.False}
	readStates = []string{api.StateRead, api.StateUnread}
)

// enumOK checks an optional enumerated value.
func enumOK(v string, allowed []string) bool { return v == "" || slices.Contains(allowed, v) }

func (s *Server) serveQuery(w http.ResponseWriter, sh *shopState, q api.MessagesQuery) {
	const service = api.ServiceMessagesQuery
	var min, max time.Time
	if d := q.Date; d != nil {
		if !slices.Contains(dateTypes, d.Type) {
			s.fail(w, service, api.StatusFatal, CodeEnumeration, "XML Schema Validation failed: [facet 'enumeration'] date type")
			return
		}
		var err1, err2 error
		if d.Min != "" {
			min, err1 = api.ParseTime(d.Min)
		}
		if d.Max != "" {
			max, err2 = api.ParseTime(d.Max)
		}
		if err1 != nil || err2 != nil {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: date is not an xs:dateTime")
			return
		}
	}
	ok := enumOK(q.MessageType, msgTypes) && enumOK(q.Archived, yesNo) && enumOK(q.State, readStates)
	if q.SortBy != nil {
		ok = ok && slices.Contains([]string{api.SortAsc, api.SortDesc}, q.SortBy.Type) && slices.Contains([]string{api.SortCreatedAt, api.SortUpdatedAt}, q.SortBy.Value)
	}
	if q.FromTypes != nil {
		for _, f := range q.FromTypes.FromType {
			ok = ok && slices.Contains(fromTypes, f)
		}
	}
	if !ok {
		s.fail(w, service, api.StatusFatal, CodeEnumeration, "XML Schema Validation failed: [facet 'enumeration']")
		return
	}
	count := cmp.Or(q.ResultsCount, api.DefaultResultsCount)
	if count > maxResultsCount {
		s.fail(w, service, api.StatusError, CodeLimit, "The limit of requested elements is reached by the service.")
		return
	}
	page := max1(q.Paging)

	s.mu.Lock()
	var hits []*message
	for _, m := range sh.messages {
		date := m.updated
		if q.Date != nil && q.Date.Type == api.DateCreatedAt {
			date = m.created
		}
		switch {
		case !min.IsZero() && date.Before(min), !max.IsZero() && date.After(max),
			q.MessageType != "" && m.Referer.Type != q.MessageType,
			q.Archived != "" && m.Archived != q.Archived,
			q.State != "" && m.State != q.State,
			q.MessageID != "" && !strings.EqualFold(m.ID, q.MessageID),
			q.OrderID != "" && (m.Referer.Type != api.TypeOrder || m.Referer.ID != q.OrderID),
			q.OfferID != "" && (m.Referer.Type != api.TypeOffer || m.Referer.ID != q.OfferID),
			q.FromTypes != nil && len(q.FromTypes.FromType) > 0 && !slices.Contains(q.FromTypes.FromType, m.From.Type):
			continue
		}
		hits = append(hits, m)
	}
	sortBy, order := api.SortUpdatedAt, api.SortDesc
	if q.SortBy != nil {
		sortBy, order = q.SortBy.Value, q.SortBy.Type
	}
	slices.SortStableFunc(hits, func(a, b *message) int {
		ta, tb := a.updated, b.updated
		if sortBy == api.SortCreatedAt {
			ta, tb = a.created, b.created
		}
		c := cmp.Or(ta.Compare(tb), strings.Compare(a.ID, b.ID))
		if order == api.SortDesc {
			return -c
		}
		return c
	})
	unread, read := 0, 0
	for _, m := range hits {
		if m.State == api.StateUnread {
			unread++
		} else {
			read++
		}
	}
	resp := api.MessagesQueryResponse{
		Status: api.StatusOK, UnreadResult: &unread, ReadResult: &read,
		Page: page, TotalPaging: max1((len(hits) + count - 1) / count), NbTotalPerPage: count, NbTotalResult: len(hits),
	}
	for _, m := range hits[min2((page-1)*count, len(hits)):min2(page*count, len(hits))] {
		resp.Messages = append(resp.Messages, m.listed())
	}
	s.mu.Unlock()
	s.writeXML(w, resp)
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

func min2(a, b int) int {
	if a < b {
		return a
	}
	return b
}

func (s *Server) serveUpdate(w http.ResponseWriter, sh *shopState, u api.MessagesUpdate) {
	const service = api.ServiceMessagesUpdate
	if len(u.Messages) == 0 {
		s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: Element messages_update: Missing child element(s)")
		return
	}
	for _, m := range u.Messages {
		if !slices.Contains(actions, m.Action) || !enumOK(m.To, toTypes) || !enumOK(m.Subject, subjects) || !enumOK(m.Type, msgTypes) {
			s.fail(w, service, api.StatusFatal, CodeEnumeration, "XML Schema Validation failed: [facet 'enumeration']")
			return
		}
		if m.ID == "" {
			s.fail(w, service, api.StatusFatal, CodeValidation, "XML Validation failed: Element message: The attribute 'id' is required")
			return
		}
	}
	s.mu.Lock()
	resp := api.MessagesUpdateResponse{Status: api.StatusOK}
	now := s.opts.Now()
	for _, in := range u.Messages {
		st := api.MessageStatus{Status: api.StatusOK, ID: in.ID}
		if err := s.apply(sh, in, now); err != nil {
			st.Status = api.StatusError
			st.Errors = []api.Error{*err}
			resp.Status = api.StatusError
		}
		resp.Messages = append(resp.Messages, st)
	}
	s.mu.Unlock()
	s.writeXML(w, resp)
}

// apply performs one message action, under s.mu.
func (s *Server) apply(sh *shopState, in api.MessageUpdate, now time.Time) *api.Error {
	refuse := func(code, text string) *api.Error {
		return &api.Error{Severity: api.StatusError, Code: code, Text: text}
	}
	i := slices.IndexFunc(sh.messages, func(m *message) bool { return strings.EqualFold(m.ID, in.ID) })
	if i < 0 {
		return refuse(CodeUnknownMessage, "Message not found")
	}
	m := sh.messages[i]
	// Whether marking read or archiving moves a message's updated_at is
	// UNVERIFIED: the fake moves it, the harder case for a listing by
	// update time (a message read mid-listing moves to its end).
	switch in.Action {
	case api.ActionMarkAsRead:
		m.State, m.updated = api.StateRead, now
	case api.ActionMarkAsUnread:
		m.State, m.updated = api.StateUnread, now
	case api.ActionArchive:
		m.Archived, m.updated = api.True, now
	case api.ActionUnarchive:
		m.Archived, m.updated = api.False, now
	case api.ActionMarkAsReadAndArchive:
		m.State, m.Archived, m.updated = api.StateRead, api.True, now
	case api.ActionReply:
		switch {
		case in.To == "":
			return refuse(CodeValidation, "message_to is required to reply")
		case strings.TrimSpace(in.Description) == "":
			return refuse(CodeValidation, "message_description is required to reply")
		case utf8.RuneCountInString(in.Description) > api.MaxReplyChars:
			return refuse(CodeValidation, fmt.Sprintf("message_description is longer than %d characters", api.MaxReplyChars))
		case m.From.Type == api.FromSeller:
			return refuse(CodeValidation, "cannot reply to the seller's own message")
		case in.To != api.ToClient && (m.Referer.Type != api.TypeOrder || !sh.incidents[m.Referer.ID]):
			return refuse(CodeNoIncident, "Sending a message to the call center is allowed only if the order is in incident status")
		}
		reply := &message{created: now, updated: now, parent: m.ID, to: in.To}
		reply.ID = uuid()
		reply.State, reply.Archived = api.StateRead, api.False
		reply.Referer = m.Referer
		reply.From = &api.From{Type: api.FromSeller, Name: sh.Name}
		reply.Subject, reply.Description, reply.OfferTitle = cmp.Or(in.Subject, api.SubjectOtherQuestion), in.Description, m.OfferTitle
		sh.messages = append(sh.messages, reply)
		sh.sent = append(sh.sent, Sent{MessageID: reply.ID, ParentID: m.ID, To: in.To, Subject: in.Subject, Type: in.Type, Body: in.Description})
	default:
		return refuse(CodeValidation, "action "+in.Action+" is not supported here")
	}
	return nil
}
