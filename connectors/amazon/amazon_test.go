package amazon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/amazon"
	"github.com/helpdesk-bridge/bridge/connectors/amazon/amazonfake"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

const (
	clientID     = "amzn1.application-oa2-client.test"
	clientSecret = "secret"
	refreshToken = "Atzr|refresh"
	frMarket     = "A13V1IB3VIYZZH"
)

// clock is a settable clock shared by the client and the fake: tests move
// time on instead of sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

type env struct {
	fake  *amazonfake.Server
	srv   *httptest.Server
	clock *clock
}

func newEnv(t *testing.T, opts amazonfake.Options) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	opts.ClientID, opts.ClientSecret = clientID, clientSecret
	opts.RefreshTokens = []string{refreshToken}
	opts.MarketplaceIDs = []string{frMarket}
	opts.Now = clk.Now
	fake := amazonfake.New(opts)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &env{fake: fake, srv: srv, clock: clk}
}

func (e *env) client(t *testing.T, edit ...func(*amazon.Options)) *amazon.Client {
	t.Helper()
	o := amazon.Options{
		BaseURL: e.srv.URL, LWAURL: e.srv.URL + "/auth/o2/token",
		ClientID: clientID, ClientSecret: clientSecret, RefreshToken: refreshToken,
		MarketplaceIDs: []string{frMarket},
		HTTPClient:     &http.Client{Timeout: time.Second},
		Now:            e.clock.Now,
	}
	for _, f := range edit {
		f(&o)
	}
	c, err := amazon.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func eur(a string) *amazonfake.Money { return &amazonfake.Money{CurrencyCode: "EUR", Amount: a} }

// seed puts n orders updated one second apart from base, two items each.
func seed(e *env, n int, base time.Time, status string) []string {
	var ids []string
	for i := range n {
		id := fmt.Sprintf("402-%07d-%07d", i, i)
		e.fake.PutOrder(amazonfake.Order{
			AmazonOrderID: id, PurchaseDate: base.Add(-time.Hour), LastUpdateDate: base.Add(time.Duration(i) * time.Second),
			OrderStatus: status, OrderTotal: eur("59.80"), BuyerEmail: fmt.Sprintf("b%03d@marketplace.amazon.fr", i), BuyerName: "Jeanne Test",
			Items: []amazonfake.Item{
				{OrderItemID: id + "-1", ASIN: "B000MUG001", SellerSKU: "MUG-1", Title: "Mug", QuantityOrdered: 2, ItemPrice: eur("39.90")},
				{OrderItemID: id + "-2", ASIN: "B000SAU002", Title: "Saucer", QuantityOrdered: 1, ItemPrice: eur("19.90")},
			},
		})
		ids = append(ids, id)
	}
	return ids
}

// listAll pages through a listing; a deferral moves the clock to its
// Until and tries again, as the bridge's task would come back then.
func listAll(t *testing.T, e *env, c *amazon.Client, q connectors.OrderQuery) (map[string]connectors.Order, int) {
	t.Helper()
	got := map[string]connectors.Order{}
	deferrals := 0
	for pages := 0; pages < 200; pages++ {
		page, err := c.ListOrders(t.Context(), q)
		if d, ok := connectors.Deferred(err); ok {
			if !d.Until.After(e.clock.Now()) || d.System != amazon.System {
				t.Fatalf("deferral %+v at %s", d, e.clock.Now())
			}
			deferrals++
			e.clock.Set(d.Until)
			continue
		}
		if err != nil {
			t.Fatalf("ListOrders: %v", err)
		}
		if len(page.Orders) > amazon.MaxOrderPage {
			t.Errorf("page of %d orders", len(page.Orders))
		}
		for _, o := range page.Orders {
			if _, dup := got[o.ID]; dup {
				t.Errorf("order %s listed twice", o.ID)
			}
			got[o.ID] = o
		}
		if page.NextPageToken == "" {
			return got, deferrals
		}
		q = connectors.OrderQuery{PageToken: page.NextPageToken}
	}
	t.Fatal("the listing found no end")
	return nil, 0
}

func TestListOrdersWithinAmazonsBudget(t *testing.T) {
	e := newEnv(t, amazonfake.Options{})
	base := e.clock.Now().Add(-3 * time.Hour)
	ids := seed(e, 70, base, amazonfake.StatusUnshipped)
	// Updated before the listing's start: left out.
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "402-9999999-9999999", LastUpdateDate: base.Add(-time.Hour), OrderStatus: amazonfake.StatusShipped})
	c := e.client(t)

	got, deferrals := listAll(t, e, c, connectors.OrderQuery{UpdatedSince: base, Limit: 100})
	t.Logf("%d deferrals", deferrals)
	if len(got) != len(ids) {
		t.Fatalf("listed %d orders, want %d", len(got), len(ids))
	}
	// 70 orders: three getOrders pages; their 70 getOrderItems calls need
	// 40 tokens beyond the burst, so the listing came back later at least
	// once, and never once too many: Amazon answered no 429.
	if n := e.fake.Requests(amazonfake.OpGetOrders); n != 3 {
		t.Errorf("getOrders called %d times, want 3: a deferred page must not be read again", n)
	}
	if n := e.fake.Requests(amazonfake.OpGetOrderItems); n != 70 {
		t.Errorf("getOrderItems called %d times, want 70", n)
	}
	if deferrals == 0 || e.fake.Throttled(amazonfake.OpGetOrderItems)+e.fake.Throttled(amazonfake.OpGetOrders) != 0 {
		t.Errorf("%d deferrals, %d+%d 429s: want deferrals and no 429", deferrals,
			e.fake.Throttled(amazonfake.OpGetOrders), e.fake.Throttled(amazonfake.OpGetOrderItems))
	}
	o := got[ids[5]]
	if o.Status != connectors.OrderInProgress || o.State != "Unshipped" || o.Total != "59.80" || o.Currency != "EUR" ||
		o.CommercialID != ids[5] || !o.UpdatedAt.Equal(base.Add(5*time.Second)) || len(o.Actions) != 0 {
		t.Errorf("order = %+v", o)
	}
	if len(o.Lines) != 2 || o.Lines[0].ID != ids[5]+"-1" || o.Lines[0].SKU != "MUG-1" || o.Lines[0].Quantity != 2 ||
		o.Lines[0].Price != "39.90" || o.Lines[0].Status != connectors.OrderInProgress || o.Lines[1].SKU != "B000SAU002" {
		t.Errorf("lines = %+v", o.Lines)
	}
	// No RDT asked: no buyer data, and nothing guessed.
	if o.CustomerEmail != "" || o.CustomerName != "" || e.fake.Requests(amazonfake.OpCreateRDT) != 0 {
		t.Errorf("buyer %q %q without restricted data", o.CustomerEmail, o.CustomerName)
	}

	// Listing again reads the same versions: no getOrderItems again.
	e.clock.Advance(time.Hour)
	listAll(t, e, c, connectors.OrderQuery{UpdatedSince: base, Limit: 30})
	if n := e.fake.Requests(amazonfake.OpGetOrderItems); n != 70 {
		t.Errorf("getOrderItems called %d times after a second listing, want still 70", n)
	}
	// An order that changes is read again.
	e.fake.SetStatus(ids[0], amazonfake.StatusShipped)
	e.clock.Advance(5 * time.Minute)
	got, _ = listAll(t, e, c, connectors.OrderQuery{UpdatedSince: e.clock.Now().Add(-10 * time.Minute)})
	if o := got[ids[0]]; len(got) != 1 || o.Status != connectors.OrderShipped || o.Lines[0].Status != connectors.OrderShipped {
		t.Errorf("after shipping: %d orders, %+v", len(got), o)
	}
}

func TestOrderStatus(t *testing.T) {
	for in, want := range map[string]connectors.OrderStatus{
		"Pending": connectors.OrderNew, "PendingAvailability": connectors.OrderNew,
		"Unshipped": connectors.OrderInProgress, "PartiallyShipped": connectors.OrderInProgress,
		"Shipped": connectors.OrderShipped, "InvoiceUnconfirmed": connectors.OrderShipped,
		"Canceled": connectors.OrderCanceled, "Unfulfillable": connectors.OrderCanceled,
		"": connectors.OrderNotProvided, "Delivered": connectors.OrderUndefined,
	} {
		if got := amazon.OrderStatus(in); got != want {
			t.Errorf("OrderStatus(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestLinesFollowTheOrder(t *testing.T) {
	e := newEnv(t, amazonfake.Options{ItemsPageSize: 2})
	c := e.client(t)
	items := []amazonfake.Item{}
	for i := range 5 {
		items = append(items, amazonfake.Item{OrderItemID: fmt.Sprint(i), ASIN: "B0", QuantityOrdered: 2, QuantityShipped: min(i, 2), ItemPrice: eur("1.00")})
	}
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000001-0000001", OrderStatus: amazonfake.StatusPartiallyShipped, Items: items})
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000002-0000002", OrderStatus: amazonfake.StatusCanceled, Items: items[:2]})
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000003-0000003", OrderStatus: amazonfake.StatusPending, Items: items[:1]})

	o, err := c.GetOrder(t.Context(), "171-0000001-0000001")
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Lines) != 5 || o.Status != connectors.OrderInProgress || o.Lines[0].Status != connectors.OrderInProgress || o.Lines[2].Status != connectors.OrderShipped {
		t.Errorf("partly shipped: %s, lines %+v", o.Status, o.Lines)
	}
	o, _ = c.GetOrder(t.Context(), "171-0000002-0000002")
	if o.Status != connectors.OrderCanceled || o.Lines[0].Canceled != 2 || o.Lines[1].Canceled != 1 {
		t.Errorf("cancelled: %s, lines %+v", o.Status, o.Lines)
	}
	// A Pending order's items come without prices (spec).
	o, _ = c.GetOrder(t.Context(), "171-0000003-0000003")
	if o.Status != connectors.OrderNew || o.Lines[0].Price != "" || o.Total != "" {
		t.Errorf("pending: %s, total %q, lines %+v", o.Status, o.Total, o.Lines)
	}
	for _, id := range []string{"171-0000009-0000009", "", "../x"} {
		if _, err := c.GetOrder(t.Context(), id); !errors.Is(err, connectors.ErrNotFound) || connectors.IsRetryable(err) {
			t.Errorf("GetOrder(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func TestAccessTokenRenewal(t *testing.T) {
	e := newEnv(t, amazonfake.Options{})
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000001-0000001"})
	c := e.client(t)
	get := func() {
		t.Helper()
		if _, err := c.GetOrder(t.Context(), "171-0000001-0000001"); err != nil {
			t.Fatalf("GetOrder: %v", err)
		}
	}
	get()
	get()
	if n := e.fake.Requests(amazonfake.OpLWA); n != 1 {
		t.Errorf("%d LWA exchanges for two calls, want 1: the token is cached", n)
	}
	// Renewed ahead of its expiry, never used past it.
	e.clock.Advance(56 * time.Minute)
	get()
	if n := e.fake.Requests(amazonfake.OpLWA); n != 2 {
		t.Errorf("%d LWA exchanges after 56 minutes, want 2", n)
	}
	// Refused by Amazon anyway (expired early, revoked key rotation):
	// renewed once, and the call goes through.
	e.fake.ExpireAccessTokens()
	get()
	if n := e.fake.Requests(amazonfake.OpLWA); n != 3 {
		t.Errorf("%d LWA exchanges after an expired token, want 3", n)
	}
	// The seller withdrew the authorisation: unauthorised, for good.
	e.fake.RevokeRefreshToken(refreshToken)
	_, err := c.GetOrder(t.Context(), "171-0000001-0000001")
	if !errors.Is(err, connectors.ErrUnauthorized) || !connectors.IsPermanent(err) {
		t.Errorf("after revocation: %v, want permanent ErrUnauthorized", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	e := newEnv(t, amazonfake.Options{})
	for name, edit := range map[string]func(*amazon.Options){
		"secret":  func(o *amazon.Options) { o.ClientSecret = "wrong" },
		"refresh": func(o *amazon.Options) { o.RefreshToken = "Atzr|wrong" },
	} {
		c := e.client(t, edit)
		_, err := c.ListOrders(t.Context(), connectors.OrderQuery{})
		if !errors.Is(err, connectors.ErrUnauthorized) || connectors.IsRetryable(err) {
			t.Errorf("wrong %s: %v, want ErrUnauthorized", name, err)
		}
		if errors.Is(err, connectors.ErrUnauthorized) && containsSecret(err.Error()) {
			t.Errorf("the error shows a credential: %v", err)
		}
	}
}

func containsSecret(s string) bool {
	for _, secret := range []string{"wrong", "Atzr|", clientSecret} {
		if strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

func TestRateLimitsWithoutSleeping(t *testing.T) {
	t.Run("own bucket defers before Amazon refuses", func(t *testing.T) {
		e := newEnv(t, amazonfake.Options{})
		c := e.client(t)
		for i := range 20 {
			if _, err := c.ListOrders(t.Context(), connectors.OrderQuery{}); err != nil {
				t.Fatalf("listing %d: %v", i, err)
			}
		}
		start := time.Now()
		_, err := c.ListOrders(t.Context(), connectors.OrderQuery{})
		d, ok := connectors.Deferred(err)
		if !ok || d.Class != amazon.OpGetOrders {
			t.Fatalf("21st getOrders: %v, want a deferral", err)
		}
		// One token at 0.0167/s: about a minute, and not slept.
		if wait := d.Until.Sub(e.clock.Now()); wait < 59*time.Second || wait > 61*time.Second || time.Since(start) > 500*time.Millisecond {
			t.Errorf("deferred for %s, after %s", wait, time.Since(start))
		}
		if n := e.fake.Requests(amazonfake.OpGetOrders); n != 20 {
			t.Errorf("%d getOrders reached Amazon, want 20", n)
		}
		e.clock.Set(d.Until)
		if _, err := c.ListOrders(t.Context(), connectors.OrderQuery{}); err != nil {
			t.Errorf("after the wait: %v", err)
		}
	})
	t.Run("429 is a RateLimitedError at the stated rate", func(t *testing.T) {
		// The seller's plan is smaller than the default: Amazon refuses
		// what the client's bucket allowed.
		e := newEnv(t, amazonfake.Options{Rates: map[string]amazonfake.Rate{amazonfake.OpGetOrder: {PerSecond: 0.25, Burst: 1}}})
		e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000001-0000001"})
		c := e.client(t)
		if _, err := c.GetOrder(t.Context(), "171-0000001-0000001"); err != nil {
			t.Fatal(err)
		}
		_, err := c.GetOrder(t.Context(), "171-0000001-0000001")
		var rl *connectors.RateLimitedError
		if !errors.As(err, &rl) || !connectors.IsRetryable(err) {
			t.Fatalf("over the plan: %v, want a *RateLimitedError", err)
		}
		// The 200 said x-amzn-RateLimit-Limit: 0.25, one token in 4 s.
		if d, _ := connectors.RetryDelay(err); d != 4*time.Second {
			t.Errorf("RetryDelay = %s, want 4s", d)
		}
		// The bucket is empty now: the next call waits in the caller, not
		// at Amazon.
		if _, err := c.GetOrder(t.Context(), "171-0000001-0000001"); err == nil {
			t.Error("a call right after a 429 was sent")
		} else if _, ok := connectors.Deferred(err); !ok {
			t.Errorf("right after a 429: %v, want a deferral", err)
		}
		e.clock.Advance(4 * time.Second)
		if _, err := c.GetOrder(t.Context(), "171-0000001-0000001"); err != nil {
			t.Errorf("after the wait: %v", err)
		}
	})
	t.Run("shared limiter", func(t *testing.T) {
		e := newEnv(t, amazonfake.Options{Rates: map[string]amazonfake.Rate{amazonfake.OpGetOrder: {PerSecond: 0.5, Burst: 1}}})
		e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000001-0000001"})
		lim := &recordingLimiter{}
		c := e.client(t, func(o *amazon.Options) { o.Limiter, o.LimiterKey = lim, "acct-1" })
		_, _ = c.GetOrder(t.Context(), "171-0000001-0000001")
		_, err := c.GetOrder(t.Context(), "171-0000001-0000001")
		var rl *connectors.RateLimitedError
		if !errors.As(err, &rl) {
			t.Fatalf("over the plan: %v", err)
		}
		lim.mu.Lock()
		defer lim.mu.Unlock()
		if lim.acquired["acct-1:getOrder"] != 2 || lim.acquired["acct-1:getOrderItems"] != 1 || lim.penalized["acct-1:getOrder"] != 2*time.Second {
			t.Errorf("limiter saw %v and penalties %v", lim.acquired, lim.penalized)
		}
	})
}

type recordingLimiter struct {
	mu        sync.Mutex
	acquired  map[string]int
	penalized map[string]time.Duration
}

func (l *recordingLimiter) Acquire(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.acquired == nil {
		l.acquired = map[string]int{}
	}
	l.acquired[key]++
	return nil
}

func (l *recordingLimiter) Penalize(_ context.Context, key string, d time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.penalized == nil {
		l.penalized = map[string]time.Duration{}
	}
	l.penalized[key] = d
	return nil
}

func TestRestrictedData(t *testing.T) {
	t.Run("with the role", func(t *testing.T) {
		e := newEnv(t, amazonfake.Options{RestrictedRole: true})
		base := e.clock.Now().Add(-time.Hour)
		ids := seed(e, 3, base, amazonfake.StatusShipped)
		e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000001-0000001", LastUpdateDate: base, OrderStatus: amazonfake.StatusPending, BuyerEmail: "p@marketplace.amazon.fr"})
		c := e.client(t, func(o *amazon.Options) { o.RestrictedData = true })
		got, _ := listAll(t, e, c, connectors.OrderQuery{UpdatedSince: base})
		if o := got[ids[1]]; o.CustomerEmail != "b001@marketplace.amazon.fr" || o.CustomerName != "Jeanne Test" {
			t.Errorf("with an RDT: buyer %q %q", o.CustomerEmail, o.CustomerName)
		}
		// Amazon gives no e-mail before payment (#4536).
		if o := got["171-0000001-0000001"]; o.CustomerEmail != "" {
			t.Errorf("pending order's email %q", o.CustomerEmail)
		}
		// One RDT for the whole listing, cached.
		listAll(t, e, c, connectors.OrderQuery{UpdatedSince: base})
		if n := e.fake.Requests(amazonfake.OpCreateRDT); n != 1 {
			t.Errorf("%d RDTs for two listings, want 1", n)
		}
		o, err := c.GetOrder(t.Context(), ids[2])
		if err != nil || o.CustomerEmail != "b002@marketplace.amazon.fr" {
			t.Errorf("GetOrder with an RDT: %q, %v", o.CustomerEmail, err)
		}
		// An expired RDT is renewed with the access token.
		e.fake.ExpireAccessTokens()
		if o, err := c.GetOrder(t.Context(), ids[2]); err != nil || o.CustomerEmail == "" {
			t.Errorf("after expiry: %q, %v", o.CustomerEmail, err)
		}
	})
	t.Run("without the role", func(t *testing.T) {
		e := newEnv(t, amazonfake.Options{})
		seed(e, 1, e.clock.Now().Add(-time.Hour), amazonfake.StatusShipped)
		c := e.client(t, func(o *amazon.Options) { o.RestrictedData = true })
		_, err := c.ListOrders(t.Context(), connectors.OrderQuery{})
		if !errors.Is(err, connectors.ErrForbidden) || !connectors.IsPermanent(err) {
			t.Errorf("RDT refused: %v, want permanent ErrForbidden", err)
		}
		if n := e.fake.Requests(amazonfake.OpGetOrders); n != 0 {
			t.Errorf("getOrders called %d times without its RDT", n)
		}
	})
}

func TestFailures(t *testing.T) {
	e := newEnv(t, amazonfake.Options{})
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "171-0000001-0000001"})
	c := e.client(t)
	faults := e.fake.Faults()
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		faults.Push(fault.Fault{Status: status})
		if _, err := c.GetOrder(t.Context(), "171-0000001-0000001"); !errors.Is(err, connectors.ErrUnavailable) || !connectors.IsRetryable(err) {
			t.Errorf("%d: %v, want retryable ErrUnavailable", status, err)
		}
	}
	faults.Push(fault.Fault{Hang: 3 * time.Second})
	if _, err := c.ListOrders(t.Context(), connectors.OrderQuery{}); !connectors.IsRetryable(err) {
		t.Errorf("hung answer: %v, want retryable", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.ListOrders(ctx, connectors.OrderQuery{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if _, err := c.ListOrders(t.Context(), connectors.OrderQuery{PageToken: "garbage"}); !errors.Is(err, connectors.ErrInvalid) || !connectors.IsPermanent(err) {
		t.Errorf("bad page token: %v, want ErrInvalid", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	good := amazon.Options{BaseURL: "https://sellingpartnerapi-eu.amazon.com", ClientID: "a", ClientSecret: "b", RefreshToken: "c", MarketplaceIDs: []string{frMarket}}
	if _, err := amazon.New(good); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*amazon.Options){
		"no url":         func(o *amazon.Options) { o.BaseURL = "" },
		"no secret":      func(o *amazon.Options) { o.ClientSecret = "" },
		"no marketplace": func(o *amazon.Options) { o.MarketplaceIDs = nil },
		"bad market":     func(o *amazon.Options) { o.MarketplaceIDs = []string{"fr,de"} },
		"limiter no key": func(o *amazon.Options) { o.Limiter = &recordingLimiter{} },
	} {
		o := good
		edit(&o)
		if _, err := amazon.New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
