package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The demo runs on the embedded Redis and seeds a sample customer: the
// widget command its banner prints must show that customer's orders.
func TestDemoServesTheSeededWidget(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out, errs := &syncBuffer{}, &syncBuffer{}
	done := make(chan int)
	go func() { done <- runDemo(ctx, []string{"-listen", "127.0.0.1:0"}, out, errs) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("demo exited %d: %s", code, errs.String())
		}
	}()
	re := regexp.MustCompile(`-H 'Authorization: Bearer ([^']+)' '(http://[^']+/v1/widgets/gorgias\?email=[^']+)'`)
	var m []string
	eventually(t, 10*time.Second, "the demo's banner", func() bool {
		m = re.FindStringSubmatch(out.String())
		return m != nil
	})
	var widget struct {
		Status string `json:"status"`
		Orders []struct {
			ID        string `json:"id"`
			Shipments []any  `json:"shipments"`
		} `json:"orders"`
	}
	eventually(t, 20*time.Second, "the seeded widget", func() bool {
		req, _ := http.NewRequest(http.MethodGet, m[2], nil)
		req.Header.Set("Authorization", "Bearer "+m[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		// The seeded events and the Mirakl sync land in any order: wait
		// for all of them, the shipment too.
		return json.Unmarshal(body, &widget) == nil && len(widget.Orders) == 4 && len(widget.Orders[3].Shipments) == 1
	})
	ids := make([]string, len(widget.Orders))
	for i, o := range widget.Orders {
		ids[i] = o.ID
	}
	// The Carrefour orders are the newest, synced from the fake Mirakl.
	if widget.Status != "ok" || strings.Join(ids, ",") != "CRF-3003-A,CRF-3004-A,ORD-2002,ORD-1001" && strings.Join(ids, ",") != "CRF-3004-A,CRF-3003-A,ORD-2002,ORD-1001" ||
		len(widget.Orders[3].Shipments) != 1 {
		t.Errorf("demo widget: %+v", widget)
	}

	// The banner's ship command ships the Carrefour order.
	ship := regexp.MustCompile(`curl -sS -X POST (\S+/actions) -H 'Authorization: Bearer ([^']+)' -H 'Content-Type: application/json' -d '([^']+)'`).FindStringSubmatch(out.String())
	if ship == nil {
		t.Fatalf("no ship command in the banner:\n%s", out.String())
	}
	req, _ := http.NewRequest(http.MethodPost, ship[1], strings.NewReader(ship[3]))
	req.Header.Set("Authorization", "Bearer "+ship[2])
	req.Header.Set("Content-Type", "application/json")
	shipped, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	shipped.Body.Close()
	if shipped.StatusCode != http.StatusAccepted {
		t.Fatalf("the banner's ship command: %d", shipped.StatusCode)
	}

	// The banner's invoice commands issue the order's invoice and give
	// its PDF.
	inv := regexp.MustCompile(`curl -sS -X POST -H 'Authorization: Bearer ([^']+)' (\S+/invoice);`).FindStringSubmatch(out.String())
	pdf := regexp.MustCompile(`curl -sS -H 'Authorization: Bearer [^']+' -o \S+ (\S+/invoice\.pdf)`).FindStringSubmatch(out.String())
	if inv == nil || pdf == nil {
		t.Fatalf("no invoice commands in the banner:\n%s", out.String())
	}
	for _, c := range []struct{ method, url string }{{http.MethodPost, inv[2]}, {http.MethodGet, pdf[1]}} {
		req, _ := http.NewRequest(c.method, c.url, nil)
		req.Header.Set("Authorization", "Bearer "+inv[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if c.method == http.MethodPost && resp.StatusCode != http.StatusCreated || c.method == http.MethodGet && (resp.StatusCode != http.StatusOK || !bytes.HasPrefix(body, []byte("%PDF-"))) {
			t.Fatalf("the banner's %s %s: %d %.200s", c.method, c.url, resp.StatusCode, body)
		}
	}

	// The seeded Mirakl discussion becomes a ticket, and the commands the
	// banner gives reply to it through Mirakl.
	gorgURL := regexp.MustCompile(`fake Gorgias\s+(http://\S+)`).FindStringSubmatch(out.String())[1]
	mklURL := regexp.MustCompile(`fake Mirakl\s+(http://\S+)`).FindStringSubmatch(out.String())[1]
	eventually(t, 30*time.Second, "the Amazon buyer's ticket", func() bool {
		var tickets []struct {
			ExternalID string `json:"external_id"`
		}
		if getJSON(gorgURL+"/_fake/tickets", &tickets) != nil {
			return false
		}
		for _, tk := range tickets {
			if strings.HasPrefix(tk.ExternalID, "bridge-disc-amazon-") {
				return true
			}
		}
		return false
	})
	var ticketID int64
	eventually(t, 30*time.Second, "the mirrored discussion", func() bool {
		var tickets []struct {
			ID         int64  `json:"id"`
			ExternalID string `json:"external_id"`
		}
		if getJSON(gorgURL+"/_fake/tickets", &tickets) != nil {
			return false
		}
		for _, tk := range tickets {
			if strings.HasPrefix(tk.ExternalID, "bridge-disc-carrefour-") {
				ticketID = tk.ID
				return true
			}
		}
		return false
	})
	resp, err := http.Post(gorgURL+"/_fake/tickets/"+strconv.FormatInt(ticketID, 10)+"/agent-reply", "application/json",
		strings.NewReader(`{"body_html":"<p>Sorry! A new mug is on its way.</p>"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	eventually(t, 20*time.Second, "the reply in Mirakl", func() bool {
		var replies []struct {
			Body string `json:"body"`
		}
		return getJSON(mklURL+"/_fake/replies", &replies) == nil && len(replies) == 1 && replies[0].Body == "Sorry! A new mug is on its way."
	})
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
