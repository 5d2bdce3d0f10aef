// Package amazon is the bridge's connector to the orders of one Amazon
// seller account in one SP-API region, through the Selling Partner API's
// Orders API v0. Amazon has no API for buyer messages (they go through
// Amazon's e-mail relay: see the reference notes), so this connector is
// only a connectors.OrderLister, with GetOrder for one order: it feeds the
// order widget and tells whose an order is.
//
// Sources: Amazon's models in amzn/selling-partner-api-models
// (models/orders-api-model/ordersV0.json, models/tokens-api-model/
// tokens_2021-03-01.json), developer-docs.amazon.com/sp-api ("Usage Plans
// and Rate Limits", "Connecting to the SP-API"), and Amazon's answers in
// that repository's issues, cited where used. The fake in amazonfake
// states every rule with its source and what is UNVERIFIED.
//
// How it works, and why:
//   - Authentication is Login with Amazon: the seller's refresh token is
//     exchanged (grant_type=refresh_token, form-encoded, as Amazon's own
//     clients do) for an access token sent in x-amz-access-token. It is
//     cached and renewed five minutes before its expires_in; a 403 whose
//     details say the token expired or was revoked (code "Unauthorized",
//     models issues #2147, #4122) renews it and tries once more. LWA
//     refusing the refresh token or the client is connectors.
//     ErrUnauthorized: an operator must authorise the application again.
//     Other 403s (the application lacks a role) are ErrForbidden.
//   - ListOrders is getOrders with LastUpdatedAfter (the port's
//     UpdatedSince, to the second, never later than asked) and
//     MarketplaceIds, then getOrderItems for each order's lines. The
//     port's page token carries Amazon's NextToken with the filters, which
//     are sent again with it (the spec: "NextToken doesn't affect any
//     filters").
//   - Rate limits are Amazon's token buckets, per operation: getOrders
//     0.0167/s burst 20, getOrder and getOrderItems 0.5/s burst 30,
//     createRestrictedDataToken 1/s burst 10 (spec tables), with the rate
//     Amazon states in x-amzn-RateLimit-Limit adopted as it comes. The
//     client never sleeps: a call the bucket cannot afford is not sent and
//     returns a *connectors.DeferredError saying when to come back, and a
//     429 (code QuotaExceeded; no Retry-After is documented) returns a
//     *connectors.RateLimitedError with one token's refill as the wait.
//     With Options.Limiter the buckets are the shared limiter's, keyed
//     LimiterKey+":"+operation, so that replicas share them.
//   - A page is at most 30 orders (MaxOrderPage), one getOrderItems burst,
//     so that a page's lines fit Amazon's budget: getOrders' 1 call a
//     minute then brings 30 orders a minute, and getOrderItems' 0.5/s
//     reads their lines. When the items budget runs out part-way, the page
//     is deferred until enough tokens are back; the orders and lines read
//     so far are kept in memory, so coming back costs no second getOrders
//     and no second getOrderItems (on this replica).
//   - Buyer data is restricted (spec: "BuyerInfo contains restricted data.
//     Use the Restricted Data Token (RDT)"). Without Options.RestrictedData
//     the connector never asks for it: orders come without CustomerEmail
//     or CustomerName, and the bridge's order sync skips orders without an
//     email, so nothing is guessed. With it, the connector asks the Tokens
//     API for an RDT covering buyerInfo on the path it reads (one for
//     getOrders' "/orders/v0/orders", one per order for getOrder), caches
//     it for its expiresIn, and sends it instead of the access token. The
//     application needs a restricted role for that (Tax Invoicing or Tax
//     Remittance per Amazon, models issue #4536); without it the RDT is
//     refused and every call fails with ErrForbidden, loudly, rather than
//     quietly syncing orders nobody can match. Amazon gives BuyerEmail (the
//     anonymised relay address) only once an order is paid (#4536).
//   - Statuses: see OrderStatus. Amazon's orders take no acceptance, so
//     the connector is not a connectors.OrderActor and offers no actions.
//   - Amounts are Amazon's decimal strings, as written.
package amazon

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
)

const defaultTimeout = 30 * time.Second

// DefaultLWAURL is Login with Amazon's token endpoint.
const DefaultLWAURL = "https://api.amazon.com/auth/o2/token"

// MaxOrderPage is the largest page ListOrders reads: one getOrderItems
// burst.
const MaxOrderPage = 30

// allOrders is the LastUpdatedAfter of a listing of everything: the spec
// notes that LastUpdateDate is wrong for orders last updated before it.
var allOrders = time.Date(2009, 4, 1, 0, 0, 0, 0, time.UTC)

// Options configures a Client.
type Options struct {
	// BaseURL is the region's SP-API endpoint, e.g.
	// https://sellingpartnerapi-eu.amazon.com.
	BaseURL string
	// LWAURL is the LWA token endpoint; "" means DefaultLWAURL.
	LWAURL string
	// ClientID and ClientSecret are the application's LWA credentials;
	// RefreshToken is the seller's authorisation of the application.
	ClientID     string
	ClientSecret string
	RefreshToken string
	// MarketplaceIDs are the marketplaces whose orders are listed, e.g.
	// A13V1IB3VIYZZH for amazon.fr; at least one, at most 50.
	MarketplaceIDs []string
	// RestrictedData asks for restricted data tokens so that orders carry
	// the buyer's anonymised e-mail and name. The application needs a
	// restricted role for it.
	RestrictedData bool
	// HTTPClient sends the requests; nil means a client with a 30 s
	// timeout. The bridge passes one whose Transport is the shared
	// connectors.Transport.
	HTTPClient *http.Client
	// Limiter, when set, paces each operation under the key
	// LimiterKey+":"+operation instead of the client's own buckets, so
	// that every replica shares Amazon's budget; Penalize is told of 429s.
	Limiter    connectors.Limiter
	LimiterKey string
	// Now is the clock: token expiry, buckets, Retry-After dates.
	Now func() time.Time
}

// Client is one seller account's orders. It is safe for concurrent use.
type Client struct {
	base           string
	lwaURL         string
	clientID       string
	clientSecret   string
	refreshToken   string
	marketplaceIDs []string
	restricted     bool
	hc             *http.Client
	limiter        connectors.Limiter
	limiterKey     string
	now            func() time.Time

	tok     tokens
	buckets buckets
	cache   cache
}

var _ connectors.OrderLister = (*Client)(nil)

// New returns a client for one seller account.
func New(opts Options) (*Client, error) {
	u, err := url.Parse(opts.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return nil, errors.New("amazon: BaseURL must be an http(s) URL such as https://sellingpartnerapi-eu.amazon.com")
	}
	lwa := cmp.Or(opts.LWAURL, DefaultLWAURL)
	if lu, err := url.Parse(lwa); err != nil || (lu.Scheme != "https" && lu.Scheme != "http") || lu.Host == "" {
		return nil, errors.New("amazon: LWAURL must be an http(s) URL")
	}
	if opts.ClientID == "" || opts.ClientSecret == "" || opts.RefreshToken == "" {
		return nil, errors.New("amazon: ClientID, ClientSecret and RefreshToken are required")
	}
	if len(opts.MarketplaceIDs) == 0 || len(opts.MarketplaceIDs) > 50 {
		return nil, errors.New("amazon: between 1 and 50 MarketplaceIDs are required")
	}
	for _, m := range opts.MarketplaceIDs {
		if !marketplaceID.MatchString(m) {
			return nil, fmt.Errorf("amazon: %q is not a marketplace id", m)
		}
	}
	if opts.Limiter != nil && opts.LimiterKey == "" {
		return nil, errors.New("amazon: LimiterKey is required with a Limiter")
	}
	c := &Client{
		base: strings.TrimRight(u.String(), "/"), lwaURL: lwa,
		clientID: opts.ClientID, clientSecret: opts.ClientSecret, refreshToken: opts.RefreshToken,
		marketplaceIDs: append([]string(nil), opts.MarketplaceIDs...), restricted: opts.RestrictedData,
		hc: opts.HTTPClient, limiter: opts.Limiter, limiterKey: opts.LimiterKey, now: opts.Now,
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: defaultTimeout}
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.tok.rdts = map[string]token{}
	c.buckets.b = map[string]*bucket{}
	c.cache.pages = map[string]cachedPage{}
	c.cache.items = map[string]cachedLines{}
	return c, nil
}

var (
	marketplaceID = regexp.MustCompile(`^[A-Z0-9]{5,20}$`)
	orderID       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,63}$`)
)

// OrderStatus normalises an Amazon OrderStatus (spec's enum):
//   - Pending (placed, payment not authorised) and PendingAvailability (a
//     pre-order not released yet) are new: nothing to ship yet. Amazon
//     takes no acceptance, so no action goes with it.
//   - Unshipped (paid, ready to ship) and PartiallyShipped are in progress.
//   - Shipped and InvoiceUnconfirmed (everything shipped, the invoice not
//     confirmed yet) are shipped.
//   - Canceled is canceled; so is Unfulfillable, an order Amazon "cannot
//     fulfill" (Multi-Channel Fulfillment only): it will not ship. Whether
//     it is final is UNVERIFIED.
//   - Any other status is undefined.
func OrderStatus(s string) connectors.OrderStatus {
	switch s {
	case "":
		return connectors.OrderNotProvided
	case "Pending", "PendingAvailability":
		return connectors.OrderNew
	case "Unshipped", "PartiallyShipped":
		return connectors.OrderInProgress
	case "Shipped", "InvoiceUnconfirmed":
		return connectors.OrderShipped
	case "Canceled", "Unfulfillable":
		return connectors.OrderCanceled
	}
	return connectors.OrderUndefined
}

// ---- wire shapes (spec's definitions) ----

type money struct {
	CurrencyCode string `json:"CurrencyCode"`
	Amount       string `json:"Amount"`
}

type wireOrder struct {
	AmazonOrderID  string `json:"AmazonOrderId"`
	PurchaseDate   string `json:"PurchaseDate"`
	LastUpdateDate string `json:"LastUpdateDate"`
	OrderStatus    string `json:"OrderStatus"`
	OrderTotal     *money `json:"OrderTotal"`
	BuyerInfo      *struct {
		BuyerEmail string `json:"BuyerEmail"`
		BuyerName  string `json:"BuyerName"`
	} `json:"BuyerInfo"`
}

type wireItem struct {
	OrderItemID     string `json:"OrderItemId"`
	SellerSKU       string `json:"SellerSKU"`
	ASIN            string `json:"ASIN"`
	Title           string `json:"Title"`
	QuantityOrdered int    `json:"QuantityOrdered"`
	QuantityShipped int    `json:"QuantityShipped"`
	ItemPrice       *money `json:"ItemPrice"`
	// ShippingPrice and PromotionDiscount, for invoices: each item's
	// share of the delivery, and what a promotion took off it.
	ShippingPrice     *money `json:"ShippingPrice"`
	PromotionDiscount *money `json:"PromotionDiscount"`
}

type ordersAnswer struct {
	Payload struct {
		Orders    []wireOrder `json:"Orders"`
		NextToken string      `json:"NextToken"`
	} `json:"payload"`
}

type itemsAnswer struct {
	Payload struct {
		OrderItems []wireItem `json:"OrderItems"`
		NextToken  string     `json:"NextToken"`
	} `json:"payload"`
}

// pageToken is the port's page token: Amazon's NextToken and the filters
// that go with it.
type pageToken struct {
	After string `json:"a"`
	Next  string `json:"n"`
	Limit int    `json:"l"`
}

func (p pageToken) encode() string {
	return connectors.EncodePageToken(p)
}

func decodePageToken(s string) (pageToken, error) {
	var p pageToken
	err := connectors.DecodePageToken(s, &p)
	if err != nil || p.After == "" || p.Next == "" || p.Limit < 1 || p.Limit > MaxOrderPage {
		return pageToken{}, fmt.Errorf("%w: not a page token of this connector", connectors.ErrInvalid)
	}
	return p, nil
}

// amazonTime writes t as getOrders takes it: UTC, to the second, never
// later than t.
func amazonTime(t time.Time) string {
	return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z")
}

// ListOrders returns one page of the orders updated at or after
// q.UpdatedSince, with their lines.
func (c *Client) ListOrders(ctx context.Context, q connectors.OrderQuery) (connectors.OrderPage, error) {
	fail := func(err error) (connectors.OrderPage, error) {
		return connectors.OrderPage{}, fmt.Errorf("amazon: list orders: %w", err)
	}
	p := pageToken{}
	if q.PageToken != "" {
		var err error
		if p, err = decodePageToken(q.PageToken); err != nil {
			return fail(err)
		}
	} else {
		p.Limit = MaxOrderPage
		if q.Limit > 0 {
			p.Limit = min(q.Limit, MaxOrderPage)
		}
		p.After = amazonTime(cmp.Or(q.UpdatedSince, allOrders))
	}
	key := p.encode()
	page, ok := c.cache.page(key, c.now())
	if !ok {
		query := url.Values{
			"MarketplaceIds":    {strings.Join(c.marketplaceIDs, ",")},
			"LastUpdatedAfter":  {p.After},
			"MaxResultsPerPage": {strconv.Itoa(p.Limit)},
		}
		if p.Next != "" {
			query.Set("NextToken", p.Next)
		}
		var ans ordersAnswer
		if err := c.do(ctx, call{op: OpGetOrders, method: http.MethodGet, path: "/orders/v0/orders", query: query, rdt: c.restricted}, &ans); err != nil {
			return fail(err)
		}
		page = cachedPage{orders: ans.Payload.Orders, next: ans.Payload.NextToken, at: c.now()}
		c.cache.putPage(key, page)
	}
	out := connectors.OrderPage{Total: -1}
	for i, w := range page.orders {
		o, err := toOrder(w)
		if err != nil {
			return fail(err)
		}
		lines, err := c.lines(ctx, w)
		if err != nil {
			if d, ok := connectors.Deferred(err); ok && c.limiter == nil {
				// Come back when the rest of the page's lines fit the
				// bucket, not after every single token.
				rest := len(page.orders) - i
				d.Until = c.now().Add(c.buckets.waitFor(OpGetOrderItems, rest, c.now()))
			}
			return fail(fmt.Errorf("order %s: %w", w.AmazonOrderID, err))
		}
		o.Lines, o.ShippingPrice = toLines(lines, o.Status), shippingOf(lines)
		out.Orders = append(out.Orders, o)
	}
	c.cache.dropPage(key)
	if page.next != "" {
		out.NextPageToken = pageToken{After: p.After, Next: page.next, Limit: p.Limit}.encode()
	}
	return out, nil
}

// GetOrder returns one of the seller's orders with its lines, or
// connectors.ErrNotFound. With RestrictedData it costs an RDT for the
// order's path as well.
func (c *Client) GetOrder(ctx context.Context, id string) (connectors.Order, error) {
	fail := func(err error) (connectors.Order, error) {
		return connectors.Order{}, fmt.Errorf("amazon: get order %s: %w", id, err)
	}
	if !orderID.MatchString(id) {
		return fail(fmt.Errorf("%w: not an order id", connectors.ErrNotFound))
	}
	var ans struct {
		Payload wireOrder `json:"payload"`
	}
	cl := call{op: OpGetOrder, method: http.MethodGet, path: "/orders/v0/orders/" + url.PathEscape(id), rdt: c.restricted}
	if err := c.do(ctx, cl, &ans); err != nil {
		return fail(err)
	}
	o, err := toOrder(ans.Payload)
	if err != nil {
		return fail(err)
	}
	lines, err := c.lines(ctx, ans.Payload)
	if err != nil {
		return fail(err)
	}
	o.Lines, o.ShippingPrice = toLines(lines, o.Status), shippingOf(lines)
	return o, nil
}

// lines reads an order's items, all their pages, unless this version of
// the order was read already.
func (c *Client) lines(ctx context.Context, w wireOrder) ([]wireItem, error) {
	if items, ok := c.cache.orderItems(w.AmazonOrderID, w.LastUpdateDate); ok {
		return items, nil
	}
	var items []wireItem
	next := ""
	for pages := 0; ; pages++ {
		if pages > 100 {
			return nil, fmt.Errorf("%w: order items never end", connectors.ErrUnavailable)
		}
		cl := call{op: OpGetOrderItems, method: http.MethodGet, path: "/orders/v0/orders/" + url.PathEscape(w.AmazonOrderID) + "/orderItems"}
		if next != "" {
			cl.query = url.Values{"NextToken": {next}}
		}
		var ans itemsAnswer
		if err := c.do(ctx, cl, &ans); err != nil {
			return nil, err
		}
		items = append(items, ans.Payload.OrderItems...)
		if next = ans.Payload.NextToken; next == "" {
			break
		}
	}
	c.cache.putLines(w.AmazonOrderID, w.LastUpdateDate, items)
	return items, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: undecodable date %q", connectors.ErrUnavailable, s)
	}
	return t, nil
}

func toOrder(w wireOrder) (connectors.Order, error) {
	created, err := parseTime(w.PurchaseDate)
	if err != nil {
		return connectors.Order{}, err
	}
	updated, err := parseTime(w.LastUpdateDate)
	if err != nil {
		return connectors.Order{}, err
	}
	o := connectors.Order{
		ID: w.AmazonOrderID, CommercialID: w.AmazonOrderID, State: w.OrderStatus, Status: OrderStatus(w.OrderStatus),
		CreatedAt: created, UpdatedAt: updated,
	}
	if w.OrderTotal != nil {
		o.Total, o.Currency = w.OrderTotal.Amount, w.OrderTotal.CurrencyCode
	}
	if w.BuyerInfo != nil {
		o.CustomerEmail, o.CustomerName = w.BuyerInfo.BuyerEmail, w.BuyerInfo.BuyerName
	}
	return o, nil
}

// shippingOf sums the items' shipping prices, exactly; "" when an item
// has none or an unreadable one.
func shippingOf(items []wireItem) string {
	sum := new(big.Rat)
	for _, it := range items {
		if it.ShippingPrice == nil {
			return ""
		}
		p, ok := new(big.Rat).SetString(strings.TrimSpace(it.ShippingPrice.Amount))
		if !ok {
			return ""
		}
		sum.Add(sum, p)
	}
	if len(items) == 0 {
		return ""
	}
	return sum.FloatString(2)
}

// toLines maps items. A line is shipped once all its units are; a
// cancelled order's lines are cancelled, for the units not shipped.
func toLines(items []wireItem, status connectors.OrderStatus) []connectors.OrderLine {
	var out []connectors.OrderLine
	for _, it := range items {
		l := connectors.OrderLine{
			ID: it.OrderItemID, SKU: cmp.Or(it.SellerSKU, it.ASIN), Title: it.Title, Quantity: it.QuantityOrdered, Status: status,
		}
		if it.ItemPrice != nil {
			l.Price = it.ItemPrice.Amount
		}
		if it.PromotionDiscount != nil && it.PromotionDiscount.Amount != "" {
			l.Discount = it.PromotionDiscount.Amount
		}
		switch {
		case status == connectors.OrderCanceled:
			l.Canceled = max(0, it.QuantityOrdered-it.QuantityShipped)
		case it.QuantityOrdered > 0 && it.QuantityShipped >= it.QuantityOrdered:
			l.Status = connectors.OrderShipped
		}
		out = append(out, l)
	}
	return out
}

// ---- memory of a page being read ----

// pageTTL bounds how long a getOrders answer is kept for a page deferred
// part-way: past it, the page is read again.
const pageTTL = 10 * time.Minute

type cache struct {
	mu    sync.Mutex
	pages map[string]cachedPage
	items map[string]cachedLines
}

type cachedPage struct {
	orders []wireOrder
	next   string
	at     time.Time
}

type cachedLines struct {
	updated string
	items   []wireItem
}

func (c *cache) page(key string, now time.Time) (cachedPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pages[key]
	if ok && now.Sub(p.at) > pageTTL {
		delete(c.pages, key)
		return cachedPage{}, false
	}
	return p, ok
}

func (c *cache) putPage(key string, p cachedPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pages) > 64 {
		clear(c.pages)
	}
	c.pages[key] = p
}

func (c *cache) dropPage(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.pages, key)
}

func (c *cache) orderItems(id, updated string) ([]wireItem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.items[id]
	return l.items, ok && l.updated == updated
}

func (c *cache) putLines(id, updated string, items []wireItem) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.items) > 10000 {
		clear(c.items)
	}
	c.items[id] = cachedLines{updated: updated, items: items}
}
