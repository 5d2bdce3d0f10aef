package widgets

import (
	"bytes"
	"fmt"
	"html/template"
	"strconv"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/orders"
)

// RenderHTMLFragment renders a projected document as a self-contained HTML
// fragment: one <div class="hb-widget"> with its own <style>, every rule
// scoped to .hb-widget, and no script or external resource. Zendesk's
// sidebar app injects it with innerHTML and Help Scout's dynamic app
// answers it as {"html": ...}. The view's layout applies as in RenderJSON:
// sections and fields in its order, a field it leaves out is not rendered.
// A shown field without a value is left out too, to stay compact.
func RenderHTMLFragment(v *View, doc *orders.Document, f Freshness) []byte {
	return renderHTML("fragment", v, doc, f, nil)
}

// RenderHTMLPage renders the fragment inside a complete HTML5 page, for
// sidebars that load a URL in an iframe.
func RenderHTMLPage(v *View, doc *orders.Document, f Freshness) []byte {
	return renderHTML("page", v, doc, f, nil)
}

// renderHTML renders the template name, with the orders' action buttons
// if acts.
func renderHTML(name string, v *View, doc *orders.Document, f Freshness, acts *actionLinks) []byte {
	buf := htmlBuffers.Get().(*bytes.Buffer)
	defer func() {
		// A rare huge widget does not pin its buffer for ever.
		if buf.Cap() <= 256<<10 {
			buf.Reset()
			htmlBuffers.Put(buf)
		}
	}()
	if err := htmlTemplates.ExecuteTemplate(buf, name, newHTMLWidget(v, doc, f, acts)); err != nil {
		// The templates are fixed and the data is only strings and slices.
		panic("widgets: render html: " + err.Error())
	}
	// The result is memoised: keep it exactly its size, and the growing
	// buffer for the next render.
	return bytes.Clone(buf.Bytes())
}

var htmlBuffers = sync.Pool{New: func() any { return bytes.NewBuffer(make([]byte, 0, 16<<10)) }}

// htmlWidget is what the templates render: the layout already applied, the
// labels already in the sidebar's language. Every value is a plain string
// that html/template escapes for where it lands.
type htmlWidget struct {
	Lang        string
	Title       string
	Notice      string
	Unavailable bool
	Sections    []htmlSection
}

type htmlSection struct {
	Name   string // customer or orders
	Title  string
	Fields []htmlField // customer
	Orders [][]htmlField
	Empty  string // orders, when there are none
}

// htmlField is one shown field: at the top of a section a label and its
// value, in a sub-list an optional prefix and the value.
type htmlField struct {
	Name  string
	Label string
	Text  string
	// Href makes Text a link; html/template drops an unsafe scheme.
	Href string
	// Date is the RFC 3339 instant that Text shows as a day.
	Date string
	// Status is the class suffix of a status badge.
	Status string
	// Items is a sub-list; each item is its fields, in the layout's order.
	Items [][]htmlField
	// Buttons are an order's action links, each to its confirmation page.
	Buttons []actionLink
}

func newHTMLWidget(v *View, doc *orders.Document, f Freshness, acts *actionLinks) *htmlWidget {
	l := htmlLangs[v.Sidebar.Language]
	if l == nil {
		l = htmlLangs["en"]
	}
	w := &htmlWidget{Lang: l.code, Title: l.title}
	switch f.State {
	case StateUnavailable:
		// There is no data to show, only the notice.
		w.Notice, w.Unavailable = l.unavailable, true
		return w
	case StateStale:
		w.Notice = fmt.Sprintf(l.stale, l.ago(f.Age))
	}
	if doc == nil {
		doc = &orders.Document{}
	}
	b := htmlBuilder{v: v, l: l, acts: acts, al: actionLangOf(v.Sidebar.Language), showTotal: v.Shows("orders", "total"), showCurrency: v.Shows("orders", "currency")}
	for _, section := range v.Fields["sections"] {
		// An empty field list hides the section (config.Layout).
		if len(v.Fields[section]) == 0 {
			continue
		}
		switch section {
		case "customer":
			w.Sections = append(w.Sections, htmlSection{Name: section, Title: l.customer, Fields: b.customer(&doc.Customer)})
		case "orders":
			s := htmlSection{Name: section, Title: l.orders, Orders: make([][]htmlField, 0, len(doc.Orders))}
			for i := range doc.Orders {
				s.Orders = append(s.Orders, b.order(&doc.Orders[i]))
			}
			if len(doc.Orders) == 0 {
				s.Empty = l.noOrders
			}
			w.Sections = append(w.Sections, s)
		}
	}
	return w
}

// htmlBuilder applies one view's layout and language to a document.
type htmlBuilder struct {
	v                       *View
	l                       *htmlLang
	acts                    *actionLinks
	al                      *actionLang
	showTotal, showCurrency bool
}

func (b *htmlBuilder) customer(c *orders.Customer) []htmlField {
	names := b.v.Fields["customer"]
	out := make([]htmlField, 0, len(names))
	for _, name := range names {
		f := b.field("customer", name)
		switch name {
		case "email":
			f.Text = c.Email
		case "name":
			f.Text = c.Name
		case "phone":
			f.Text = c.Phone
		case "external_id":
			f.Text = c.ExternalID
		case "orders_count":
			f.Text = strconv.Itoa(c.OrdersCount)
		case "last_order_at":
			if c.LastOrderAt != nil {
				f.date(*c.LastOrderAt)
			}
		}
		out = f.appendTo(out)
	}
	return out
}

func (b *htmlBuilder) order(o *orders.Order) []htmlField {
	names := b.v.Fields["orders"]
	out := make([]htmlField, 0, len(names))
	for _, name := range names {
		f := b.field("orders", name)
		switch name {
		case "id":
			f.Text = o.ID
		case "status":
			// "synchronizing" while an action waits for the marketplace.
			f.Text, f.Status = b.l.status(orders.ShownStatus(*o))
		case "action":
			if o.Action != nil {
				f.Text = b.al.summary(o.Action)
			}
		case "actions":
			f.Buttons = b.acts.links(o)
		case "invoice_url":
			f.link(b.acts.invoiceURL(o), b.l.links["orders.invoice_url"])
		case "marketplace_status":
			f.Text = o.MarketplaceStatus
		case "created_at":
			f.date(o.CreatedAt)
		case "total":
			f.Text = o.Total
			// An amount reads with its currency; the currency row is then
			// not repeated.
			if o.Total != "" && o.Currency != "" && b.showCurrency {
				f.Text += " " + o.Currency
			}
		case "currency":
			if o.Total == "" || !b.showTotal {
				f.Text = o.Currency
			}
		case "marketplace":
			f.Text = o.Marketplace
		case "store":
			f.Text = o.Store
		case "url":
			f.link(o.URL, b.l.links["orders.url"])
		case "support_url":
			f.link(o.SupportURL, b.l.links["orders.support_url"])
		case "lines":
			for i := range o.Lines {
				f.Items = b.appendItem(f.Items, "lines", b.line(&o.Lines[i]))
			}
		case "shipments":
			for i := range o.Shipments {
				f.Items = b.appendItem(f.Items, "shipments", b.shipment(&o.Shipments[i]))
			}
		case "returns":
			for i := range o.Returns {
				f.Items = b.appendItem(f.Items, "returns", b.ret(&o.Returns[i]))
			}
		case "support_requests":
			for i := range o.SupportRequests {
				f.Items = b.appendItem(f.Items, "support_requests", b.supportRequest(&o.SupportRequests[i]))
			}
		}
		out = f.appendTo(out)
	}
	return out
}

// appendItem appends one element of a sub-list, built by fill for each
// field its section shows; an element left with nothing is dropped.
func (b *htmlBuilder) appendItem(items [][]htmlField, section string, fill func(f *htmlField)) [][]htmlField {
	names := b.v.Fields[section]
	item := make([]htmlField, 0, len(names))
	for _, name := range names {
		f := b.field(section, name)
		fill(&f)
		item = f.appendTo(item)
	}
	if len(item) == 0 {
		return items
	}
	return append(items, item)
}

func (b *htmlBuilder) line(l *orders.Line) func(*htmlField) {
	return func(f *htmlField) {
		switch f.Name {
		case "name":
			f.Text = l.Name
		case "sku":
			f.Text = l.SKU
		case "quantity":
			f.Text = b.l.qty(l.Quantity)
		}
	}
}

func (b *htmlBuilder) shipment(s *orders.Shipment) func(*htmlField) {
	return func(f *htmlField) {
		switch f.Name {
		case "status":
			f.Text = s.Status
		case "carrier":
			f.Text = s.Carrier
		case "tracking_number":
			f.Text = s.TrackingNumber
		case "tracking_url":
			f.link(s.TrackingURL, b.l.links["shipments.tracking_url"])
		}
	}
}

func (b *htmlBuilder) ret(r *orders.Return) func(*htmlField) {
	return func(f *htmlField) {
		switch f.Name {
		case "tracking_number":
			f.Text = r.TrackingNumber
		case "refund_method":
			f.Text = r.RefundMethod
		case "products":
			for i := range r.Products {
				f.Items = b.appendItem(f.Items, "return_products", b.returnProduct(&r.Products[i]))
			}
		}
	}
}

func (b *htmlBuilder) returnProduct(p *orders.ReturnProduct) func(*htmlField) {
	return func(f *htmlField) {
		switch f.Name {
		case "name":
			f.Text = p.Name
		case "sku":
			f.Text = p.SKU
		case "quantity":
			f.Text = b.l.qty(p.Quantity)
		case "damaged":
			// Only a damaged product says so: "not damaged" on every
			// line would be noise.
			if p.Damaged {
				f.Text, f.Label, f.Status = f.Label, "", "damaged"
			}
		}
	}
}

func (b *htmlBuilder) supportRequest(s *orders.SupportRequest) func(*htmlField) {
	return func(f *htmlField) {
		switch f.Name {
		case "subject":
			f.Text = s.Subject
		case "url":
			f.link(s.URL, b.l.links["support_requests.url"])
		case "updated_at":
			f.date(s.UpdatedAt)
		}
	}
}

// field starts a field with its label.
func (b *htmlBuilder) field(section, name string) htmlField {
	return htmlField{Name: name, Label: b.l.labels[section+"."+name]}
}

func (f *htmlField) link(href, text string) {
	if href != "" {
		f.Href, f.Text = href, text
	}
}

func (f *htmlField) date(t time.Time) {
	if !t.IsZero() {
		t = t.UTC()
		f.Text, f.Date = t.Format(time.DateOnly), t.Format(time.RFC3339)
	}
}

// appendTo appends the field if it has something to show.
func (f *htmlField) appendTo(fields []htmlField) []htmlField {
	if f.Text == "" && len(f.Items) == 0 && len(f.Buttons) == 0 {
		return fields
	}
	return append(fields, *f)
}

// htmlLang is the wording of the widget in one language.
type htmlLang struct {
	code, title, customer, orders, noOrders, unavailable string
	// stale takes the age, as ago words it.
	stale string
	ago   func(time.Duration) string
	qty   func(int) string
	// labels name fields by "section.field": a row's label, or a
	// prefix in a sub-list (none when absent).
	labels   map[string]string
	links    map[string]string // a link's text, by "section.field"
	statuses map[string]string // by normalised status
}

// status returns the human label of a normalised status and its badge
// class; a status this version does not know shows as sent.
func (l *htmlLang) status(s string) (text, class string) {
	if s == "" {
		return "", ""
	}
	if label, ok := l.statuses[s]; ok {
		return label, statusClass[s]
	}
	return s, "other"
}

var statusClass = map[string]string{orders.Synchronizing: "sync", orders.StatusNew: "new", orders.StatusInProgress: "inprogress", orders.StatusShipped: "shipped", orders.StatusCanceled: "canceled", orders.StatusClosed: "closed", orders.StatusUndefined: "undefined", orders.StatusNotProvided: "notprovided"}

var htmlLangs = map[string]*htmlLang{
	"en": {
		code: "en", title: "Orders", customer: "Customer", orders: "Orders",
		noOrders:    "No orders for this customer.",
		unavailable: "Order data is temporarily unavailable. Reload the ticket in a minute.",
		stale:       "Order data could not be refreshed. Last updated %s.",
		ago: func(d time.Duration) string {
			switch {
			case d < time.Minute:
				return "less than a minute ago"
			case d < time.Hour:
				return strconv.Itoa(int(d/time.Minute)) + " min ago"
			case d < 48*time.Hour:
				return strconv.Itoa(int(d/time.Hour)) + " h ago"
			}
			return strconv.Itoa(int(d/(24*time.Hour))) + " days ago"
		},
		qty: func(n int) string { return "× " + strconv.Itoa(n) },
		labels: map[string]string{
			"customer.email": "Email", "customer.name": "Name", "customer.phone": "Phone",
			"customer.external_id": "Customer ID", "customer.orders_count": "Orders", "customer.last_order_at": "Last order",
			"orders.id": "Order", "orders.status": "Status", "orders.marketplace_status": "Marketplace status",
			"orders.created_at": "Date", "orders.total": "Total", "orders.currency": "Currency",
			"orders.marketplace": "Marketplace", "orders.store": "Store",
			"orders.url": "Back office", "orders.support_url": "Support",
			"orders.lines": "Products", "orders.shipments": "Shipments", "orders.returns": "Returns",
			"orders.support_requests": "Support requests", "orders.action": "Last action", "orders.actions": "Actions", "orders.invoice_url": "Invoice",
			"lines.sku":                 "SKU",
			"shipments.tracking_number": "Tracking",
			"returns.tracking_number":   "Tracking", "returns.refund_method": "Refund", "returns.products": "Returned",
			"return_products.sku": "SKU", "return_products.damaged": "Damaged",
			"support_requests.updated_at": "Updated",
		},
		links: map[string]string{
			"orders.url": "Open order", "orders.support_url": "New support request", "orders.invoice_url": "Download (PDF)",
			"shipments.tracking_url": "Track parcel", "support_requests.url": "Open",
		},
		statuses: map[string]string{orders.Synchronizing: "Synchronizing", orders.StatusNew: "New", orders.StatusInProgress: "In progress", orders.StatusShipped: "Shipped", orders.StatusCanceled: "Canceled", orders.StatusClosed: "Closed", orders.StatusUndefined: "Unknown", orders.StatusNotProvided: "Not provided"},
	},
	"fr": {
		code: "fr", title: "Commandes", customer: "Client", orders: "Commandes",
		noOrders:    "Aucune commande pour ce client.",
		unavailable: "Les commandes sont temporairement indisponibles. Rechargez le ticket dans une minute.",
		stale:       "Les commandes n’ont pas pu être actualisées. Dernière mise à jour %s.",
		ago: func(d time.Duration) string {
			switch {
			case d < time.Minute:
				return "il y a moins d’une minute"
			case d < time.Hour:
				return "il y a " + strconv.Itoa(int(d/time.Minute)) + " min"
			case d < 48*time.Hour:
				return "il y a " + strconv.Itoa(int(d/time.Hour)) + " h"
			}
			return "il y a " + strconv.Itoa(int(d/(24*time.Hour))) + " jours"
		},
		qty: func(n int) string { return "× " + strconv.Itoa(n) },
		labels: map[string]string{
			"customer.email": "E-mail", "customer.name": "Nom", "customer.phone": "Téléphone",
			"customer.external_id": "ID client", "customer.orders_count": "Commandes", "customer.last_order_at": "Dernière commande",
			"orders.id": "Commande", "orders.status": "Statut", "orders.marketplace_status": "Statut marketplace",
			"orders.created_at": "Date", "orders.total": "Total", "orders.currency": "Devise",
			"orders.marketplace": "Marketplace", "orders.store": "Boutique",
			"orders.url": "Back-office", "orders.support_url": "Support",
			"orders.lines": "Produits", "orders.shipments": "Expéditions", "orders.returns": "Retours",
			"orders.support_requests": "Demandes de support", "orders.action": "Dernière action", "orders.actions": "Actions", "orders.invoice_url": "Facture",
			"lines.sku":                 "Réf.",
			"shipments.tracking_number": "Suivi",
			"returns.tracking_number":   "Suivi", "returns.refund_method": "Remboursement", "returns.products": "Retournés",
			"return_products.sku": "Réf.", "return_products.damaged": "Endommagé",
			"support_requests.updated_at": "Mise à jour",
		},
		links: map[string]string{
			"orders.url": "Ouvrir la commande", "orders.support_url": "Nouvelle demande de support", "orders.invoice_url": "Télécharger (PDF)",
			"shipments.tracking_url": "Suivre le colis", "support_requests.url": "Ouvrir",
		},
		statuses: map[string]string{orders.Synchronizing: "Synchronisation", orders.StatusNew: "Nouvelle", orders.StatusInProgress: "En cours", orders.StatusShipped: "Expédiée", orders.StatusCanceled: "Annulée", orders.StatusClosed: "Clôturée", orders.StatusUndefined: "Indéterminé", orders.StatusNotProvided: "Non communiqué"},
	},
}

// htmlCSS is scoped to .hb-widget so that it neither leaks into nor
// depends on the host page. Sidebars are 300-360 px wide: one column,
// labels in a fixed narrow column, and anything long (SKUs, tracking
// numbers, hostile names) wraps anywhere rather than scrolling.
const htmlCSS = `.hb-widget{box-sizing:border-box;max-width:100%;padding:8px 10px;font:13px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#fff;overflow-wrap:anywhere}
.hb-widget *{box-sizing:border-box}
.hb-widget h2{margin:10px 0 4px;font-size:11px;font-weight:600;letter-spacing:.04em;text-transform:uppercase;color:#59636e}
.hb-widget dl,.hb-widget ol,.hb-widget ul,.hb-widget p{margin:0;padding:0;list-style:none}
.hb-widget dd{margin:0;min-width:0}
.hb-widget a{color:#0969da;text-decoration:none}
.hb-widget a:hover{text-decoration:underline}
.hb-widget .hb-row{display:flex;gap:8px;padding:1px 0}
.hb-widget .hb-row>dt{flex:0 0 7.2em;color:#59636e}
.hb-widget .hb-row>dd{flex:1 1 0}
.hb-widget .hb-f-id>dd{font-weight:600}
.hb-widget .hb-list{padding-top:3px}
.hb-widget .hb-list>dt{color:#59636e}
.hb-widget .hb-list li{margin:2px 0;padding-left:7px;border-left:2px solid #d1d9e0}
.hb-widget .hb-order{padding:6px 0;border-top:1px solid #d1d9e0}
.hb-widget .hb-f+.hb-f::before{content:"·";margin-right:4px;color:#818b98}
.hb-widget .hb-k{color:#59636e}
.hb-widget .hb-sub li{border:0;padding-left:8px}
.hb-widget .hb-st{display:inline-block;padding:0 6px;border-radius:8px;background:#eff2f5;font-size:12px}
.hb-widget .hb-st-new,.hb-widget .hb-st-inprogress{background:#ddf4ff;color:#0550ae}
.hb-widget .hb-st-shipped,.hb-widget .hb-st-closed{background:#dafbe1;color:#116329}
.hb-widget .hb-st-canceled,.hb-widget .hb-st-damaged{background:#ffebe9;color:#a40e26}
.hb-widget .hb-st-sync{background:#fff8c5;color:#7d4e00}
.hb-widget .hb-btn{display:inline-block;margin:2px 4px 2px 0;padding:2px 8px;border:1px solid #0969da;border-radius:6px;font-size:12px}
.hb-widget .hb-notice{margin-bottom:8px;padding:6px 8px;border:1px solid #d4a72c;border-radius:4px;background:#fff8c5}
.hb-widget .hb-unavailable{border-color:#ff8182;background:#ffebe9}
.hb-widget .hb-empty{padding:6px 0;border-top:1px solid #d1d9e0;color:#59636e}`

// The templates walk the model only: the layout and the wording are
// decided in Go. "item" is recursive, for a return's products.
var htmlTemplates = template.Must(template.New("widget").Parse(`
{{- define "page"}}<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>{{.Title}}</title><style>body{margin:0}</style></head>
<body>{{template "fragment" .}}</body></html>
{{end}}

{{- define "fragment"}}<div class="hb-widget" lang="{{.Lang}}"><style>` + htmlCSS + `</style>
{{- if .Unavailable}}<p class="hb-notice hb-unavailable" role="status">{{.Notice}}</p>
{{- else}}{{with .Notice}}<p class="hb-notice" role="status">{{.}}</p>{{end}}
{{- range .Sections}}<section class="hb-s-{{.Name}}"><h2>{{.Title}}</h2>
{{- with .Fields}}<dl>{{range .}}{{template "field" .}}{{end}}</dl>{{end}}
{{- with .Orders}}<ol>{{range .}}<li class="hb-order"><dl>{{range .}}{{template "field" .}}{{end}}</dl></li>{{end}}</ol>{{end}}
{{- with .Empty}}<p class="hb-empty">{{.}}</p>{{end}}</section>
{{- end}}{{end}}</div>
{{- end}}

{{- define "field"}}
{{- if .Buttons}}<div class="hb-row hb-f-{{.Name}}"><dt>{{.Label}}</dt><dd>{{range .Buttons}}<a class="hb-btn hb-btn-{{.Action}}" href="{{.URL}}" target="_blank" rel="noopener noreferrer">{{.Label}}</a>{{end}}</dd></div>
{{- else if .Items}}<div class="hb-list hb-f-{{.Name}}"><dt>{{.Label}}</dt><dd><ul>{{range .Items}}<li>{{template "item" .}}</li>{{end}}</ul></dd></div>
{{- else}}<div class="hb-row hb-f-{{.Name}}"><dt>{{.Label}}</dt><dd>{{template "value" .}}</dd></div>
{{- end}}
{{- end}}

{{- define "item"}}
{{- range $i, $f := .}}
{{- if $f.Items}}<div class="hb-sub"><span class="hb-k">{{$f.Label}}</span><ul>{{range $f.Items}}<li>{{template "item" .}}</li>{{end}}</ul></div>
{{- else}}{{if $i}} {{end}}<span class="hb-f">{{with $f.Label}}<span class="hb-k">{{.}}</span> {{end}}{{template "value" $f}}</span>
{{- end}}
{{- end}}
{{- end}}

{{- define "value"}}
{{- if .Href}}<a href="{{.Href}}" target="_blank" rel="noopener noreferrer">{{.Text}}</a>
{{- else if .Date}}<time datetime="{{.Date}}">{{.Text}}</time>
{{- else if .Status}}<span class="hb-st hb-st-{{.Status}}">{{.Text}}</span>
{{- else}}{{.Text}}
{{- end}}
{{- end}}`))
