package rakuten_test

import (
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/rakutenfake"
)

// An accepted purchase is read back from getbillinginformation, which
// names no buyer: the read-back still names the customer as the listing
// did, so that the order stays in their sidebar after an action.
func TestReadBackNamesTheCustomerAsTheListing(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	ctx := t.Context()
	if err := h.fake.PutSale(login, rakutenfake.SaleSeed{PurchaseID: "555", Date: time.Now().Add(-time.Hour), BuyerLogin: "acheteur", BuyerEmail: "b@relay.example", FirstName: "Lou", LastName: "Martin",
		Items: []rakutenfake.ItemSeed{{ItemID: "5551", Headline: "Casque", Price: "9.90", Status: api.StatusAccepted}}}); err != nil {
		t.Fatal(err)
	}
	page, err := h.mp.ListOrders(ctx, connectors.OrderQuery{})
	if err != nil || len(page.Orders) == 0 {
		for page.NextPageToken != "" && err == nil && len(page.Orders) == 0 {
			page, err = h.mp.ListOrders(ctx, connectors.OrderQuery{PageToken: page.NextPageToken})
		}
	}
	if err != nil || len(page.Orders) != 1 {
		t.Fatalf("listed %+v (%v)", page.Orders, err)
	}
	listed := page.Orders[0]
	got, err := h.mp.GetOrder(ctx, "555")
	if err != nil {
		t.Fatal(err)
	}
	if got.CustomerEmail != listed.CustomerEmail || got.CustomerName != listed.CustomerName || got.CustomerID != listed.CustomerID || got.CustomerEmail != "b@relay.example" {
		t.Errorf("read back %q %q %q, listed %q %q %q", got.CustomerID, got.CustomerName, got.CustomerEmail, listed.CustomerID, listed.CustomerName, listed.CustomerEmail)
	}
}
