package rakutenfake

import (
	"bytes"
	"cmp"
	"crypto/subtle"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors/fault"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
	"github.com/helpdesk-bridge/bridge/connectors/xmlsafe"
)

// Namespaces of the answers, as the samples have them.
const (
	NSError           = "http://pmcdn.priceminister.com/res/schema/error"
	NSGetNewSales     = "http://pmcdn.priceminister.com/res/schema/getnewsales"
	NSGetCurrentSales = "http://pmcdn.priceminister.com/res/schema/getcurrentsales"
	NSGetItemInfos    = "http://www.priceminister.com/res/schema/getiteminfos"
	NSAcceptSale      = "https://fr.shopping.rakuten.com/res/schema/acceptsale"
	NSCancelItem      = "http://www.priceminister.com/res/schema/cancelitem"
	NSSetTracking     = "http://akamai.pminteg.fr/res/schema/settrackingpackageinfos"
	NSBilling         = "http://www.priceminister.com/res/schema/getbillinginformation"
	NSRefuseSale      = "https://fr.shopping.rakuten.com/res/schema/refusesale" // UNVERIFIED
)

// Windows, from the official pages (see the package doc).
const (
	BuyerAfterReceipt   = 15 * 24 * time.Hour
	BuyerAfterOrder     = 42 * 24 * time.Hour
	RakutenAfterReceipt = 30 * 24 * time.Hour
)

// DefaultPageSize is getcurrentsales's page size (UNVERIFIED).
const DefaultPageSize = 100

// RakutenSender is how Rakuten's customer service signs its mails (the
// sample's is PriceMinister).
const RakutenSender = "Rakuten"

// supported lists the versions accepted per action: pmws's and shiba's.
var supported = map[string][]string{
	api.ActionGetNewSales:           {"2017-08-07", "2014-02-11"},
	api.ActionGetCurrentSales:       {"2021-10-29", "2017-08-07", "2014-02-11"},
	api.ActionAcceptSale:            {"2010-09-20", "2021-04-08"},
	api.ActionRefuseSale:            {"2010-09-20"},
	api.ActionGetItemTodoList:       {"2011-09-01"},
	api.ActionGetItemInfos:          {"2017-08-07", "2011-02-02"},
	api.ActionContactUserAboutItem:  {"2011-02-02"},
	api.ActionContactUsAboutItem:    {"2011-09-01"},
	api.ActionSetTrackingPackage:    {"2016-03-16", "2012-11-06"},
	api.ActionCancelItem:            {"2011-02-02"},
	api.ActionGetBillingInformation: {"2016-03-16", "2011-03-29"},
}

// Options configures a fake.
type Options struct {
	Accounts []Account
	// PathPrefix mounts the service below a prefix: <prefix>/sales_ws.
	PathPrefix string
	// PageSize is getcurrentsales's page size; 0 means DefaultPageSize.
	PageSize int
	// QuotaPerHour, when set, refuses an account's requests past it in a
	// clock hour with InvalidUserRights "Quota exceeded." (Rakuten's
	// numbers are UNVERIFIED).
	QuotaPerHour int
	// Now is the fake's clock.
	Now func() time.Time
}

// Account is one seller: its login and token (the pwd parameter).
type Account struct {
	Login, Token, SellerID string
}

// SaleSeed is a purchase as a buyer makes it.
type SaleSeed struct {
	PurchaseID string
	Date       time.Time // zero means now
	BuyerLogin string
	BuyerEmail string
	FirstName  string
	LastName   string
	Items      []ItemSeed
}

// ItemSeed is one item of a purchase.
type ItemSeed struct {
	ItemID, SKU, Headline string
	Price, Currency       string
	// Status is the item's itemstatus; "" is TO_CONFIRM.
	Status string
}

// Sent is a message the seller sent.
type Sent struct {
	ItemID string
	// Action is contactuseraboutitem (to the buyer) or contactusaboutitem
	// (to Rakuten).
	Action       string
	MailParentID string
	Content      string
	At           time.Time
}

// Tracking is what settrackingpackageinfos set on an item.
type Tracking struct {
	Transporter, Number, URL string
}

// ItemView is an item as tests look at it.
type ItemView struct {
	ItemID, PurchaseID, Status string
	Tracking                   Tracking
	CancelComment              string
}

type message struct {
	sender, recipient, content, status string
	at                                 time.Time
}

type mail struct {
	id                                         string
	sender, recipient, object, content, status string
	at                                         time.Time
}

type item struct {
	ItemSeed
	purchase *purchase
	received time.Time
	claim    *api.Claim
	messages []message
	mails    []mail
	logs     []api.ItemLog
	tracking Tracking
	comment  string
}

type purchase struct {
	SaleSeed
	items []*item
}

type account struct {
	Account
	purchases []*purchase
	items     map[string]*item
	sent      []Sent
	hour      time.Time
	inHour    int
}

// Server is a fake of Rakuten France's sales_ws. It is safe for
// concurrent use.
type Server struct {
	opts   Options
	faults fault.Injector
	mux    http.Handler

	mu       sync.Mutex
	accounts map[string]*account // by login
	nextMail int
	calls    map[string]int
}

// New returns a fake with opts' accounts and no sales.
func New(opts Options) *Server {
	opts.PageSize = cmp.Or(opts.PageSize, DefaultPageSize)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, accounts: map[string]*account{}, nextMail: 2906818102, calls: map[string]int{}}
	for _, a := range opts.Accounts {
		s.accounts[a.Login] = &account{Account: a, items: map[string]*item{}}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+opts.PathPrefix+api.Path, s.serve)
	s.mux = s.faults.Middleware(mux)
	return s
}

// Faults is the injector in front of the fake.
func (s *Server) Faults() *fault.Injector { return &s.faults }

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Calls is how many requests of an action the fake answered, refused ones
// included.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

func (s *Server) account(login string) (*account, error) {
	a := s.accounts[login]
	if a == nil {
		return nil, fmt.Errorf("no account %s", login)
	}
	return a, nil
}

func (s *Server) item(login, itemID string) (*item, error) {
	a, err := s.account(login)
	if err != nil {
		return nil, err
	}
	it := a.items[itemID]
	if it == nil {
		return nil, fmt.Errorf("no item %s", itemID)
	}
	return it, nil
}

// PutSale adds or replaces a purchase and its items.
func (s *Server) PutSale(login string, seed SaleSeed) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(login)
	if err != nil {
		return err
	}
	if seed.PurchaseID == "" || len(seed.Items) == 0 {
		return fmt.Errorf("a sale needs an id and items")
	}
	if seed.Date.IsZero() {
		seed.Date = s.opts.Now()
	}
	p := &purchase{SaleSeed: seed}
	for _, is := range seed.Items {
		is.Status = cmp.Or(is.Status, api.StatusToConfirm)
		is.Currency = cmp.Or(is.Currency, "EUR")
		it := &item{ItemSeed: is, purchase: p}
		if old := a.items[is.ItemID]; old != nil {
			it.messages, it.mails, it.claim, it.received = old.messages, old.mails, old.claim, old.received
		}
		it.logs = []api.ItemLog{{CreationDate: api.FormatTime(seed.Date), Code: api.LogItemRequested, Description: "Commande de l'article."}}
		a.items[is.ItemID] = it
		p.items = append(p.items, it)
	}
	a.purchases = slices.DeleteFunc(a.purchases, func(o *purchase) bool { return o.PurchaseID == seed.PurchaseID })
	a.purchases = append(a.purchases, p)
	return nil
}

// SetStatus moves an item to an itemstatus, as Rakuten, the buyer or
// time would (SHIPPED to CLOSED, say).
func (s *Server) SetStatus(login, itemID, status string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.item(login, itemID)
	if err != nil {
		return err
	}
	it.Status = status
	return nil
}

// AddBuyerMessage adds an unread message from the item's buyer.
func (s *Server) AddBuyerMessage(login, itemID, content string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(login)
	if err != nil {
		return err
	}
	it, err := s.item(login, itemID)
	if err != nil {
		return err
	}
	it.messages = append(it.messages, message{sender: it.purchase.BuyerLogin, recipient: a.Login, content: content, status: api.MessageUnread, at: s.at(at)})
	return nil
}

// AddMail adds an unread mail from Rakuten's customer service and returns
// its mailid.
func (s *Server) AddMail(login, itemID, object, content string, at time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.account(login)
	if err != nil {
		return "", err
	}
	it, err := s.item(login, itemID)
	if err != nil {
		return "", err
	}
	id := s.mailID()
	it.mails = append(it.mails, mail{id: id, sender: RakutenSender, recipient: a.Login, object: object, content: content, status: api.MessageUnread, at: s.at(at)})
	return id, nil
}

// OpenClaim opens the buyer's claim on an item.
func (s *Server) OpenClaim(login, itemID string, amicable bool, comment string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.item(login, itemID)
	if err != nil {
		return err
	}
	yn := "N"
	if amicable {
		yn = "Y"
	}
	now := s.opts.Now()
	it.claim = &api.Claim{CreationDate: api.FormatTime(now), Type: "DAMAGED", State: "NEW", Amicable: yn, Comment: comment}
	if amicable {
		it.logs = append(it.logs, api.ItemLog{CreationDate: api.FormatTime(now), Code: api.LogAmicableClaim, Description: "L'acheteur a ouvert une réclamation."})
	}
	return nil
}

// Age moves an item's order date, and its receipt when received is not
// zero (the buyer declared it received then), so as to open or close
// its contact windows.
func (s *Server) Age(login, itemID string, ordered, received time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.item(login, itemID)
	if err != nil {
		return err
	}
	it.purchase.Date = ordered
	it.received = received
	return nil
}

// Sent returns what the seller sent, oldest first.
func (s *Server) Sent(login string) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.accounts[login].sent)
}

// Item returns an item's state.
func (s *Server) Item(login, itemID string) (ItemView, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, err := s.item(login, itemID)
	if err != nil {
		return ItemView{}, false
	}
	return ItemView{ItemID: it.ItemID, PurchaseID: it.purchase.PurchaseID, Status: it.Status, Tracking: it.tracking, CancelComment: it.comment}, true
}

func (s *Server) at(t time.Time) time.Time {
	if t.IsZero() {
		return s.opts.Now()
	}
	return t
}

func (s *Server) mailID() string {
	s.nextMail++
	return strconv.Itoa(s.nextMail)
}

// refusal is an errorresponse to write.
type refusal struct {
	typ, code, message string
	details            []string
}

func parameterError(detail string) *refusal {
	return &refusal{typ: "Sender", code: api.CodeParameterError, message: "Problem with parameters.", details: []string{detail}}
}

func invalidParam(name string) *refusal {
	return parameterError(fmt.Sprintf("The parameter '%s' is invalid.", name))
}

func (s *Server) write(w http.ResponseWriter, v any) {
	data, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=ISO-8859-1")
	_, _ = w.Write([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?>` + "\n"))
	_, _ = w.Write(xmlsafe.EncodeLatin1(withNamespace(data)))
}

// namespaces are the answers' namespaces by root, for the types whose
// root is fixed by a tag (which marshals without one).
var namespaces = map[string]string{
	"getnewsalesresult":           NSGetNewSales,
	"getcurrentsalesresult":       NSGetCurrentSales,
	"getiteminfosresult":          NSGetItemInfos,
	"getbillinginformationresult": NSBilling,
	"errorresponse":               NSError,
}

// withNamespace puts the root's namespace on it, when it has none.
func withNamespace(data []byte) []byte {
	end := bytes.IndexAny(data, " >")
	if end < 1 || data[0] != '<' {
		return data
	}
	ns, ok := namespaces[string(data[1:end])]
	gt := bytes.IndexByte(data, '>')
	if !ok || bytes.Contains(data[:gt], []byte("xmlns=")) {
		return data
	}
	return slices.Concat(data[:end], []byte(` xmlns="`+ns+`"`), data[end:])
}

// The HTTP status of a refusal is UNVERIFIED: the fake answers 200, the
// harder case (a client must read the body to see it failed).
func (s *Server) refuse(w http.ResponseWriter, r *refusal) {
	s.write(w, api.ErrorResponse{
		XMLName: xml.Name{Space: NSError, Local: "errorresponse"},
		Errors:  []api.Error{{Type: r.typ, Code: r.code, Message: r.message, Details: r.details}},
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	action := q.Get(api.ParamAction)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[action]++
	login := q.Get(api.ParamLogin)
	switch {
	case login == "":
		s.refuse(w, parameterError("The parameter login is mandatory"))
		return
	case q.Get(api.ParamPwd) == "":
		s.refuse(w, parameterError("The parameter pwd is mandatory"))
		return
	}
	a := s.accounts[login]
	if a == nil || subtle.ConstantTimeCompare([]byte(a.Token), []byte(q.Get(api.ParamPwd))) != 1 {
		s.refuse(w, &refusal{typ: "Sender", code: api.CodeInvalidUserConnection, message: "Unknown user or password."})
		return
	}
	if s.overQuota(a) {
		s.refuse(w, &refusal{typ: "Sender", code: api.CodeInvalidUserRights, message: "Quota exceeded.",
			details: []string{"You have exceeded the maximum number of requests per hour. Please contact support.pro@priceminister.com for more information."}})
		return
	}
	versions, known := supported[action]
	if !known {
		s.refuse(w, invalidParam("action"))
		return
	}
	version := q.Get(api.ParamVersion)
	if version == "" {
		s.refuse(w, parameterError("The parameter version is mandatory"))
		return
	}
	if !slices.Contains(versions, version) {
		s.refuse(w, parameterError(fmt.Sprintf("The version %s is not supported", version)))
		return
	}
	req := api.Request{Version: version, User: login}
	var answer any
	var ref *refusal
	switch action {
	case api.ActionGetNewSales:
		answer = s.newSales(a, req)
	case api.ActionGetCurrentSales:
		answer, ref = s.currentSales(a, req, q)
	case api.ActionGetItemTodoList:
		answer = s.todoList(a, req)
	case api.ActionGetItemInfos:
		answer, ref = s.itemInfos(a, req, q)
	case api.ActionContactUserAboutItem, api.ActionContactUsAboutItem:
		answer, ref = s.contact(a, req, q, action)
	case api.ActionAcceptSale, api.ActionRefuseSale, api.ActionCancelItem, api.ActionSetTrackingPackage:
		answer, ref = s.act(a, req, q, action)
	case api.ActionGetBillingInformation:
		answer, ref = s.billing(a, req, q)
	}
	if ref != nil {
		s.refuse(w, ref)
		return
	}
	s.write(w, answer)
}

// overQuota counts a request in the account's clock hour.
func (s *Server) overQuota(a *account) bool {
	if s.opts.QuotaPerHour <= 0 {
		return false
	}
	hour := s.opts.Now().Truncate(time.Hour)
	if !hour.Equal(a.hour) {
		a.hour, a.inHour = hour, 0
	}
	a.inHour++
	return a.inHour > s.opts.QuotaPerHour
}

func (s *Server) sale(p *purchase, keep func(*item) bool) (api.Sale, bool) {
	out := api.Sale{
		PurchaseID: p.PurchaseID, PurchaseDate: api.FormatTime(p.Date),
		Delivery: api.DeliveryInformation{
			ShippingType: "Point relais Mondial Relay", IsFullRSL: "N", BuyerLogin: p.BuyerLogin, BuyerEmail: p.BuyerEmail,
			CollectionPoint: &api.Address{Civility: "M.", LastName: p.LastName, FirstName: p.FirstName, ID: "FR-084735", Name: "Relais du marché",
				Address: "3 place du Marché", ZipCode: "75003", City: "PARIS", Country: "France"},
			BillingAddress: &api.Address{Civility: "M.", LastName: p.LastName, FirstName: p.FirstName, Address1: "1 rue de la Paix", Address2: "Bâtiment B",
				ZipCode: "75002", City: "PARIS", Country: "France", CountryAlpha2: "FX", Phone1: "0600000000", Phone2: "0100000000"},
		},
	}
	for _, it := range p.items {
		if !keep(it) {
			continue
		}
		price := api.Amount{Amount: it.Price, Currency: it.Currency}
		out.Items = append(out.Items, api.SaleItem{
			SKU: it.SKU, AdvertID: "6" + it.ItemID, AdvertPriceListed: price, ItemID: it.ItemID, Headline: it.Headline,
			ItemStatus: it.Status, IsPreorder: "N", IsNego: "N", Price: price, IsRSL: "N", PaymentStatus: "INCOMING",
		})
	}
	return out, len(out.Items) > 0
}

func (s *Server) newSales(a *account, req api.Request) any {
	res := api.GetNewSalesResult{XMLName: xml.Name{Space: NSGetNewSales, Local: "getnewsalesresult"}, Request: req}
	res.Response.LastVersion, res.Response.SellerID = req.Version, a.SellerID
	for _, p := range a.purchases {
		if sale, ok := s.sale(p, func(it *item) bool { return it.Status == api.StatusToConfirm }); ok {
			res.Response.Sales = append(res.Response.Sales, sale)
		}
	}
	return res
}

// current are the statuses getcurrentsales lists: accepted items not
// done with (UNVERIFIED beyond ACCEPTED).
var current = []string{api.StatusAccepted, api.StatusCommitted, api.StatusOnHold, api.StatusShipped}

func (s *Server) currentSales(a *account, req api.Request, q url.Values) (any, *refusal) {
	token := q.Get(api.ParamNextToken)
	req.NextToken = &token
	req.IsPendingPreorder = "false"
	offset := 0
	if token != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(token, "NT"))
		if err != nil || !strings.HasPrefix(token, "NT") || n < 0 {
			return nil, invalidParam("nexttoken")
		}
		offset = n
	}
	var sales []api.Sale
	for _, p := range a.purchases {
		if sale, ok := s.sale(p, func(it *item) bool { return slices.Contains(current, it.Status) }); ok {
			sales = append(sales, sale)
		}
	}
	res := api.GetCurrentSalesResult{XMLName: xml.Name{Space: NSGetCurrentSales, Local: "getcurrentsalesresult"}, Request: req}
	res.Response.LastVersion, res.Response.SellerID = req.Version, a.SellerID
	end := min(offset+s.opts.PageSize, len(sales))
	next := ""
	if end < len(sales) {
		next = "NT" + strconv.Itoa(end)
	}
	res.Response.NextToken = &next
	if offset < len(sales) {
		res.Response.Sales = sales[offset:end]
	}
	return res, nil
}

func (s *Server) todoList(a *account, req api.Request) any {
	res := api.GetItemTodoListResult{XMLName: xml.Name{Local: "getitemtodolistresult"}, Request: req}
	res.Response.LastVersion, res.Response.SellerID = req.Version, a.SellerID
	for _, p := range a.purchases {
		for _, it := range p.items {
			var causes []string
			if it.claim != nil {
				causes = append(causes, api.CauseClaim)
			}
			if slices.ContainsFunc(it.mails, func(m mail) bool { return m.status == api.MessageUnread }) {
				causes = append(causes, api.CauseUnreadFromCustomerServ)
			}
			if slices.ContainsFunc(it.messages, func(m message) bool { return m.status == api.MessageUnread }) {
				causes = append(causes, api.CauseUnreadFromBuyer)
			}
			if len(causes) > 0 {
				res.Response.Items = append(res.Response.Items, api.TodoItem{ItemID: it.ItemID, Causes: causes})
			}
		}
	}
	return res
}

func (s *Server) itemOf(a *account, q url.Values) (*item, *refusal) {
	id := q.Get(api.ParamItemID)
	if id == "" {
		return nil, parameterError("The parameter itemid is mandatory")
	}
	it := a.items[id]
	if it == nil {
		return nil, invalidParam("itemid")
	}
	return it, nil
}

// buyerWindow and rakutenWindow say whether the seller may contact the
// buyer, or Rakuten, about it now (the package doc has the rules).
func (s *Server) buyerWindow(it *item) bool {
	now := s.opts.Now()
	if it.claim != nil {
		return it.claim.Amicable == "Y"
	}
	if !it.received.IsZero() && now.Sub(it.received) > BuyerAfterReceipt {
		return false
	}
	return now.Sub(it.purchase.Date) <= BuyerAfterOrder
}

func (s *Server) rakutenWindow(it *item) bool {
	return it.received.IsZero() || s.opts.Now().Sub(it.received) <= RakutenAfterReceipt
}

func (s *Server) itemInfos(a *account, req api.Request, q url.Values) (any, *refusal) {
	it, ref := s.itemOf(a, q)
	if ref != nil {
		return nil, ref
	}
	req.ItemID = it.ItemID
	res := api.GetItemInfosResult{XMLName: xml.Name{Space: NSGetItemInfos, Local: "getiteminfosresult"}, Request: req}
	res.Response.LastVersion, res.Response.SellerID = req.Version, a.SellerID
	info := api.ItemInfo{
		ItemID: it.ItemID, Date: api.FormatTime(it.purchase.Date), ItemStatus: it.Status,
		ItemState: it.Status, ItemStateLabel: it.Status, PaymentStatus: "Forthcoming", Claim: it.claim,
		Actions: &api.ActionList{},
	}
	if it.claim != nil && it.claim.Amicable == "Y" {
		info.ItemState = "CLAIMED_AMICABLE"
	}
	addAction := func(code, title string) {
		info.Actions.Actions = append(info.Actions.Actions, api.Action{Title: title, Description: title, Code: code})
	}
	if s.buyerWindow(it) {
		addAction(api.ActionContactUserAboutItem, "Contacter l'acheteur")
	}
	if s.rakutenWindow(it) {
		addAction(api.ActionContactUsAboutItem, "Contacter Rakuten")
	}
	if slices.Contains([]string{api.StatusAccepted, api.StatusCommitted, api.StatusOnHold}, it.Status) {
		addAction(api.ActionCancelItem, "Annuler la vente de cet article")
	}
	// Newest first, as in the sample; getiteminfos marks them read.
	for i := len(it.mails) - 1; i >= 0; i-- {
		m := &it.mails[i]
		info.Mails = append(info.Mails, api.Mail{MailID: m.id, SendDate: api.FormatTime(m.at), Sender: m.sender, Recipient: m.recipient, Object: m.object, Content: m.content, Status: m.status})
		if m.status == api.MessageUnread {
			m.status = api.MessageStatusRead
		}
	}
	for i := len(it.messages) - 1; i >= 0; i-- {
		m := &it.messages[i]
		info.Messages = append(info.Messages, api.Message{Sender: m.sender, Recipient: m.recipient, SendDate: api.FormatTime(m.at), Content: m.content, Status: m.status})
		if m.status == api.MessageUnread {
			m.status = api.MessageStatusRead
		}
	}
	logs := slices.Clone(it.logs)
	if !it.received.IsZero() {
		logs = append(logs, api.ItemLog{CreationDate: api.FormatTime(it.received), Code: api.LogItemReceived, Description: "L'acheteur a confirmé la réception."})
	}
	slices.Reverse(logs)
	info.Logs = logs
	res.Response.Item = info
	return res, nil
}

func (s *Server) contact(a *account, req api.Request, q url.Values, action string) (any, *refusal) {
	it, ref := s.itemOf(a, q)
	if ref != nil {
		return nil, ref
	}
	content := q.Get(api.ParamContent)
	switch {
	case strings.TrimSpace(content) == "":
		return nil, parameterError("The parameter content is mandatory")
	case utf8.RuneCountInString(content) > api.MaxContentChars:
		return nil, parameterError(fmt.Sprintf("The parameter content must not exceed %d characters", api.MaxContentChars))
	}
	now := s.opts.Now()
	req.ItemID, req.Content = it.ItemID, content
	root := "contactuseraboutitemresult"
	sent := Sent{ItemID: it.ItemID, Action: action, Content: content, At: now}
	if action == api.ActionContactUserAboutItem {
		if !s.buyerWindow(it) {
			return nil, parameterError("The buyer of this item can no longer be contacted.")
		}
		it.messages = append(it.messages, message{sender: a.Login, recipient: it.purchase.BuyerLogin, content: content, status: api.MessageSent, at: now})
	} else {
		root = "contactusaboutitemresult"
		parent := q.Get(api.ParamMailParentID)
		object := "Concernant l'article " + it.ItemID
		if parent != "" {
			i := slices.IndexFunc(it.mails, func(m mail) bool { return m.id == parent })
			if i < 0 {
				return nil, invalidParam("mailparentid")
			}
			object = "Re: " + it.mails[i].object
		}
		if !s.rakutenWindow(it) {
			return nil, parameterError("Rakuten can no longer be contacted about this item.")
		}
		req.MailParentID, sent.MailParentID = parent, parent
		it.mails = append(it.mails, mail{id: s.mailID(), sender: a.Login, recipient: RakutenSender, object: object, content: content, status: api.MessageSent, at: now})
	}
	a.sent = append(a.sent, sent)
	// The samples of these two answers have no namespace.
	return api.StatusResult{XMLName: xml.Name{Local: root}, Request: req, Response: api.StatusResponse{LastVersion: req.Version, Status: api.StatusSent}}, nil
}

// act performs an order action on an item, in the state it requires.
func (s *Server) act(a *account, req api.Request, q url.Values, action string) (any, *refusal) {
	it, ref := s.itemOf(a, q)
	if ref != nil {
		return nil, ref
	}
	req.ItemID = it.ItemID
	wrongState := parameterError(fmt.Sprintf("The item %s is %s: %s is not possible.", it.ItemID, it.Status, action))
	res := api.StatusResult{Request: req, Response: api.StatusResponse{LastVersion: req.Version}}
	switch action {
	case api.ActionAcceptSale, api.ActionRefuseSale:
		if it.Status != api.StatusToConfirm {
			return nil, wrongState
		}
		if action == api.ActionAcceptSale {
			it.Status = api.StatusAccepted
			it.logs = append(it.logs, api.ItemLog{CreationDate: api.FormatTime(s.opts.Now()), Code: api.LogItemCommitted, Description: "Vous avez confirmé la commande."})
			res.XMLName = xml.Name{Space: NSAcceptSale, Local: "saleacceptanceresult"}
			res.Response.Status = api.StatusAcceptedSale
		} else {
			it.Status = api.StatusRefused
			res.XMLName = xml.Name{Space: NSRefuseSale, Local: "refusesaleresult"}
			res.Response.Status = "Refused"
		}
	case api.ActionCancelItem:
		comment := q.Get(api.ParamComment)
		if strings.TrimSpace(comment) == "" {
			return nil, parameterError("The parameter comment is mandatory")
		}
		if !slices.Contains([]string{api.StatusAccepted, api.StatusCommitted, api.StatusOnHold}, it.Status) {
			return nil, wrongState
		}
		it.Status, it.comment = api.StatusCancelled, comment
		res.Request.Comment = comment
		res.XMLName = xml.Name{Space: NSCancelItem, Local: "cancelitemresult"}
		res.Response.Status = api.StatusCancelled
	case api.ActionSetTrackingPackage:
		t := Tracking{Transporter: q.Get(api.ParamTransporter), Number: q.Get(api.ParamTrackingNumber), URL: q.Get(api.ParamTrackingURL)}
		switch {
		case t.Transporter == "":
			return nil, parameterError("The parameter transporter_name is mandatory")
		case t.Number == "":
			return nil, parameterError("The parameter tracking_number is mandatory")
		case t.Transporter == api.TransporterOther && t.URL == "":
			return nil, parameterError("The parameter tracking_url is mandatory when transporter_name is Autre")
		}
		if !slices.Contains([]string{api.StatusAccepted, api.StatusCommitted, api.StatusShipped}, it.Status) {
			return nil, wrongState
		}
		it.Status, it.tracking = api.StatusShipped, t
		res.Request = api.Request{User: req.User, ItemID: it.ItemID, TrackingNumber: t.Number, TrackingURL: t.URL, TransporterName: t.Transporter, Version: req.Version}
		res.XMLName = xml.Name{Space: NSSetTracking, Local: "setshippingpackageinfosresult"}
		res.Response.Status = api.StatusOK
	}
	return res, nil
}

func (s *Server) billing(a *account, req api.Request, q url.Values) (any, *refusal) {
	id := q.Get(api.ParamPurchaseID)
	if id == "" {
		return nil, parameterError("The parameter purchaseid is mandatory")
	}
	i := slices.IndexFunc(a.purchases, func(p *purchase) bool { return p.PurchaseID == id })
	if i < 0 {
		return nil, invalidParam("purchaseid")
	}
	req.PurchaseID = id
	res := api.GetBillingInformationResult{XMLName: xml.Name{Space: NSBilling, Local: "getbillinginformationresult"}, Request: req}
	res.Response.SellerID, res.Response.LastVersion = a.SellerID, req.Version
	for _, it := range a.purchases[i].items {
		if it.Status == api.StatusToConfirm {
			continue // not confirmed: not billed yet
		}
		price := api.Amount{Amount: it.Price, Currency: it.Currency}
		res.Response.Items = append(res.Response.Items, api.BillingItem{
			ItemID: it.ItemID, SKU: it.SKU, Headline: it.Headline, Category: "Divers", ItemStatus: it.Status,
			ItemSalePrice: price, ShippingPrice: api.Amount{Amount: "0.0", Currency: it.Currency},
		})
	}
	return res, nil
}
