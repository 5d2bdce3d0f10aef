package widgets

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/helpdesk-bridge/bridge/orders"
)

// TestBrowserOrderAction walks an agent through an action in a real
// headless Chromium: the HTML sidebar's Ship button, its confirmation
// page, the form filled and sent, the result page. Then a page of another
// origin posts the same form with a valid token, and a plain POST sends
// none: both are refused and reach no action.
func TestBrowserOrderAction(t *testing.T) {
	execPath := chromiumPath(t)
	f := newActionFixture(t, "")
	// The helpdesk's side: it fetches the HTML widget with the sidebar's
	// token and shows it; here the token is added on the way.
	bridge := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/widgets/html" {
			r.Header.Set("Authorization", "Bearer "+tokShip)
		}
		f.eng.ServeHTTP(w, r)
	}))
	defer bridge.Close()
	browser := startBrowser(t, execPath)

	if err := chromedp.Do(browser, chromedp.Navigate(bridge.URL+"/v1/widgets/html?email=jeanne@example.com")); err != nil {
		t.Fatal(err)
	}
	type button struct {
		Href   string `json:"href"`
		Target string `json:"target"`
		Rel    string `json:"rel"`
		Text   string `json:"text"`
	}
	ship, err := chromedp.Run(browser, chromedp.Evaluate[button](`(() => {
		const a = document.querySelector("a.hb-btn-ship");
		return a ? {href: a.href, target: a.target, rel: a.rel, text: a.innerText} : {};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if ship.Text != "Ship" || ship.Target != "_blank" || ship.Rel != "noopener noreferrer" || !strings.HasPrefix(ship.Href, bridge.URL+ConfirmPath) {
		t.Fatalf("ship button: %+v", ship)
	}

	// The agent follows it (in a new tab; here, the same one).
	if err := chromedp.Do(browser, chromedp.Navigate(ship.Href)); err != nil {
		t.Fatal(err)
	}
	filled, err := chromedp.Run(browser, chromedp.Evaluate[string](`(() => {
		const set = (id, v) => { document.getElementById(id).value = v; };
		set("carrier_code", "UPS"); set("tracking_number", "1Z999AA10123456784");
		set("tracking_url", "https://track.example.com/1Z999AA10123456784"); set("agent", "Léa <support>");
		return document.getElementById("order").innerText;
	})()`))
	if err != nil || filled != "A" {
		t.Fatalf("confirmation page of order %q: %v", filled, err)
	}
	if err := chromedp.Do(browser, chromedp.Click(chromedp.ID("submit")), chromedp.WaitVisible(chromedp.ID("result"))); err != nil {
		t.Fatalf("send the form: %v", err)
	}
	result, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("result").dataset.state + " | " + document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(result, "synchronizing | ") || !strings.Contains(result, "until the marketplace confirms") {
		t.Errorf("result page: %s", result)
	}
	asked := f.acts.asked()
	if len(asked) != 1 || asked[0].Kind != orders.ActShip || asked[0].Args.CarrierCode != "UPS" || asked[0].Args.TrackingNumber != "1Z999AA10123456784" ||
		asked[0].Args.TrackingURL != "https://track.example.com/1Z999AA10123456784" || asked[0].By.Agent != "Léa <support>" || asked[0].By.Source != "html" {
		t.Fatalf("asked %+v", asked)
	}

	// Another site's page, holding the ticket and a token it fetched
	// from the confirmation page, posts the form when opened.
	tk := ticketOf(t, buttons(f.widget(t, tokShip))["refuse"][0])
	token := formToken(t, f.confirm(t, tk).Body.String())
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><form method="post" action="%s"><input name="t" value="%s"><input name="form_token" value="%s"><input name="reason" value="X"></form><script>document.forms[0].submit()</script>`,
			bridge.URL+ActionsPath, html.EscapeString(tk), html.EscapeString(token))
	}))
	defer evil.Close()
	if err := chromedp.Do(browser, chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.ID("error"))); err != nil {
		t.Fatalf("the forged form: %v", err)
	}
	code, err := chromedp.Run(browser, chromedp.Evaluate[string](`document.getElementById("error").dataset.code`))
	if err != nil || code != CodeInvalidOrigin {
		t.Errorf("forged cross-origin POST: code %q, %v", code, err)
	}

	// A plain POST, no browser, no token.
	res, err := http.PostForm(bridge.URL+ActionsPath, url.Values{"t": {tk}, "reason": {"X"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), CodeInvalidFormToken) {
		t.Errorf("plain POST without a token: %d %s", res.StatusCode, body)
	}
	if n := len(f.acts.asked()); n != 1 {
		t.Errorf("%d actions asked, want the agent's one", n)
	}
}
