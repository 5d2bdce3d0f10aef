package alerts

import (
	"bytes"
	"fmt"
	"text/template"

	"github.com/helpdesk-bridge/bridge/config"
)

// texts holds one language's wording. Subjects and bodies are templates
// over a view of the payload.
type texts struct {
	subject  map[string]*template.Template // by alert kind
	body     *template.Template
	resolved *template.Template
	reasons  map[string]string
}

var languages = map[string]texts{
	"en": {
		subject: map[string]*template.Template{
			config.AlertActionRequired:       tpl(`Order {{.OrderID}} is blocked because of {{.ReasonText}}`),
			config.AlertBadRatingWithComment: tpl(`Buyer {{.Buyer.Name}} gave a bad rating in the delivery satisfaction survey`),
			config.AlertBadRatingNoComment:   tpl(`Buyer {{.Buyer.Name}} gave a bad rating in the delivery satisfaction survey`),
		},
		reasons: map[string]string{
			ReasonInvalidAddress:   "an invalid address",
			ReasonInvalidBuyerInfo: "invalid buyer information",
		},
		body: tpl(`{{if eq .Kind "action-required" -}}
Order {{.OrderID}} ({{.StoreName}}) is blocked because of {{.ReasonText}}.
{{- if .Details}}
Details: {{.Details}}{{end}}
It ships once the buyer's information is corrected.
{{- else -}}
Buyer {{.Buyer.Name}} rated the delivery of order {{.OrderID}} ({{.StoreName}}) {{.Score}}/5.
{{- if .Comment}}
Comment: "{{.Comment}}"{{else}}
They left no comment.{{end}}
{{- end}}

Buyer: {{.Buyer.Name}} <{{.Buyer.Email}}>{{if .Buyer.Phone}}, {{.Buyer.Phone}}{{end}}
{{- with .Order}}

Order details
{{- if .Marketplace}}
- Marketplace: {{.Marketplace}}{{end}}
{{- if .Status}}
- Status: {{.Status}}{{end}}
{{- if .CreatedAt}}
- Placed: {{.CreatedAt.Format "2006-01-02 15:04 MST"}}{{end}}
{{- if .Total}}
- Total: {{.Total}} {{.Currency}}{{end}}
{{- range .Lines}}
- {{.Quantity}} x {{if .Name}}{{.Name}} {{end}}(SKU {{.SKU}}){{end}}
{{- end}}
{{- if .OrderURL}}

Open the order: {{.OrderURL}}{{end}}

This is an internal note raised by the helpdesk bridge (event {{.EventID}}). The buyer has not been contacted.`),
		resolved: tpl(`The problem blocking order {{.OrderID}} was resolved{{if .Details}}: {{.Details}}{{else}}.{{end}}
The helpdesk bridge closed this ticket (event {{.EventID}}).`),
	},
	"fr": {
		subject: map[string]*template.Template{
			config.AlertActionRequired:       tpl(`La commande {{.OrderID}} est bloquée à cause {{.ReasonText}}`),
			config.AlertBadRatingWithComment: tpl(`L'acheteur {{.Buyer.Name}} a donné une mauvaise note dans l'enquête de satisfaction de livraison`),
			config.AlertBadRatingNoComment:   tpl(`L'acheteur {{.Buyer.Name}} a donné une mauvaise note dans l'enquête de satisfaction de livraison`),
		},
		reasons: map[string]string{
			ReasonInvalidAddress:   "d'une adresse invalide",
			ReasonInvalidBuyerInfo: "d'informations acheteur invalides",
		},
		body: tpl(`{{if eq .Kind "action-required" -}}
La commande {{.OrderID}} ({{.StoreName}}) est bloquée à cause {{.ReasonText}}.
{{- if .Details}}
Détails : {{.Details}}{{end}}
Elle sera expédiée dès que les informations de l'acheteur seront corrigées.
{{- else -}}
L'acheteur {{.Buyer.Name}} a noté la livraison de la commande {{.OrderID}} ({{.StoreName}}) {{.Score}}/5.
{{- if .Comment}}
Commentaire : « {{.Comment}} »{{else}}
Il n'a laissé aucun commentaire.{{end}}
{{- end}}

Acheteur : {{.Buyer.Name}} <{{.Buyer.Email}}>{{if .Buyer.Phone}}, {{.Buyer.Phone}}{{end}}
{{- with .Order}}

Détails de la commande
{{- if .Marketplace}}
- Place de marché : {{.Marketplace}}{{end}}
{{- if .Status}}
- Statut : {{.Status}}{{end}}
{{- if .CreatedAt}}
- Passée le : {{.CreatedAt.Format "02/01/2006 15:04 MST"}}{{end}}
{{- if .Total}}
- Total : {{.Total}} {{.Currency}}{{end}}
{{- range .Lines}}
- {{.Quantity}} x {{if .Name}}{{.Name}} {{end}}(SKU {{.SKU}}){{end}}
{{- end}}
{{- if .OrderURL}}

Ouvrir la commande : {{.OrderURL}}{{end}}

Note interne créée par le pont helpdesk (événement {{.EventID}}). L'acheteur n'a pas été contacté.`),
		resolved: tpl(`Le problème qui bloquait la commande {{.OrderID}} est résolu{{if .Details}} : {{.Details}}{{else}}.{{end}}
Le pont helpdesk a fermé ce ticket (événement {{.EventID}}).`),
	},
}

func tpl(s string) *template.Template {
	return template.Must(template.New("").Option("missingkey=error").Parse(s))
}

// view is what the templates see.
type view struct {
	RaisePayload
	ReasonText string
	StoreName  string
	OrderURL   string
}

func textsFor(lang string) texts {
	if t, ok := languages[lang]; ok {
		return t
	}
	return languages["en"]
}

// render returns the subject and body of an alert ticket.
func render(lang string, p RaisePayload, store *config.Store) (subject, body string, err error) {
	t := textsFor(lang)
	v := view{RaisePayload: p, ReasonText: t.reasons[p.Reason], StoreName: p.Store}
	if store != nil {
		if store.Name != "" {
			v.StoreName = store.Name
		}
		v.OrderURL = store.OrderLink(p.OrderID)
	}
	st, ok := t.subject[p.Kind]
	if !ok {
		return "", "", fmt.Errorf("alerts: no subject for kind %q", p.Kind)
	}
	var sb, bb bytes.Buffer
	if err := st.Execute(&sb, v); err != nil {
		return "", "", fmt.Errorf("alerts: subject: %w", err)
	}
	if err := t.body.Execute(&bb, v); err != nil {
		return "", "", fmt.Errorf("alerts: body: %w", err)
	}
	return sb.String(), bb.String(), nil
}

// renderResolved returns the note added when the problem is resolved.
func renderResolved(lang string, p ResolvePayload) (string, error) {
	var b bytes.Buffer
	if err := textsFor(lang).resolved.Execute(&b, p); err != nil {
		return "", fmt.Errorf("alerts: resolution note: %w", err)
	}
	return b.String(), nil
}
