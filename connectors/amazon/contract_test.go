package amazon_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/amazon"
	"github.com/helpdesk-bridge/bridge/connectors/amazon/amazonfake"
	"github.com/helpdesk-bridge/bridge/connectors/fault"
)

// The marketplace contract suite (connectors/marketplacetest) takes a
// whole connectors.Marketplace, and its order listing seeds Mirakl-shaped
// orders (states such as "SHIPPED", a customer id, a tracking) that Amazon
// never returns. These tests are its order-listing part, for a connector
// that is only a connectors.OrderLister, held to the same promises: every
// order once across pages, the updated-since boundary, normalised orders
// equal to what was seeded, wrong credentials, 429 with Retry-After, 5xx,
// and cancellation.

func TestContractListOrders(t *testing.T) {
	e := newEnv(t, amazonfake.Options{RestrictedRole: true})
	c := e.client(t, func(o *amazon.Options) { o.RestrictedData = true })
	base := e.clock.Now().Add(-5 * time.Hour).Truncate(time.Second)
	const n = 250
	want := map[string]connectors.Order{}
	for i := range n {
		id := fmt.Sprintf("305-%07d-%07d", i, 7000000+i)
		e.fake.PutOrder(amazonfake.Order{
			AmazonOrderID: id, PurchaseDate: base.Add(time.Duration(i) * time.Second), LastUpdateDate: base.Add(time.Hour + time.Duration(i)*time.Second),
			OrderStatus: amazonfake.StatusShipped, OrderTotal: eur("44.80"),
			BuyerEmail: fmt.Sprintf("c%03d@marketplace.amazon.fr", i), BuyerName: "Jane Doe",
			Items: []amazonfake.Item{{OrderItemID: id + "-1", ASIN: "B000MUG001", SellerSKU: "MUG-1", Title: "Mug", QuantityOrdered: 2, QuantityShipped: 2, ItemPrice: eur("39.90")}},
		})
		want[id] = connectors.Order{
			ID: id, CommercialID: id, State: "Shipped", Status: connectors.OrderShipped,
			CreatedAt: base.Add(time.Duration(i) * time.Second), UpdatedAt: base.Add(time.Hour + time.Duration(i)*time.Second),
			CustomerEmail: fmt.Sprintf("c%03d@marketplace.amazon.fr", i), CustomerName: "Jane Doe",
			Lines: []connectors.OrderLine{{ID: id + "-1", SKU: "MUG-1", Title: "Mug", Quantity: 2, Price: "39.90", Status: connectors.OrderShipped}},
			Total: "44.80", Currency: "EUR",
		}
	}
	// Last updated a day earlier: outside the listing.
	e.fake.PutOrder(amazonfake.Order{AmazonOrderID: "305-9999999-9999999", PurchaseDate: base.Add(-48 * time.Hour), LastUpdateDate: base.Add(-24 * time.Hour), OrderStatus: amazonfake.StatusShipped})

	got, _ := listAll(t, e, c, connectors.OrderQuery{UpdatedSince: base.Add(time.Hour), Limit: 100})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("listed orders (-seeded +listed):\n%s", diff)
	}
	if e.fake.Throttled(amazonfake.OpGetOrders)+e.fake.Throttled(amazonfake.OpGetOrderItems) != 0 {
		t.Error("Amazon answered 429 to a listing paced by its own buckets")
	}
}

func TestContractFailures(t *testing.T) {
	e := newEnv(t, amazonfake.Options{})
	c := e.client(t)
	ctx := t.Context()

	wrong := e.client(t, func(o *amazon.Options) { o.RefreshToken = "Atzr|not-this-one" })
	if _, err := wrong.ListOrders(ctx, connectors.OrderQuery{}); !errors.Is(err, connectors.ErrUnauthorized) || connectors.IsRetryable(err) {
		t.Errorf("wrong credentials: %v, want ErrUnauthorized, not retryable", err)
	}

	faults := e.fake.Faults()
	faults.Push(fault.Fault{Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second})
	_, err := c.ListOrders(ctx, connectors.OrderQuery{})
	var rl *connectors.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("429: %v, want a *RateLimitedError", err)
	}
	if d, ok := connectors.RetryDelay(err); !ok || d != 7*time.Second || !connectors.IsRetryable(err) {
		t.Errorf("RetryDelay = %s, %t; want 7s, as Retry-After said", d, ok)
	}
	e.clock.Advance(7 * time.Second)
	// The bucket was emptied: the caller is told to come back later
	// rather than sent again at once.
	for range 3 {
		_, err = c.ListOrders(ctx, connectors.OrderQuery{})
		d, ok := connectors.Deferred(err)
		if !ok {
			break
		}
		e.clock.Set(d.Until)
	}
	if err != nil {
		t.Errorf("after the wait: %v", err)
	}

	for _, status := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		e.clock.Advance(time.Minute) // one getOrders token
		faults.Push(fault.Fault{Status: status})
		if _, err := c.ListOrders(ctx, connectors.OrderQuery{}); !errors.Is(err, connectors.ErrUnavailable) || !connectors.IsRetryable(err) {
			t.Errorf("%d: %v, want retryable ErrUnavailable", status, err)
		}
	}

	e.clock.Advance(time.Minute)
	faults.Push(fault.Fault{Hang: 5 * time.Second})
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	if _, err := c.ListOrders(cctx, connectors.OrderQuery{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled in flight: %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 800*time.Millisecond {
		t.Errorf("returned after %s", el)
	}
}
