package zendesk_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

// FuzzParseWebhook: a delivery is accepted only when signed with the
// secret over its timestamp and body, within the window; an accepted one
// names a positive ticket id and is timed by its signed timestamp; nothing
// panics.
func FuzzParseWebhook(f *testing.F) {
	ts := hookNow.Format(time.RFC3339)
	for _, c := range []struct {
		ts, body string
		sign     bool
	}{
		{ts, `{"event":"agent_reply","ticket_id":"35436","status":"Solved"}`, true},
		{ts, `{"event":"agent_reply","ticket_id":35436,"status":"pending"}`, true},
		{ts, `{"event":"agent_reply","ticket_id":"-1"}`, true},
		{ts, `not json`, true},
		{"1", `{"event":"agent_reply","ticket_id":"1"}`, true},
		{ts, `{"event":"agent_reply","ticket_id":"1"}`, false},
		{"", ``, false},
	} {
		f.Add(c.ts, []byte(c.body), c.sign, "")
	}
	f.Fuzz(func(t *testing.T, ts string, body []byte, sign bool, sig string) {
		if sign {
			sig = base64.StdEncoding.EncodeToString(zendesk.Sign(webhookSecret, ts, body))
		}
		h := http.Header{}
		h.Set(api.HeaderWebhookSignature, sig)
		h.Set(api.HeaderWebhookSignatureTimestamp, ts)
		h.Set(api.HeaderWebhookInvocationID, "42")
		ev, err := zendesk.ParseWebhook(h, body, webhookSecret, hookNow.Add(time.Minute))
		if err != nil {
			var we *connectors.WebhookError
			if !errors.As(err, &we) || (!errors.Is(err, connectors.ErrUnauthorized) && !errors.Is(err, connectors.ErrInvalid)) {
				t.Fatalf("refused with %v, want a WebhookError", err)
			}
			return
		}
		if !sign && sig != base64.StdEncoding.EncodeToString(zendesk.Sign(webhookSecret, h.Get(api.HeaderWebhookSignatureTimestamp), body)) {
			t.Fatalf("accepted a delivery not signed with the secret: %q", sig)
		}
		if n, perr := strconv.ParseInt(ev.TicketID, 10, 64); perr != nil || n < 1 {
			t.Fatalf("ticket id %q is no positive integer", ev.TicketID)
		}
		if ev.At.IsZero() || ev.At.Sub(hookNow) > 10*time.Minute || hookNow.Sub(ev.At) > 10*time.Minute {
			t.Fatalf("event time %s is not the signed timestamp near %s", ev.At, hookNow)
		}
	})
}
