package amazonfake_test

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/amazon/amazonfake"
)

// These tests hold the fake's answers to Amazon's own Orders v0 model
// (Swagger 2.0). It lives outside the repository, in
// ../shared/reference/specs/amazon beside the repository's root; a clone
// has no such folder, and the tests skip.

type schema struct {
	Ref        string             `json:"$ref"`
	Type       string             `json:"type"`
	Required   []string           `json:"required"`
	Properties map[string]*schema `json:"properties"`
	Items      *schema            `json:"items"`
	Enum       []string           `json:"enum"`
}

type swagger struct {
	Definitions map[string]*schema `json:"definitions"`
}

func loadSpec(t *testing.T) swagger {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the package")
		}
		dir = parent
	}
	data, err := os.ReadFile(filepath.Join(dir, "..", "shared", "reference", "specs", "amazon", "orders-v0.json"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("Amazon's Orders v0 model is not beside the repository")
	}
	if err != nil {
		t.Fatal(err)
	}
	var s swagger
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s swagger) resolve(sc *schema) *schema {
	for sc != nil && sc.Ref != "" {
		sc = s.Definitions[strings.TrimPrefix(sc.Ref, "#/definitions/")]
	}
	return sc
}

// conform reports every field of v that sc does not define, every
// required field missing, and enum values outside the enum.
func (s swagger) conform(t *testing.T, where string, sc *schema, v any) {
	t.Helper()
	sc = s.resolve(sc)
	if sc == nil {
		t.Errorf("%s: no schema", where)
		return
	}
	switch v := v.(type) {
	case map[string]any:
		for _, r := range sc.Required {
			if _, ok := v[r]; !ok {
				t.Errorf("%s: required %s missing", where, r)
			}
		}
		for k, fv := range v {
			p, ok := sc.Properties[k]
			if !ok {
				t.Errorf("%s: %s is not in Amazon's model", where, k)
				continue
			}
			s.conform(t, where+"."+k, p, fv)
		}
	case []any:
		for _, it := range v {
			s.conform(t, where+"[]", sc.Items, it)
		}
	case string:
		if len(sc.Enum) > 0 && !slices.Contains(sc.Enum, v) {
			t.Errorf("%s: %q is not one of %v", where, v, sc.Enum)
		}
	}
}

func TestAnswersFollowAmazonsModel(t *testing.T) {
	spec := loadSpec(t)
	e := newEnv(t, amazonfake.Options{RestrictedRole: true, NoThrottle: true})
	money := &amazonfake.Money{CurrencyCode: "EUR", Amount: "12.50"}
	for i, st := range []string{amazonfake.StatusPending, amazonfake.StatusUnshipped, amazonfake.StatusPartiallyShipped, amazonfake.StatusShipped,
		amazonfake.StatusInvoiceUnconfirmed, amazonfake.StatusCanceled, amazonfake.StatusUnfulfillable, amazonfake.StatusPendingAvailability} {
		e.fake.PutOrder(amazonfake.Order{
			AmazonOrderID: "171-000000" + string(rune('0'+i)) + "-0000000", SellerOrderID: "S1", OrderStatus: st,
			LastUpdateDate: e.clock.Now().Add(-time.Hour), OrderTotal: money, BuyerEmail: "a@marketplace.amazon.fr", BuyerName: "A",
			Items: []amazonfake.Item{{OrderItemID: "1", ASIN: "B0", SellerSKU: "S", Title: "T", QuantityOrdered: 1, ItemPrice: money, ItemTax: money, ShippingPrice: money}},
		})
	}
	status, body := e.post("/tokens/2021-03-01/restrictedDataToken", `{"restrictedResources":[{"method":"GET","path":"/orders/v0/orders","dataElements":["buyerInfo"]}]}`, e.token)
	var r struct {
		Token string `json:"restrictedDataToken"`
	}
	if status != 200 || json.Unmarshal(body, &r) != nil {
		t.Fatalf("RDT: %d %s", status, body)
	}
	check := func(def, path string, q url.Values, tok string, wantStatus int) {
		t.Helper()
		status, body, _ := e.get(path, q, tok)
		var v any
		if status != wantStatus || json.Unmarshal(body, &v) != nil {
			t.Fatalf("%s: %d %s", path, status, body)
		}
		spec.conform(t, def, spec.Definitions[def], v)
	}
	check("GetOrdersResponse", "/orders/v0/orders", url.Values{"MarketplaceIds": {market}, "CreatedAfter": {"2026-01-01T00:00:00Z"}, "MaxResultsPerPage": {"3"}}, r.Token, 200)
	check("GetOrderResponse", "/orders/v0/orders/171-0000001-0000000", nil, e.token, 200)
	check("GetOrderItemsResponse", "/orders/v0/orders/171-0000001-0000000/orderItems", nil, e.token, 200)
	check("GetOrdersResponse", "/orders/v0/orders", url.Values{"MarketplaceIds": {market}}, e.token, 400)
	check("GetOrderResponse", "/orders/v0/orders/171-9999999-0000000", nil, e.token, 404)
}
