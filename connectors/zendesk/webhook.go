package zendesk

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

// How agents' replies reach the bridge. The admin creates a webhook and a
// trigger that calls it:
//
//  1. The webhook, Webhook(url): POST /api/v2/webhooks with
//     {"webhook": {"name": "Helpdesk bridge: agent replies",
//     "endpoint": "<the bridge's Zendesk webhook URL for this account>",
//     "http_method": "POST", "request_format": "json", "status": "active",
//     "subscriptions": ["conditional_ticket_events"]}}
//     (Admin Center → Apps and integrations → Webhooks). Its signing
//     secret (GET /api/v2/webhooks/{id}/signing_secret, or "Reveal
//     secret" in the UI) goes into the bridge's configuration.
//  2. The trigger, Trigger(webhookID): conditions (all of) "Ticket is
//     updated" (update_type is Change), "Comment is public"
//     (comment_is_public is true), "Current user is not an end user"
//     (role is_not end_user), and "Update via is not Web service (API)"
//     (current_via_id is_not 5), which leaves out every update the bridge
//     makes itself; action "Notify by webhook" with the webhook and the
//     JSON body WebhookBody:
//     {"event":"agent_reply","ticket_id":"{{ticket.id}}","status":"{{ticket.status}}"}
//
// The condition field names and values come from the Conditions reference
// as public client code spells them (update_type, comment_is_public,
// current_via_id with 5 for the API); the value "end_user" of role is
// UNVERIFIED. The same "Update via is not Web service (API)" condition
// belongs in the account's "Notify requester" triggers, so that a
// customer's mirrored message is not mailed back to them.
//
// No placeholder for the id of the comment that fired the trigger was
// found, so the event names the ticket only and the bridge finds the new
// comments with ListMessages (the ones without the bridge's external id).
// {{ticket.status}} renders after the update, so an agent's "submit as
// solved" arrives as solved; it renders the status's display name
// ("Solved"), read here case-insensitively. A display name in another
// language is not known and leaves Status empty (UNVERIFIED whether
// Zendesk localises it in webhooks).
//
// Zendesk signs every call: X-Zendesk-Webhook-Signature is
// base64(HMAC-SHA256(secret, timestamp + body)) with the timestamp in
// X-Zendesk-Webhook-Signature-Timestamp (RFC 3339 in the examples; Unix
// seconds are read too). ParseWebhook checks it in constant time and
// refuses a timestamp more than MaxWebhookAge from now either way, so a
// captured call cannot be replayed later. X-Zendesk-Webhook-Invocation-Id
// names the invocation for dedupe; it is not signed, which only lets a
// replay inside the window look new, and the bridge's relaying is
// idempotent per comment anyway.

// MaxWebhookAge is how far a call's signed timestamp may be from now.
const MaxWebhookAge = 5 * time.Minute

// WebhookBody is the JSON body of the trigger's webhook action.
const WebhookBody = `{"event":"agent_reply","ticket_id":"{{ticket.id}}","status":"{{ticket.status}}"}`

// webhookEventAgentReply is WebhookBody's event.
const webhookEventAgentReply = "agent_reply"

// Webhook returns the webhook an admin creates so that the trigger can
// call the bridge at endpoint.
func Webhook(endpoint string) api.Webhook {
	return api.Webhook{
		Name:          "Helpdesk bridge: agent replies",
		Endpoint:      endpoint,
		HTTPMethod:    http.MethodPost,
		RequestFormat: "json",
		Status:        "active",
		Subscriptions: []string{"conditional_ticket_events"},
	}
}

// Trigger returns the trigger that calls webhook webhookID when an agent
// adds a public comment outside the API.
func Trigger(webhookID string) api.Trigger {
	return api.Trigger{
		Title: "Helpdesk bridge: relay agents' public replies",
		Conditions: api.Conditions{All: []api.Condition{
			{Field: "update_type", Operator: "is", Value: "Change"},
			{Field: "comment_is_public", Operator: "is", Value: "true"},
			{Field: "role", Operator: "is_not", Value: "end_user"},
			{Field: "current_via_id", Operator: "is_not", Value: "5"},
		}},
		Actions: []api.Action{{Field: "notification_webhook", Value: []string{webhookID, WebhookBody}}},
	}
}

// webhookBody is the rendered WebhookBody; ids may come as numbers if an
// admin drops the quotes.
type webhookBody struct {
	Event    connectors.FlexString `json:"event"`
	TicketID connectors.FlexString `json:"ticket_id"`
	Status   connectors.FlexString `json:"status"`
}

// invocationID keeps only ids that look like ids: the header is not
// signed.
var invocationID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ParseWebhook verifies one webhook call's signature and age against now,
// and reads it. Errors are *connectors.WebhookError: ErrUnauthorized for a
// missing, unreadable or wrong signature or timestamp, or a stale one
// (answer 401), ErrInvalid for a verified but unreadable body (answer
// 400).
func ParseWebhook(header http.Header, body []byte, secret string, now time.Time) (connectors.WebhookEvent, error) {
	if secret == "" {
		// Fail closed: an unconfigured secret must not accept everyone.
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(api.HeaderWebhookSignature, "no signing secret is configured")
	}
	sig := header.Get(api.HeaderWebhookSignature)
	if sig == "" {
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(api.HeaderWebhookSignature, "missing")
	}
	ts := header.Get(api.HeaderWebhookSignatureTimestamp)
	if ts == "" {
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(api.HeaderWebhookSignatureTimestamp, "missing")
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(api.HeaderWebhookSignature, "not base64")
	}
	if !hmac.Equal(got, Sign(secret, ts, body)) {
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(api.HeaderWebhookSignature, "does not match")
	}
	at, ok := parseTimestamp(ts)
	if !ok {
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(api.HeaderWebhookSignatureTimestamp, "unreadable")
	}
	if d := now.Sub(at); d > MaxWebhookAge || d < -MaxWebhookAge {
		return connectors.WebhookEvent{}, connectors.WebhookUnauthorized(api.HeaderWebhookSignatureTimestamp, "outside the accepted window: stale or replayed")
	}

	var b webhookBody
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&b); err != nil {
		return connectors.WebhookEvent{}, connectors.WebhookMalformed("body", "not a JSON object of the trigger's fields")
	}
	ticketID, err := strconv.ParseInt(strings.TrimSpace(string(b.TicketID)), 10, 64)
	if err != nil || ticketID < 1 {
		return connectors.WebhookEvent{}, connectors.WebhookMalformed("ticket_id", "missing or not a positive integer")
	}
	ev := connectors.WebhookEvent{
		// The signed invocation time: a redelivery of one invocation is
		// dropped by its id, so this is when the update fired the trigger.
		At:         at,
		TicketID:   strconv.FormatInt(ticketID, 10),
		AgentReply: strings.TrimSpace(string(b.Event)) == webhookEventAgentReply,
	}
	if id := header.Get(api.HeaderWebhookInvocationID); invocationID.MatchString(id) {
		ev.DeliveryID = "zendesk-invocation-" + id
	}
	switch strings.ToLower(strings.TrimSpace(string(b.Status))) {
	case api.StatusNew, api.StatusOpen, api.StatusHold, "on-hold":
		// "On-hold" is hold's display name.
		ev.Status = connectors.StatusOpen
	case api.StatusPending:
		ev.Status = connectors.StatusPending
	case api.StatusSolved, api.StatusClosed:
		ev.Status = connectors.StatusSolved
	}
	return ev, nil
}

// Sign is the signature Zendesk puts on a call: HMAC-SHA256 of the
// timestamp followed by the body, keyed with the webhook's signing secret
// (send it base64-encoded). The fake computes it on its own, so that a
// mistake here cannot hide behind the same mistake there.
func Sign(secret, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write(body)
	return mac.Sum(nil)
}

func parseTimestamp(ts string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, ts); err == nil {
		return t, true
	}
	if secs, err := strconv.ParseInt(ts, 10, 64); err == nil && secs > 0 {
		return time.Unix(secs, 0), true
	}
	return time.Time{}, false
}
