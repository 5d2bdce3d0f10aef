package zendesk_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

var hookNow = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		header func(http.Header)
		want   connectors.WebhookEvent
	}{
		{
			name: "reply and solve, status as its display name",
			body: `{"event":"agent_reply","ticket_id":"35436","status":"Solved"}`,
			want: connectors.WebhookEvent{TicketID: "35436", DeliveryID: "zendesk-invocation-42", Status: connectors.StatusSolved, AgentReply: true},
		},
		{
			name: "pending, ticket id as a number",
			body: `{"event":"agent_reply","ticket_id":35436,"status":"pending"}`,
			want: connectors.WebhookEvent{TicketID: "35436", DeliveryID: "zendesk-invocation-42", Status: connectors.StatusPending, AgentReply: true},
		},
		{
			name: "on-hold is open work",
			body: `{"event":"agent_reply","ticket_id":"7","status":"On-hold"}`,
			want: connectors.WebhookEvent{TicketID: "7", DeliveryID: "zendesk-invocation-42", Status: connectors.StatusOpen, AgentReply: true},
		},
		{
			name: "a localised status is unknown",
			body: `{"event":"agent_reply","ticket_id":"7","status":"Résolu"}`,
			want: connectors.WebhookEvent{TicketID: "7", DeliveryID: "zendesk-invocation-42", AgentReply: true},
		},
		{
			name: "another trigger's call is no reply",
			body: `{"event":"ticket_updated","ticket_id":"7"}`,
			want: connectors.WebhookEvent{TicketID: "7", DeliveryID: "zendesk-invocation-42"},
		},
		{
			name:   "no invocation id",
			body:   `{"event":"agent_reply","ticket_id":"7"}`,
			header: func(h http.Header) { h.Del(api.HeaderWebhookInvocationID) },
			want:   connectors.WebhookEvent{TicketID: "7", AgentReply: true},
		},
		{
			name:   "an invocation id that is no id",
			body:   `{"event":"agent_reply","ticket_id":"7"}`,
			header: func(h http.Header) { h.Set(api.HeaderWebhookInvocationID, "42; drop") },
			want:   connectors.WebhookEvent{TicketID: "7", AgentReply: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := signed([]byte(tc.body), webhookSecret, hookNow)
			if tc.header != nil {
				tc.header(d.Header)
			}
			got, err := zendesk.ParseWebhook(d.Header, d.Body, webhookSecret, hookNow.Add(time.Minute))
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			// The event is timed by its signed invocation time, not by
			// when the bridge read it.
			if !got.At.Equal(hookNow) {
				t.Errorf("At = %s, want the signed timestamp %s", got.At, hookNow)
			}
			got.At = time.Time{}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseWebhookUnixTimestamp(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"agent_reply","ticket_id":"7"}`)
	ts := strconv.FormatInt(hookNow.Unix(), 10)
	h := http.Header{}
	h.Set(api.HeaderWebhookSignatureTimestamp, ts)
	h.Set(api.HeaderWebhookSignature, base64.StdEncoding.EncodeToString(zendesk.Sign(webhookSecret, ts, body)))
	if _, err := zendesk.ParseWebhook(h, body, webhookSecret, hookNow); err != nil {
		t.Errorf("a Unix timestamp: %v", err)
	}
}

func TestParseWebhookRefusals(t *testing.T) {
	t.Parallel()
	body := []byte(`{"event":"agent_reply","ticket_id":"35436","status":"Open"}`)
	tests := []struct {
		name   string
		change func(h http.Header, body []byte) []byte
		secret string
		now    time.Time
		kind   error
		field  string
	}{
		{name: "no secret configured", secret: "-", kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignature},
		{name: "no signature", change: func(h http.Header, b []byte) []byte { h.Del(api.HeaderWebhookSignature); return b }, kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignature},
		{name: "no timestamp", change: func(h http.Header, b []byte) []byte { h.Del(api.HeaderWebhookSignatureTimestamp); return b }, kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignatureTimestamp},
		{name: "signature not base64", change: func(h http.Header, b []byte) []byte { h.Set(api.HeaderWebhookSignature, "%%%"); return b }, kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignature},
		{name: "hex instead of base64", change: func(h http.Header, b []byte) []byte {
			h.Set(api.HeaderWebhookSignature, strings.Repeat("ab", 32))
			return b
		}, kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignature},
		{name: "wrong secret", secret: "not-" + webhookSecret, kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignature},
		{name: "body tampered", change: func(h http.Header, b []byte) []byte {
			return []byte(strings.Replace(string(b), "35436", "35437", 1))
		}, kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignature},
		{name: "timestamp moved", change: func(h http.Header, b []byte) []byte {
			h.Set(api.HeaderWebhookSignatureTimestamp, hookNow.Add(time.Second).Format(time.RFC3339))
			return b
		}, kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignature},
		{name: "stale", now: hookNow.Add(zendesk.MaxWebhookAge + time.Second), kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignatureTimestamp},
		{name: "from the future", now: hookNow.Add(-zendesk.MaxWebhookAge - time.Second), kind: connectors.ErrUnauthorized, field: api.HeaderWebhookSignatureTimestamp},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := signed(body, webhookSecret, hookNow)
			b := d.Body
			if tc.change != nil {
				b = tc.change(d.Header, b)
			}
			secret := cmpOr(tc.secret, webhookSecret)
			if secret == "-" {
				secret = ""
			}
			now := tc.now
			if now.IsZero() {
				now = hookNow
			}
			_, err := zendesk.ParseWebhook(d.Header, b, secret, now)
			if !errors.Is(err, tc.kind) || connectors.WebhookField(err) != tc.field {
				t.Fatalf("err = %v (field %q), want %v naming %q", err, connectors.WebhookField(err), tc.kind, tc.field)
			}
			if strings.Contains(err.Error(), webhookSecret) {
				t.Errorf("the error repeats the secret")
			}
		})
	}
}

func TestParseWebhookMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, body, field string }{
		{"not JSON", `ticket_id=7`, "body"},
		{"nested ticket id", `{"ticket_id":{"id":7}}`, "body"},
		{"no ticket id", `{"event":"agent_reply"}`, "ticket_id"},
		{"placeholder not rendered", `{"event":"agent_reply","ticket_id":"{{ticket.id}}"}`, "ticket_id"},
		{"zero ticket id", `{"event":"agent_reply","ticket_id":"0"}`, "ticket_id"},
	} {
		d := signed([]byte(tc.body), webhookSecret, hookNow)
		_, err := zendesk.ParseWebhook(d.Header, d.Body, webhookSecret, hookNow)
		if !errors.Is(err, connectors.ErrInvalid) || connectors.WebhookField(err) != tc.field {
			t.Errorf("%s: err = %v, want ErrInvalid naming %q", tc.name, err, tc.field)
		}
	}
}

// TestWebhookAndTrigger pins what the admin creates: the JSON bodies of
// Create Webhook and Create Trigger.
func TestWebhookAndTrigger(t *testing.T) {
	t.Parallel()
	hook, err := json.Marshal(api.WebhookRequest{Webhook: zendesk.Webhook("https://bridge.example.com/hooks/zendesk/acme")})
	if err != nil {
		t.Fatal(err)
	}
	wantHook := `{"webhook":{"name":"Helpdesk bridge: agent replies","endpoint":"https://bridge.example.com/hooks/zendesk/acme",` +
		`"http_method":"POST","request_format":"json","status":"active","subscriptions":["conditional_ticket_events"]}}`
	if string(hook) != wantHook {
		t.Errorf("webhook JSON:\n got %s\nwant %s", hook, wantHook)
	}
	trigger, err := json.Marshal(api.TriggerRequest{Trigger: zendesk.Trigger("01HWEBHOOK")})
	if err != nil {
		t.Fatal(err)
	}
	wantTrigger := `{"trigger":{"title":"Helpdesk bridge: relay agents' public replies","conditions":{"all":[` +
		`{"field":"update_type","operator":"is","value":"Change"},` +
		`{"field":"comment_is_public","operator":"is","value":"true"},` +
		`{"field":"role","operator":"is_not","value":"end_user"},` +
		`{"field":"current_via_id","operator":"is_not","value":"5"}]},` +
		`"actions":[{"field":"notification_webhook","value":["01HWEBHOOK",` +
		`"{\"event\":\"agent_reply\",\"ticket_id\":\"{{ticket.id}}\",\"status\":\"{{ticket.status}}\"}"]}]}}`
	if string(trigger) != wantTrigger {
		t.Errorf("trigger JSON:\n got %s\nwant %s", trigger, wantTrigger)
	}
	var rendered map[string]string
	if err := json.Unmarshal([]byte(zendesk.WebhookBody), &rendered); err != nil {
		t.Errorf("WebhookBody is not JSON: %v", err)
	}
}
