package gorgias_test

import (
	"errors"
	"net/http"
	"strconv"
	"testing"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias"
)

// FuzzParseWebhook: a delivery of the reply integration is refused as
// unauthenticated unless it carries the secret, is otherwise refused as
// malformed or read into a positive ticket and message id, and never
// panics, whatever its body.
func FuzzParseWebhook(f *testing.F) {
	const secret = "gorgias-webhook-secret-0123456789"
	for _, c := range []struct {
		header, body string
	}{
		{secret, `{"ticket_id":"42","message_id":"7","from_agent":"True","channel":"email","public":"True","status":"closed"}`},
		{secret, `{"ticket_id":42,"message_id":7,"from_agent":true}`},
		{secret, `{"ticket_id":"","message_id":"7"}`},
		{secret, `{"ticket_id":{"a":1}}`},
		{secret, `[]`},
		{"wrong", `{"ticket_id":"42","message_id":"7"}`},
		{"", ``},
	} {
		f.Add(c.header, []byte(c.body))
	}
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		h := http.Header{}
		h.Set(gorgias.WebhookSecretHeader, header)
		ev, err := gorgias.ParseWebhook(h, body, secret)
		var we *connectors.WebhookError
		switch {
		case h.Get(gorgias.WebhookSecretHeader) != secret:
			if !errors.Is(err, connectors.ErrUnauthorized) {
				t.Fatalf("a delivery without the secret: %+v, %v", ev, err)
			}
		case err != nil:
			if !errors.As(err, &we) || !errors.Is(err, connectors.ErrInvalid) || we.Field == "" {
				t.Fatalf("an authentic delivery refused with %v, want a malformed field", err)
			}
		default:
			if n, perr := strconv.ParseInt(ev.TicketID, 10, 64); perr != nil || n < 1 || strconv.FormatInt(n, 10) != ev.TicketID {
				t.Fatalf("ticket id %q is no positive integer", ev.TicketID)
			}
			if n, perr := strconv.ParseInt(ev.MessageID, 10, 64); perr != nil || n < 1 {
				t.Fatalf("message id %q is no positive integer", ev.MessageID)
			}
		}
	})
}
