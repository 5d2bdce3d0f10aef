package widgets

import "github.com/helpdesk-bridge/bridge/orders"

// actionLang is the wording of the action buttons and pages in one
// language.
type actionLang struct {
	Code string
	// verbs name each action on its button and page.
	verbs map[string]string
	// states name an action's states in the order's "last action" line.
	states map[string]string

	ConfirmTitle, Order, Store, Marketplace, Status, Agent, AgentHint, Submit, CancelHint string
	CarrierCode, CarrierName, ShippingMethod, TrackingNumber, TrackingURL, CarrierHint    string
	Reason, ReasonHint, RefuseLines, RefuseLinesHint, CancelQty, QuantityOf               string
	Requested, RequestedHint, RefusedTitle, ErrorTitle, Back                              string
}

// summary is an order's "last action" line: the action and its state,
// with the marketplace's Reason when refused or failed.
func (l *actionLang) summary(a *orders.OrderAction) string {
	verb, ok := l.verbs[a.Kind]
	if !ok {
		verb = a.Kind
	}
	state, ok := l.states[a.State]
	if !ok {
		state = a.State
	}
	s := verb + " — " + state
	if a.Reason != "" && (a.State == orders.Refused || a.State == orders.Failed) {
		s += ": " + a.Reason
	}
	return s
}

func actionLangOf(lang string) *actionLang {
	if lang == "fr" {
		return actionLangFR
	}
	return actionLangEN
}

var actionLangEN = &actionLang{
	Code: "en",
	verbs: map[string]string{
		orders.ActAccept: "Accept", orders.ActRefuse: "Refuse", orders.ActShip: "Ship",
		orders.ActCancel: "Cancel", orders.ActCancelLines: "Cancel lines",
	},
	states: map[string]string{
		orders.Synchronizing: "waiting for the marketplace", orders.Confirmed: "confirmed",
		orders.Refused: "refused", orders.Failed: "failed",
	},
	ConfirmTitle: "Confirm the action", Order: "Order", Store: "Store", Marketplace: "Marketplace", Status: "Status",
	Agent: "Your name (optional)", AgentHint: "Recorded with the action, as given.",
	Submit: "Confirm", CancelHint: "Close this tab to do nothing.",
	CarrierCode: "Carrier code", CarrierName: "Carrier name", ShippingMethod: "Shipping method",
	TrackingNumber: "Tracking number", TrackingURL: "Tracking URL",
	CarrierHint: "Give the carrier code the marketplace knows, or the name of another carrier, not both.",
	Reason:      "Reason code", ReasonHint: "The marketplace's reason code.",
	RefuseLines: "Lines to refuse", RefuseLinesHint: "Ticked lines are refused; the others are accepted.",
	CancelQty: "Quantity to cancel", QuantityOf: "of",
	Requested:     "Action requested",
	RequestedHint: "The order shows synchronizing until the marketplace confirms the action.",
	RefusedTitle:  "Action refused", ErrorTitle: "The action could not be asked for", Back: "Back to the confirmation",
}

var actionLangFR = &actionLang{
	Code: "fr",
	verbs: map[string]string{
		orders.ActAccept: "Accepter", orders.ActRefuse: "Refuser", orders.ActShip: "Expédier",
		orders.ActCancel: "Annuler", orders.ActCancelLines: "Annuler des lignes",
	},
	states: map[string]string{
		orders.Synchronizing: "en attente de la marketplace", orders.Confirmed: "confirmée",
		orders.Refused: "refusée", orders.Failed: "échouée",
	},
	ConfirmTitle: "Confirmer l’action", Order: "Commande", Store: "Boutique", Marketplace: "Marketplace", Status: "Statut",
	Agent: "Votre nom (facultatif)", AgentHint: "Enregistré avec l’action, tel quel.",
	Submit: "Confirmer", CancelHint: "Fermez cet onglet pour ne rien faire.",
	CarrierCode: "Code transporteur", CarrierName: "Nom du transporteur", ShippingMethod: "Méthode d’expédition",
	TrackingNumber: "Numéro de suivi", TrackingURL: "URL de suivi",
	CarrierHint: "Indiquez le code transporteur connu de la marketplace, ou le nom d’un autre transporteur, pas les deux.",
	Reason:      "Code motif", ReasonHint: "Le code motif de la marketplace.",
	RefuseLines: "Lignes à refuser", RefuseLinesHint: "Les lignes cochées sont refusées ; les autres sont acceptées.",
	CancelQty: "Quantité à annuler", QuantityOf: "sur",
	Requested:     "Action demandée",
	RequestedHint: "La commande affiche « synchronisation » jusqu’à ce que la marketplace confirme l’action.",
	RefusedTitle:  "Action refusée", ErrorTitle: "L’action n’a pas pu être demandée", Back: "Revenir à la confirmation",
}
