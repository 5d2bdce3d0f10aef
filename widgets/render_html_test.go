package widgets

import (
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/orders"
)

// Payloads a buyer or a marketplace can put in any free-text field.
const (
	hostileScript = `<script>alert(1)</script>`
	hostileAttr   = `"><img src=x onerror=alert(1)>`
)

// htmlDoc is a projected document with every field set, each value
// distinct so that a test can tell where it lands.
func htmlDoc() *orders.Document {
	last := time.Date(2024, 5, 3, 9, 30, 0, 0, time.UTC)
	return &orders.Document{
		Customer: orders.Customer{Email: "zoe@example.com", Name: "Zoé Martin", Phone: "+33 6 12 34 56 78", ExternalID: "CUST-42", OrdersCount: 2, LastOrderAt: &last},
		Orders: []orders.Order{
			{
				ID: "ORD-2002", Store: "shop-fr", Marketplace: "Marketplace-X", Status: orders.StatusShipped, MarketplaceStatus: "SHIPPING_CONFIRMED",
				// Late in the evening west of UTC: the day shown is UTC's.
				CreatedAt: time.Date(2024, 5, 2, 22, 30, 0, 0, time.FixedZone("UTC-3", -3*3600)),
				Total:     "49.90", Currency: "EUR",
				URL: "https://backoffice.example.com/orders/ORD-2002", SupportURL: "https://mp.example.com/support/ORD-2002",
				Lines:     []orders.Line{{Name: "Blue mug", SKU: "MUG-BLUE-01", Quantity: 2}},
				Shipments: []orders.Shipment{{Status: "in_transit", Carrier: "Colissimo", TrackingNumber: "6A12345678901", TrackingURL: "https://track.example.com/6A12345678901"}},
				Returns: []orders.Return{{TrackingNumber: "RET-777", RefundMethod: "card", Products: []orders.ReturnProduct{
					{Name: "Blue mug", SKU: "MUG-BLUE-01", Quantity: 1, Damaged: true},
				}}},
				SupportRequests: []orders.SupportRequest{{Subject: "Where is my parcel?", URL: "https://mp.example.com/requests/9", UpdatedAt: time.Date(2024, 5, 4, 8, 0, 0, 0, time.UTC)}},
			},
			{ID: "ORD-1001", Store: "shop-fr", Status: orders.StatusCanceled, CreatedAt: time.Date(2024, 4, 1, 10, 0, 0, 0, time.UTC), Total: "12.00", Currency: "EUR"},
		},
	}
}

func TestRenderHTMLFragment(t *testing.T) {
	t.Parallel()
	ok := Freshness{State: StateOK}
	tests := []struct {
		name    string
		sidebar config.Sidebar
		doc     func(d *orders.Document)
		f       Freshness
		// want appear in the output in this order; absent do not appear.
		want   []string
		absent []string
	}{
		{
			name: "default layout shows every field, in the default order",
			f:    ok,
			want: []string{
				">Customer<", "zoe@example.com", "Zoé Martin", "6 12 34 56 78", "CUST-42", "<dd>2</dd>", "2024-05-03",
				">Orders<", "ORD-2002", ">Shipped<", "SHIPPING_CONFIRMED", ">2024-05-03<", "49.90 EUR", "Marketplace-X", "shop-fr",
				`href="https://backoffice.example.com/orders/ORD-2002"`, `href="https://mp.example.com/support/ORD-2002"`,
				"Blue mug", "MUG-BLUE-01", "× 2", "Colissimo", "6A12345678901", `href="https://track.example.com/6A12345678901"`,
				"RET-777", "card", ">Damaged<", "Where is my parcel?", `href="https://mp.example.com/requests/9"`, "2024-05-04",
				"ORD-1001", ">Canceled<", "12.00 EUR",
			},
			// The currency is read with the total, not repeated.
			absent: []string{">Currency<", "<script", "<img"},
		},
		{
			name: "fields the layout leaves out are not rendered",
			sidebar: config.Sidebar{Layout: config.Layout{
				Customer: []string{"email", "name"},
				Orders:   []string{"id", "status", "lines"},
				Lines:    []string{"name"},
			}},
			f:      ok,
			want:   []string{"zoe@example.com", "Zoé Martin", "ORD-2002", "Shipped", "Blue mug"},
			absent: []string{"6 12 34 56 78", "CUST-42", "SHIPPING_CONFIRMED", "49.90", "shop-fr", "Marketplace-X", "backoffice.example.com", "MUG-BLUE-01", "Colissimo", "RET-777", "Where is my parcel?", ">Phone<", ">Total<", ">Shipments<"},
		},
		{
			name: "an empty list hides a section",
			sidebar: config.Sidebar{Layout: config.Layout{
				Customer: []string{},
			}},
			f:      ok,
			want:   []string{"ORD-2002"},
			absent: []string{">Customer<", "zoe@example.com"},
		},
		{
			name: "the layout reorders sections, fields and sub-list fields",
			sidebar: config.Sidebar{Layout: config.Layout{
				Sections: []string{"orders", "customer"},
				Customer: []string{"name", "email"},
				Orders:   []string{"lines", "total", "currency", "id", "status"},
				Lines:    []string{"sku", "name"},
			}},
			f:    ok,
			want: []string{">Orders<", "MUG-BLUE-01", "Blue mug", "49.90 EUR", "ORD-2002", "Shipped", ">Customer<", "Zoé Martin", "zoe@example.com"},
		},
		{
			name:    "without the currency field, the total shows alone",
			sidebar: config.Sidebar{Layout: config.Layout{Orders: []string{"id", "total"}}},
			f:       ok,
			want:    []string{"<dd>49.90</dd>"},
			absent:  []string{"EUR"},
		},
		{
			name:    "without the total field, the currency has its own row",
			sidebar: config.Sidebar{Layout: config.Layout{Orders: []string{"id", "currency"}}},
			f:       ok,
			want:    []string{">Currency<", "<dd>EUR</dd>"},
			absent:  []string{"49.90"},
		},
		{
			name: "customer data is escaped",
			doc: func(d *orders.Document) {
				d.Customer.Name = hostileScript + hostileAttr
				d.Orders[0].ID = hostileAttr
				d.Orders[0].Lines[0].SKU = hostileScript
				d.Orders[0].Lines[0].Name = hostileAttr
				d.Orders[0].SupportRequests[0].Subject = hostileScript + hostileAttr
				d.Orders[0].Shipments[0].TrackingNumber = hostileAttr
				d.Orders[0].MarketplaceStatus = hostileScript
				d.Orders[0].Status = hostileAttr
			},
			f:      ok,
			want:   []string{"&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"},
			absent: []string{"<script", "<img"},
		},
		{
			name: "javascript: URLs are neutralised",
			doc: func(d *orders.Document) {
				d.Orders[0].URL = "javascript:alert(1)"
				d.Orders[0].SupportURL = " JaVaScRiPt:alert(1)"
				d.Orders[0].Shipments[0].TrackingURL = "javascript:alert(document.cookie)"
				d.Orders[0].SupportRequests[0].URL = "data:text/html,<script>alert(1)</script>"
			},
			f:      ok,
			want:   []string{`href="#ZgotmplZ"`},
			absent: []string{"javascript:", "JaVaScRiPt:", "data:text", "<script"},
		},
		{
			name: "links open in a new tab without an opener or a referrer",
			doc: func(d *orders.Document) {
				d.Orders = d.Orders[:1]
				d.Orders[0].SupportURL = ""
				d.Orders[0].Shipments = nil
				d.Orders[0].SupportRequests = nil
			},
			f:    ok,
			want: []string{`<a href="https://backoffice.example.com/orders/ORD-2002" target="_blank" rel="noopener noreferrer">Open order</a>`},
		},
		{
			name:    "French labels and statuses",
			sidebar: config.Sidebar{Language: "fr"},
			f:       ok,
			want:    []string{`lang="fr"`, ">Client<", ">Téléphone<", ">Commandes<", ">Statut<", ">Expédiée<", ">Ouvrir la commande<", ">Produits<", ">Réf.<", ">Endommagé<", ">Annulée<"},
			absent:  []string{">Customer<", ">Shipped<", ">Canceled<", ">Open order<"},
		},
		{
			name: "every status has a label in both languages",
			doc: func(d *orders.Document) {
				d.Orders = nil
				for _, s := range []string{orders.StatusNew, orders.StatusInProgress, orders.StatusShipped, orders.StatusCanceled, orders.StatusClosed, orders.StatusUndefined, orders.StatusNotProvided, "OnHold"} {
					d.Orders = append(d.Orders, orders.Order{ID: "O-" + s, Status: s})
				}
			},
			sidebar: config.Sidebar{Language: "fr", Layout: config.Layout{Orders: []string{"status"}}},
			f:       ok,
			want:    []string{">Nouvelle<", ">En cours<", ">Expédiée<", ">Annulée<", ">Clôturée<", ">Indéterminé<", ">Non communiqué<", ">OnHold<"},
		},
		{
			name: "the marketplace status is shown as sent",
			doc:  func(d *orders.Document) { d.Orders[0].MarketplaceStatus = "WAITING_ACCEPTANCE" },
			f:    ok,
			want: []string{"<dd>WAITING_ACCEPTANCE</dd>"},
		},
		{
			name:   "stale data shows its age above the data",
			f:      Freshness{State: StateStale, AsOf: time.Date(2024, 5, 5, 12, 0, 0, 0, time.UTC), Age: 3*time.Minute + 40*time.Second},
			want:   []string{`class="hb-notice"`, "Last updated 3 min ago.", ">Customer<", "ORD-2002"},
			absent: []string{`class="hb-notice hb-unavailable"`},
		},
		{
			name:    "stale data in French",
			sidebar: config.Sidebar{Language: "fr"},
			f:       Freshness{State: StateStale, Age: 5 * time.Hour},
			want:    []string{"Dernière mise à jour il y a 5 h.", "ORD-2002"},
		},
		{
			name:   "unavailable shows only the notice",
			f:      Freshness{State: StateUnavailable},
			want:   []string{`<p class="hb-notice hb-unavailable" role="status">Order data is temporarily unavailable.`},
			absent: []string{">Customer<", ">Orders<", "zoe@example.com", "ORD-2002"},
		},
		{
			name:    "unavailable in French",
			sidebar: config.Sidebar{Language: "fr"},
			f:       Freshness{State: StateUnavailable},
			want:    []string{"Les commandes sont temporairement indisponibles."},
		},
		{
			name: "a customer without orders",
			doc: func(d *orders.Document) {
				d.Orders = nil
				d.Customer = orders.Customer{Email: "zoe@example.com"}
			},
			f:      ok,
			want:   []string{"zoe@example.com", "<dd>0</dd>", ">Orders<", "No orders for this customer."},
			absent: []string{"<ol>", "Last order"},
		},
		{
			name: "a customer without orders, in French",
			doc: func(d *orders.Document) {
				d.Orders = []orders.Order{}
			},
			sidebar: config.Sidebar{Language: "fr"},
			f:       ok,
			want:    []string{"Aucune commande pour ce client."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			doc := htmlDoc()
			if tt.doc != nil {
				tt.doc(doc)
			}
			got := string(RenderHTMLFragment(NewView("acme", tt.sidebar), doc, tt.f))
			if !strings.HasPrefix(got, `<div class="hb-widget"`) || !strings.HasSuffix(got, "</div>") {
				t.Errorf("not one hb-widget div:\n%s", got)
			}
			assertInOrder(t, got, tt.want)
			for _, a := range tt.absent {
				if strings.Contains(got, a) {
					t.Errorf("output contains %q:\n%s", a, got)
				}
			}
		})
	}
}

// assertInOrder checks that each of want appears after the previous one.
func assertInOrder(t *testing.T, got string, want []string) {
	t.Helper()
	rest, offset := got, 0
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			if strings.Contains(got, w) {
				t.Errorf("%q appears, but not after the previous expected text (at %d):\n%s", w, offset, got)
			} else {
				t.Errorf("%q does not appear:\n%s", w, got)
			}
			return
		}
		rest, offset = rest[i+len(w):], offset+i+len(w)
	}
}

func TestRenderHTMLPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lang string
		want []string
	}{
		{"default language is English", "", []string{"<!DOCTYPE html>", `<html lang="en">`, `<meta charset="utf-8">`, `<meta name="viewport"`, "<title>Orders</title>", `<div class="hb-widget" lang="en">`, "ORD-2002", "</html>"}},
		{"French", "fr", []string{"<!DOCTYPE html>", `<html lang="fr">`, "<title>Commandes</title>", `<div class="hb-widget" lang="fr">`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := NewView("acme", config.Sidebar{Language: tt.lang})
			doc := htmlDoc()
			got := string(RenderHTMLPage(v, doc, Freshness{State: StateOK}))
			assertInOrder(t, got, tt.want)
			// The page is the fragment, wrapped.
			if frag := string(RenderHTMLFragment(v, doc, Freshness{State: StateOK})); !strings.Contains(got, frag) {
				t.Errorf("page does not contain the fragment:\n%s", got)
			}
		})
	}
}

// The widget must not reach out: no script, no external style, font or
// image, and every style rule scoped to the widget.
func TestRenderHTMLSelfContained(t *testing.T) {
	t.Parallel()
	got := string(RenderHTMLPage(NewView("acme", config.Sidebar{}), htmlDoc(), Freshness{State: StateOK}))
	for _, a := range []string{"<script", "<link", "<img", "@import", "url(", " style="} {
		if strings.Contains(got, a) {
			t.Errorf("page contains %q", a)
		}
	}
	for _, rule := range strings.Split(htmlCSS, "}") {
		sel, _, _ := strings.Cut(strings.TrimSpace(rule), "{")
		for s := range strings.SplitSeq(sel, ",") {
			if s != "" && !strings.HasPrefix(s, ".hb-widget") {
				t.Errorf("CSS selector %q is not scoped to .hb-widget", s)
			}
		}
	}
}

func TestHTMLAgo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		age    time.Duration
		en, fr string
	}{
		{0, "less than a minute ago", "il y a moins d’une minute"},
		{59 * time.Second, "less than a minute ago", "il y a moins d’une minute"},
		{3*time.Minute + 59*time.Second, "3 min ago", "il y a 3 min"},
		{2 * time.Hour, "2 h ago", "il y a 2 h"},
		{72 * time.Hour, "3 days ago", "il y a 3 jours"},
	}
	for _, tt := range tests {
		if got := htmlLangs["en"].ago(tt.age); got != tt.en {
			t.Errorf("en ago(%v) = %q, want %q", tt.age, got, tt.en)
		}
		if got := htmlLangs["fr"].ago(tt.age); got != tt.fr {
			t.Errorf("fr ago(%v) = %q, want %q", tt.age, got, tt.fr)
		}
	}
}

// Every field of the vocabulary has a label in both languages, so that a
// field added to config.WidgetFields cannot render as an empty label.
func TestHTMLLabelsComplete(t *testing.T) {
	t.Parallel()
	// Fields that render without a label: in a sub-list, the value speaks
	// for itself; a link is named by its text.
	unlabelled := map[string]bool{
		"lines.name": true, "lines.quantity": true,
		"shipments.status": true, "shipments.carrier": true, "shipments.tracking_url": true,
		"return_products.name": true, "return_products.quantity": true,
		"support_requests.subject": true, "support_requests.url": true,
	}
	links := map[string]bool{"orders.url": true, "orders.support_url": true, "shipments.tracking_url": true, "support_requests.url": true}
	for lang, l := range htmlLangs {
		for section, names := range config.WidgetFields {
			if section == "sections" {
				continue
			}
			for _, name := range names {
				key := section + "." + name
				if !unlabelled[key] && l.labels[key] == "" {
					t.Errorf("%s: no label for %s", lang, key)
				}
				if links[key] && l.links[key] == "" {
					t.Errorf("%s: no link text for %s", lang, key)
				}
			}
		}
		for s := range statusClass {
			if l.statuses[s] == "" {
				t.Errorf("%s: no label for status %s", lang, s)
			}
		}
	}
}

func BenchmarkRenderHTMLFragment(b *testing.B) {
	v := NewView("acme", config.Sidebar{})
	doc := htmlDoc()
	for range 3 {
		doc.Orders = append(doc.Orders, doc.Orders...)
	}
	b.ReportAllocs()
	for b.Loop() {
		RenderHTMLFragment(v, doc, Freshness{State: StateOK})
	}
}
