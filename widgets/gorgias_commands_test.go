package widgets

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/helpdesk-bridge/bridge/orders"
)

// post sends one message as Gorgias's integration would, form-encoded.
func (f *actionFixture) command(t *testing.T, token string, form url.Values) (int, CommandAnswer) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, CommandsPath, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Authorization", "Bearer "+token)
	w := f.do(t, r)
	var a CommandAnswer
	_ = json.Unmarshal(w.Body.Bytes(), &a)
	return w.Code, a
}

func note(body string) url.Values {
	return url.Values{"ticket_id": {"4242"}, "message_id": {"9"}, "from_agent": {"True"}, "public": {"False"}, "body": {body}}
}

// An agent's internal note whose first line is a command asks for the
// action, with its arguments, as the Gorgias sidebar.
func TestGorgiasCommandShips(t *testing.T) {
	f := newActionFixture(t, "")
	status, a := f.command(t, tokGorgias, note("\n  order: ship A carrier=UPS tracking=1Z99 carrier_name=\"\" url=https://t.example/1Z99\nThanks!"))
	if status != 200 || a.Status != "requested" || a.Action == nil {
		t.Fatalf("answer %d %+v", status, a)
	}
	got := f.acts.asked()
	if len(got) != 1 {
		t.Fatalf("requests %+v", got)
	}
	r := got[0]
	if r.Store != "acme-fr" || r.OrderID != "A" || r.Kind != orders.ActShip || r.Args.CarrierCode != "UPS" || r.Args.TrackingNumber != "1Z99" ||
		r.Args.TrackingURL != "https://t.example/1Z99" || r.By.Source != "gorgias" || r.By.ID != "acme-gorgias" || r.By.Agent != "Gorgias ticket 4242" {
		t.Errorf("request %+v", r)
	}
}

// A customer's message, a public reply and an ordinary note never act;
// they are answered 200, so that Gorgias does not count them as failures.
func TestGorgiasCommandIgnoresWhatIsNotAnAgentsNote(t *testing.T) {
	f := newActionFixture(t, "")
	for name, form := range map[string]url.Values{
		"customer":      {"from_agent": {"False"}, "public": {"True"}, "body": {"Order: ship A"}},
		"public reply":  {"from_agent": {"True"}, "public": {"True"}, "body": {"Order: ship A"}},
		"not rendered":  {"from_agent": {"{{message.from_agent}}"}, "public": {"{{message.public}}"}, "body": {"Order: ship A"}},
		"ordinary note": note("Customer called about order A"),
		"second line":   note("Hello\nOrder: ship A"),
	} {
		status, a := f.command(t, tokGorgias, form)
		if status != 200 || a.Status != "ignored" {
			t.Errorf("%s: %d %+v", name, status, a)
		}
	}
	if got := f.acts.asked(); len(got) != 0 {
		t.Errorf("requests %+v", got)
	}
}

// A bad or forbidden command is refused, with the error a caller of the
// API would get, and asks for nothing; a token that is no Gorgias
// sidebar's is an error.
func TestGorgiasCommandRefusals(t *testing.T) {
	f := newActionFixture(t, "")
	for body, code := range map[string]string{
		"Order: ship":                                "invalid_field",
		"Order: teleport A":                          "invalid_field",
		"Order: ship A colour=blue":                  "invalid_field",
		`Order: ship A carrier="UPS`:                 "invalid_field",
		"Order: accept B":                            orders.CodeActionForbidden, // the sidebar allows ship and cancel
		"Order: ship NOPE":                           orders.CodeOrderNotFound,
		"Order: ship A store=acme-de":                CodeStoreNotAllowed,
		"Order: ship A " + strings.Repeat("x", 2100): "invalid_field",
	} {
		status, a := f.command(t, tokGorgias, note(body))
		if status != 200 || a.Status != "refused" || a.Error == nil || a.Error.Code != code {
			t.Errorf("%.40q: %d %+v, want refused with %s", body, status, a, code)
		}
	}
	if got := f.acts.asked(); len(got) != 0 {
		t.Errorf("requests %+v", got)
	}
	if status, _ := f.command(t, tokShip, note("Order: ship A")); status != http.StatusForbidden {
		t.Errorf("an HTML sidebar's token: %d, want 403", status)
	}
	if status, _ := f.command(t, "", note("Order: ship A")); status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", status)
	}
	r := httptest.NewRequest(http.MethodPost, CommandsPath, strings.NewReader("{"))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Authorization", "Bearer "+tokGorgias)
	if w := f.do(t, r); w.Code != http.StatusBadRequest {
		t.Errorf("a body that is not JSON: %d", w.Code)
	}
}

func TestParseCommand(t *testing.T) {
	t.Parallel()
	cmd, err := parseCommand(` cancel_lines A-1 reason=34 line=MUG-01:1 line="BIG MUG" store=acme-fr`)
	if err != nil {
		t.Fatal(err)
	}
	if cmd.kind != orders.ActCancelLines || cmd.orderID != "A-1" || cmd.store != "acme-fr" || cmd.args.Reason != "34" ||
		len(cmd.args.Lines) != 2 || cmd.args.Lines[0] != (orders.LineRef{SKU: "MUG-01", Quantity: 1}) || cmd.args.Lines[1].SKU != "BIG MUG" {
		t.Errorf("parsed %+v", cmd)
	}
	if _, err := parseCommand("cancel_lines A line=MUG:x"); err == nil {
		t.Error("a quantity that is no number was accepted")
	}
}
