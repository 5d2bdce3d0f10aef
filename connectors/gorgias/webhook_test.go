package gorgias_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
)

func secretHeader(v ...string) http.Header {
	h := http.Header{}
	for _, s := range v {
		h.Add(gorgias.WebhookSecretHeader, s)
	}
	return h
}

func TestParseWebhook(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want connectors.WebhookEvent
	}{
		{
			name: "agent reply rendered with Python booleans",
			body: `{"ticket_id":"12","message_id":"340","from_agent":"True","channel":"email","public":"True","status":"closed"}`,
			want: connectors.WebhookEvent{TicketID: "12", MessageID: "340", DeliveryID: "gorgias-message-340", Status: connectors.StatusSolved, AgentReply: true},
		},
		{
			name: "typed values",
			body: `{"ticket_id":12,"message_id":340,"from_agent":true,"channel":"api","public":true,"status":"open"}`,
			want: connectors.WebhookEvent{TicketID: "12", MessageID: "340", DeliveryID: "gorgias-message-340", Status: connectors.StatusOpen, AgentReply: true},
		},
		{
			name: "internal note",
			body: `{"ticket_id":"12","message_id":"341","from_agent":"True","channel":"internal-note","public":"False","status":"open"}`,
			want: connectors.WebhookEvent{TicketID: "12", MessageID: "341", DeliveryID: "gorgias-message-341", Status: connectors.StatusOpen},
		},
		{
			name: "private although not on the note channel",
			body: `{"ticket_id":"12","message_id":"342","from_agent":"True","channel":"email","public":"False"}`,
			want: connectors.WebhookEvent{TicketID: "12", MessageID: "342", DeliveryID: "gorgias-message-342"},
		},
		{
			name: "customer message (the bridge's own mirrored one)",
			body: `{"ticket_id":"12","message_id":"343","from_agent":"False","channel":"api","public":"True","status":"open"}`,
			want: connectors.WebhookEvent{TicketID: "12", MessageID: "343", DeliveryID: "gorgias-message-343", Status: connectors.StatusOpen},
		},
		{
			name: "no booleans rendered: a candidate the caller confirms",
			body: `{"ticket_id":"12","message_id":"345","from_agent":"","channel":"email","public":""}`,
			want: connectors.WebhookEvent{TicketID: "12", MessageID: "345", DeliveryID: "gorgias-message-345", AgentReply: true},
		},
		{
			name: "public variable rendered empty: the channel decides",
			body: `{"ticket_id":"12","message_id":"344","from_agent":"True","channel":"email","public":"","status":"snoozed"}`,
			want: connectors.WebhookEvent{TicketID: "12", MessageID: "344", DeliveryID: "gorgias-message-344", AgentReply: true},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := gorgias.ParseWebhook(secretHeader("s3cret"), []byte(tc.body), "s3cret")
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("event (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseWebhookRefusals(t *testing.T) {
	t.Parallel()
	const secret = "s3cret-value"
	body := []byte(`{"ticket_id":"12","message_id":"340","from_agent":"True","channel":"email","public":"True"}`)
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		secret string
		kind   error
		field  string
	}{
		{"no secret configured", secretHeader(""), body, "", connectors.ErrUnauthorized, gorgias.WebhookSecretHeader},
		{"missing header", http.Header{}, body, secret, connectors.ErrUnauthorized, gorgias.WebhookSecretHeader},
		{"empty header", secretHeader(""), body, secret, connectors.ErrUnauthorized, gorgias.WebhookSecretHeader},
		{"wrong secret", secretHeader("s3cret-valuE"), body, secret, connectors.ErrUnauthorized, gorgias.WebhookSecretHeader},
		{"secret as a prefix", secretHeader("s3cret"), body, secret, connectors.ErrUnauthorized, gorgias.WebhookSecretHeader},
		{"two secret headers", secretHeader(secret, "other"), body, secret, connectors.ErrUnauthorized, gorgias.WebhookSecretHeader},
		{"not JSON", secretHeader(secret), []byte(`ticket_id=12`), secret, connectors.ErrInvalid, "body"},
		{"object where a value goes", secretHeader(secret), []byte(`{"ticket_id":{"id":12},"message_id":"3"}`), secret, connectors.ErrInvalid, "body"},
		{"no ticket id", secretHeader(secret), []byte(`{"message_id":"340"}`), secret, connectors.ErrInvalid, "ticket_id"},
		{"ticket id not rendered", secretHeader(secret), []byte(`{"ticket_id":"{{ticket.id}}","message_id":"340"}`), secret, connectors.ErrInvalid, "ticket_id"},
		{"negative message id", secretHeader(secret), []byte(`{"ticket_id":"12","message_id":"-1"}`), secret, connectors.ErrInvalid, "message_id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := gorgias.ParseWebhook(tc.header, tc.body, tc.secret)
			if !errors.Is(err, tc.kind) || connectors.WebhookField(err) != tc.field {
				t.Fatalf("err = %v (field %q), want %v naming %q", err, connectors.WebhookField(err), tc.kind, tc.field)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error repeats a secret: %v", err)
			}
		})
	}
}

// TestIntegration pins the HTTP integration the admin creates: its JSON is
// what POST /api/integrations takes, and what the setup guide shows.
func TestIntegration(t *testing.T) {
	t.Parallel()
	got, err := json.Marshal(gorgias.Integration("https://bridge.example.com/hooks/gorgias/acme", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"Helpdesk bridge: agent replies","type":"http","http":{` +
		`"url":"https://bridge.example.com/hooks/gorgias/acme","method":"POST",` +
		`"headers":{"X-Helpdesk-Bridge-Secret":"s3cret"},` +
		`"form":{"channel":"{{message.channel}}","from_agent":"{{message.from_agent}}","message_id":"{{message.id}}","public":"{{message.public}}","status":"{{ticket.status}}","ticket_id":"{{ticket.id}}"},` +
		`"request_content_type":"application/json","response_content_type":"application/json",` +
		`"triggers":{"ticket-message-created":true}}}`
	if string(got) != want {
		t.Errorf("integration JSON:\n got %s\nwant %s", got, want)
	}
	// The returned form is the caller's own.
	in := gorgias.Integration("u", "s")
	in.HTTP.Form["ticket_id"] = "changed"
	if gorgias.WebhookForm["ticket_id"] != "{{ticket.id}}" {
		t.Error("Integration shares WebhookForm with its caller")
	}
}
