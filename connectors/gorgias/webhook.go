package gorgias

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
)

// How agents' replies reach the bridge. Gorgias has no webhooks as such:
// an admin creates an HTTP integration (Settings → Apps → HTTP
// integration, or POST /api/integrations) that Gorgias calls on a trigger.
// Gorgias does not sign these calls (no signature header is documented;
// UNVERIFIED that there is none), so the integration sends a secret header
// the admin sets, and ParseWebhook compares it in constant time.
//
// The integration the admin creates is exactly Integration(url, secret):
//
//	Name:     Helpdesk bridge: agent replies
//	URL:      the bridge's Gorgias webhook URL for this account, https
//	Method:   POST
//	Headers:  X-Helpdesk-Bridge-Secret: <a long random secret>
//	Request content type:  application/json
//	Response content type: application/json
//	Trigger:  Ticket message created (ticket-message-created) only
//	Body:     WebhookForm, key by key:
//	  ticket_id  {{ticket.id}}
//	  message_id {{message.id}}
//	  from_agent {{message.from_agent}}
//	  channel    {{message.channel}}
//	  public     {{message.public}}
//	  status     {{ticket.status}}
//
// Template variables: {{ticket.id}} is in the official docs; the others
// appear in public integration code only, so they are UNVERIFIED.
// {{message.public}} is the least certain: when it renders empty, only the
// channel tells an internal note from a reply. Public code also reports
// that booleans render as Python's True and False, which ParseWebhook
// reads along with true/false.
//
// The body carries ids and flags only, never message text: a template
// value is pasted into the body as is, and text could hold anything. The
// bridge reads the message itself with ListMessages.
//
// The trigger fires on every message, the bridge's own included
// (mirrored customer messages, operator notes). ParseWebhook reports
// AgentReply unless the payload shows a customer's message or an internal
// note, so the bridge's writes are not echoed back; the bridge confirms a
// reply on the message itself (ListMessages: public, not the customer's,
// no external id of its own) before relaying it. The endpoint must answer
// 2xx to every authentic call, because Gorgias disables an integration
// after 100 failures in a row.

// WebhookSecretHeader is the header the integration sends the shared secret
// in.
const WebhookSecretHeader = "X-Helpdesk-Bridge-Secret"

// WebhookForm is the integration's request body template.
var WebhookForm = map[string]string{
	"ticket_id":  "{{ticket.id}}",
	"message_id": "{{message.id}}",
	"from_agent": "{{message.from_agent}}",
	"channel":    "{{message.channel}}",
	"public":     "{{message.public}}",
	"status":     "{{ticket.status}}",
}

// Integration returns the HTTP integration an admin creates so that
// agents' replies reach the bridge at url. It holds the secret: never log
// it.
func Integration(url, secret string) api.Integration {
	return messageIntegration("Helpdesk bridge: agent replies", url, WebhookSecretHeader, secret, WebhookForm, "application/json")
}

// messageIntegration is an HTTP integration that POSTs each new message
// of a ticket to url, with one header.
func messageIntegration(name, url, header, value string, form map[string]string, contentType string) api.Integration {
	return api.Integration{
		Name: name,
		Type: api.IntegrationTypeHTTP,
		HTTP: &api.HTTPIntegration{
			URL:                 url,
			Method:              http.MethodPost,
			Headers:             map[string]string{header: value},
			Form:                maps.Clone(form),
			RequestContentType:  contentType,
			ResponseContentType: "application/json",
			Triggers:            map[string]bool{api.TriggerTicketMessageCreated: true},
		},
	}
}

// webhookBody is the rendered WebhookForm. Every value arrives as a string;
// numbers and booleans are read too, in case a template is typed.
type webhookBody struct {
	TicketID  connectors.FlexString `json:"ticket_id"`
	MessageID connectors.FlexString `json:"message_id"`
	FromAgent connectors.FlexString `json:"from_agent"`
	Channel   connectors.FlexString `json:"channel"`
	Public    connectors.FlexString `json:"public"`
	Status    connectors.FlexString `json:"status"`
}

// ParseWebhook authenticates one call of the integration by its secret
// header and reads it. Errors are *connectors.WebhookError: ErrUnauthorized
// for a missing or wrong secret (answer 401), ErrInvalid for an authentic
// but unreadable body (answer 400).
func ParseWebhook(header http.Header, body []byte, secret string) (connectors.WebhookEvent, error) {
	if secret == "" {
		// Fail closed: an unconfigured secret must not accept everyone.
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(WebhookSecretHeader, "no secret is configured")
	}
	got := header.Values(WebhookSecretHeader)
	if len(got) == 0 || got[0] == "" {
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(WebhookSecretHeader, "missing")
	}
	// Comparing digests keeps the comparison constant-time whatever the
	// lengths.
	want, have := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(got[0]))
	if len(got) != 1 || subtle.ConstantTimeCompare(want[:], have[:]) != 1 {
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(WebhookSecretHeader, "does not match")
	}

	var b webhookBody
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&b); err != nil {
		return connectors.WebhookEvent{}, connectors.WebhookMalformed("body", "not a JSON object of the integration's fields")
	}
	ticketID, ok := positiveID(string(b.TicketID))
	if !ok {
		return connectors.WebhookEvent{}, connectors.WebhookMalformed("ticket_id", "missing or not a positive integer")
	}
	messageID, ok := positiveID(string(b.MessageID))
	if !ok {
		return connectors.WebhookEvent{}, connectors.WebhookMalformed("message_id", "missing or not a positive integer")
	}
	// A variable that rendered empty tells nothing: the event stays a
	// candidate, which the caller confirms on the message it reads. Only
	// what the payload does say rules a reply out, so that an unverified
	// variable cannot make replies vanish.
	fromAgent, fromAgentKnown := parseBool(string(b.FromAgent))
	public, publicKnown := parseBool(string(b.Public))
	channel := strings.TrimSpace(string(b.Channel))
	ev := connectors.WebhookEvent{
		TicketID:  ticketID,
		MessageID: messageID,
		// A message is created once, so its id names the event: a retried
		// call carries the same one.
		DeliveryID: "gorgias-message-" + messageID,
		AgentReply: (fromAgent || !fromAgentKnown) && (public || !publicKnown) && channel != api.ChannelInternalNote,
	}
	switch strings.ToLower(strings.TrimSpace(string(b.Status))) {
	case api.StatusOpen:
		ev.Status = connectors.StatusOpen
	case api.StatusClosed:
		ev.Status = connectors.StatusSolved
	}
	return ev, nil
}

// parseBool reads a rendered boolean: Python's True/False, JSON's
// true/false, or 1/0. An empty or other value is unknown.
func parseBool(s string) (value, known bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1":
		return true, true
	case "false", "0":
		return false, true
	}
	return false, false
}

// positiveID normalises a rendered id, refusing anything but a positive
// integer.
func positiveID(s string) (string, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 1 {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

// CommandForm is the body of the HTTP integration that brings agents'
// order commands (internal notes starting "Order:") to the bridge's
// Gorgias sidebar; see the README. message.body_text is UNVERIFIED, like
// the other variables beyond ticket.id.
var CommandForm = map[string]string{
	"ticket_id":  "{{ticket.id}}",
	"message_id": "{{message.id}}",
	"from_agent": "{{message.from_agent}}",
	"public":     "{{message.public}}",
	"body":       "{{message.body_text}}",
}

// CommandIntegration returns the HTTP integration an admin creates so
// that agents' order commands reach the bridge at url, authenticated by
// the Gorgias sidebar's token. It is form-encoded: whether Gorgias
// escapes a message's text inside a JSON template is UNVERIFIED, and a
// quote left as it is would break the JSON. It holds the token: never
// log it.
func CommandIntegration(url, sidebarToken string) api.Integration {
	return messageIntegration("Helpdesk bridge: order commands", url, "Authorization", "Bearer "+sidebarToken, CommandForm, "application/x-www-form-urlencoded")
}
