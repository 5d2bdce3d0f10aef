package widgets

// The Gorgias widget template binds the sidebar's JSON (RenderJSON) to
// Gorgias's display. Sources relied on:
//   - developers.gorgias.com/reference/widgets (the Widget object) and the
//     Create Widget reference: POST /api/widgets takes type, context,
//     order, integration_id and template; a template is a tree of nodes
//     with path, type, title and widgets; the documented node types are
//     wrapper, card and text.
//   - UNVERIFIED: "list" for arrays, holding one card that renders each
//     element, with paths inside it relative to the element. No public
//     reference to it was found; it is what Gorgias's own editor is
//     believed to produce. If Gorgias rejects or ignores it, only the
//     arrays lose their layout: the customer card and texts stand.
//   - UNVERIFIED: that Gorgias shows a text node whose value is a URL as
//     a clickable link. The reference says nothing of links, nor of
//     action buttons in widgets. The order's action buttons ("actions":
//     each a label and the url of its confirmation page) are bound as
//     texts; if Gorgias shows the URL as plain text, the agent copies it
//     into a tab.

// Gorgias node types.
const (
	GorgiasWrapper = "wrapper"
	GorgiasCard    = "card"
	GorgiasText    = "text"
	// GorgiasList renders an array: UNVERIFIED, see above.
	GorgiasList = "list"
)

// GorgiasWidget is the body of Gorgias's POST /api/widgets for the
// sidebar's HTTP integration.
//
// Order is left 0, so that the orders come first among the sidebar's
// widgets; Gorgias shows lower orders first. IntegrationID is left 0, and
// then omitted: it is the id Gorgias gave the HTTP integration the admin
// created, which the bridge cannot know. Set it before posting (or add it
// to the JSON by hand); Gorgias links a widget to its HTTP integration by
// it.
type GorgiasWidget struct {
	Type          string      `json:"type"`
	Context       string      `json:"context"`
	Order         int         `json:"order"`
	IntegrationID int         `json:"integration_id,omitempty"`
	Template      GorgiasNode `json:"template"`
}

// GorgiasNode is one node of a widget template. Path is a key of the JSON
// object the parent node is bound to; the wrapper and the card of a list
// have none.
type GorgiasNode struct {
	Path    string        `json:"path,omitempty"`
	Type    string        `json:"type"`
	Title   string        `json:"title,omitempty"`
	Widgets []GorgiasNode `json:"widgets,omitempty"`
}

// GorgiasTemplate returns the widget template for v's layout: the same
// sections and fields as RenderJSON, in the same order, titled in the
// sidebar's language. A section or list with no field shown gets no node:
// an empty card would only show its title.
func GorgiasTemplate(v *View) GorgiasWidget {
	lang := v.Sidebar.Language
	root := GorgiasNode{Type: GorgiasWrapper, Widgets: []GorgiasNode{}}
	for _, section := range v.Fields["sections"] {
		switch section {
		case "customer":
			if n, ok := gorgiasCard(v, "customer", lang); ok {
				root.Widgets = append(root.Widgets, n)
			}
		case "orders":
			if n, ok := gorgiasList(v, "", "orders", "orders", lang); ok {
				root.Widgets = append(root.Widgets, n)
			}
		}
	}
	return GorgiasWidget{Type: "http", Context: "ticket", Template: root}
}

// gorgiasCard binds a top-level section, an object, as a card.
func gorgiasCard(v *View, section, lang string) (GorgiasNode, bool) {
	kids := gorgiasFields(v, section, lang)
	if len(kids) == 0 {
		return GorgiasNode{}, false
	}
	return GorgiasNode{Path: section, Type: GorgiasCard, Title: gorgiasTitle(lang, "", section), Widgets: kids}, true
}

// gorgiasList binds the array at field of parent's object, each element
// showing section's fields.
func gorgiasList(v *View, parent, field, section, lang string) (GorgiasNode, bool) {
	kids := gorgiasFields(v, section, lang)
	if len(kids) == 0 {
		return GorgiasNode{}, false
	}
	item := GorgiasNode{Type: GorgiasCard, Title: gorgiasTitle(lang, "item", section), Widgets: kids}
	return GorgiasNode{Path: field, Type: GorgiasList, Title: gorgiasTitle(lang, parent, field), Widgets: []GorgiasNode{item}}, true
}

// gorgiasFields mirrors customerObject and orderObject: the order's
// arrays and the return's products are lists, everything else is text.
func gorgiasFields(v *View, section, lang string) []GorgiasNode {
	var out []GorgiasNode
	for _, f := range v.Fields[section] {
		sub := ""
		switch {
		case section == "orders" && (f == "lines" || f == "shipments" || f == "returns" || f == "support_requests"):
			sub = f
		case section == "returns" && f == "products":
			sub = "return_products"
		}
		if sub != "" {
			if n, ok := gorgiasList(v, section, f, sub, lang); ok {
				out = append(out, n)
			}
			continue
		}
		if section == "orders" && f == "action" {
			// The order's latest action: an object.
			out = append(out, GorgiasNode{Path: f, Type: GorgiasCard, Title: gorgiasTitle(lang, section, f), Widgets: []GorgiasNode{
				{Path: "id", Type: GorgiasText, Title: gorgiasTitle(lang, "action", "id")},
				{Path: "action", Type: GorgiasText, Title: gorgiasTitle(lang, "action", "action")},
				{Path: "state", Type: GorgiasText, Title: gorgiasTitle(lang, "action", "state")},
				{Path: "reason", Type: GorgiasText, Title: gorgiasTitle(lang, "action", "reason")},
				{Path: "requested_at", Type: GorgiasText, Title: gorgiasTitle(lang, "action", "requested_at")},
				{Path: "settled_at", Type: GorgiasText, Title: gorgiasTitle(lang, "action", "settled_at")},
			}})
			continue
		}
		if section == "orders" && f == "actions" {
			item := GorgiasNode{Type: GorgiasCard, Title: gorgiasTitle(lang, "item", "actions"), Widgets: []GorgiasNode{
				{Path: "action", Type: GorgiasText, Title: gorgiasTitle(lang, "actions", "action")},
				{Path: "label", Type: GorgiasText, Title: gorgiasTitle(lang, "actions", "label")},
				{Path: "url", Type: GorgiasText, Title: gorgiasTitle(lang, "actions", "url")},
			}}
			out = append(out, GorgiasNode{Path: f, Type: GorgiasList, Title: gorgiasTitle(lang, section, f), Widgets: []GorgiasNode{item}})
			continue
		}
		out = append(out, GorgiasNode{Path: f, Type: GorgiasText, Title: gorgiasTitle(lang, section, f)})
	}
	return out
}

// gorgiasTitle looks a title up by section and field, then by field
// alone; a name missing from both reads as itself rather than blank.
func gorgiasTitle(lang, section, field string) string {
	titles := gorgiasTitlesEN
	if lang == "fr" {
		titles = gorgiasTitlesFR
	}
	if t, ok := titles[section+"."+field]; ok {
		return t
	}
	if t, ok := titles[field]; ok {
		return t
	}
	return field
}

// Titles by "section.field" where a field's meaning depends on its
// section, by field otherwise. ".section" titles a section's card,
// "item.section" the card of one element of a list.
var gorgiasTitlesEN = map[string]string{
	".customer":             "Customer",
	"item.orders":           "Order",
	"item.lines":            "Product",
	"item.shipments":        "Shipment",
	"item.returns":          "Return",
	"item.return_products":  "Returned product",
	"item.support_requests": "Support request",
	"email":                 "Email",
	"name":                  "Name",
	"phone":                 "Phone",
	"external_id":           "Customer ID",
	"orders_count":          "Number of orders",
	"last_order_at":         "Last order",
	"orders":                "Orders",
	"id":                    "Order number",
	"orders.status":         "Status",
	"marketplace_status":    "Marketplace status",
	"created_at":            "Ordered on",
	"total":                 "Total",
	"currency":              "Currency",
	"marketplace":           "Marketplace",
	"store":                 "Store",
	"url":                   "Link",
	"orders.url":            "Order page",
	"support_url":           "Support page",
	"invoice_url":           "Invoice (PDF)",
	"lines":                 "Products",
	"shipments":             "Shipments",
	"returns":               "Returns",
	"support_requests":      "Support requests",
	"sku":                   "SKU",
	"quantity":              "Quantity",
	"shipments.status":      "Status",
	"carrier":               "Carrier",
	"tracking_number":       "Tracking number",
	"tracking_url":          "Tracking",
	"refund_method":         "Refund method",
	"returns.products":      "Products returned",
	"damaged":               "Damaged",
	"subject":               "Subject",
	"support_requests.url":  "Request page",
	"updated_at":            "Updated on",
	"orders.action":         "Last action",
	"action.id":             "Action id",
	"action.action":         "Action",
	"action.state":          "State",
	"action.reason":         "Reason",
	"action.requested_at":   "Requested on",
	"action.settled_at":     "Settled on",
	"actions.action":        "Kind",
	"orders.actions":        "Actions",
	"item.actions":          "Action",
	"actions.label":         "Button",
	"actions.url":           "Open to confirm (new tab)",
}

var gorgiasTitlesFR = map[string]string{
	".customer":             "Client",
	"item.orders":           "Commande",
	"item.lines":            "Produit",
	"item.shipments":        "Expédition",
	"item.returns":          "Retour",
	"item.return_products":  "Produit retourné",
	"item.support_requests": "Demande d'assistance",
	"email":                 "E-mail",
	"name":                  "Nom",
	"phone":                 "Téléphone",
	"external_id":           "Identifiant client",
	"orders_count":          "Nombre de commandes",
	"last_order_at":         "Dernière commande",
	"orders":                "Commandes",
	"id":                    "N° de commande",
	"orders.status":         "Statut",
	"marketplace_status":    "Statut marketplace",
	"created_at":            "Commandée le",
	"total":                 "Total",
	"currency":              "Devise",
	"marketplace":           "Marketplace",
	"store":                 "Boutique",
	"url":                   "Lien",
	"orders.url":            "Page de la commande",
	"support_url":           "Page d'assistance",
	"invoice_url":           "Facture (PDF)",
	"lines":                 "Produits",
	"shipments":             "Expéditions",
	"returns":               "Retours",
	"support_requests":      "Demandes d'assistance",
	"sku":                   "Référence",
	"quantity":              "Quantité",
	"shipments.status":      "Statut",
	"carrier":               "Transporteur",
	"tracking_number":       "Numéro de suivi",
	"tracking_url":          "Suivi",
	"refund_method":         "Mode de remboursement",
	"returns.products":      "Produits retournés",
	"damaged":               "Endommagé",
	"subject":               "Objet",
	"support_requests.url":  "Page de la demande",
	"updated_at":            "Mise à jour le",
	"orders.action":         "Dernière action",
	"action.id":             "Id de l'action",
	"action.action":         "Action",
	"action.state":          "État",
	"action.reason":         "Motif",
	"action.requested_at":   "Demandée le",
	"action.settled_at":     "Réglée le",
	"actions.action":        "Type",
	"orders.actions":        "Actions",
	"item.actions":          "Action",
	"actions.label":         "Bouton",
	"actions.url":           "Ouvrir pour confirmer (nouvel onglet)",
}
