package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/invoices"
	"github.com/helpdesk-bridge/bridge/invoices/pdftest"
	"github.com/helpdesk-bridge/bridge/orders"
)

// invoiceSettings are acme-fr's in the tests: a real-looking French
// seller (SIREN 732 829 320 has a valid Luhn key).
func invoiceSettings() *invoices.Settings {
	return &invoices.Settings{
		Seller: invoices.Seller{
			Name: "ACME France SAS", Address: "12 rue de la Paix\n75002 Paris", SIREN: "732829320", VATNumber: "FR44732829320",
			Mentions: "SAS au capital de 10 000 €, RCS Paris",
		},
		ProductVAT: "20", ShippingVAT: "20", SKUVAT: map[string]string{"BOOK": "5.5"}, Prefix: "F-", Digits: 6,
	}
}

// pricedOrder is an order.upserted event with what an invoice needs.
func pricedOrder(id, orderID string, at time.Time) []byte {
	return pricedOrderIn("acme-fr", id, orderID, at)
}

func pricedOrderIn(store, id, orderID string, at time.Time) []byte {
	return event(id, orders.KindOrderUpserted, map[string]any{
		"store": store, "order_id": orderID, "updated_at": at.Format(time.RFC3339), "created_at": at.Format(time.RFC3339),
		"customer": map[string]any{"email": "zoe@example.com", "name": "Zoé Müller"}, "currency": "EUR", "status": "Shipped",
		"shipping_address": map[string]any{"name": "Zoé Müller", "line1": "3 place de la Gare", "postal_code": "67000", "city": "Strasbourg", "country": "FR"},
		"shipping_price":   "4.90",
		"lines": []map[string]any{
			{"sku": "MUG", "name": "Mug bleu", "quantity": 2, "unit_price": "19.99"},
			{"sku": "BOOK", "name": "Livre", "quantity": 1, "unit_price": "12.34", "discount": "2.34"},
		},
	})
}

// invoiceCall sends a request to an invoice route, holding the request
// (when it is valid JSON) and the answer to openapi.yaml.
func (h *harness) invoiceCall(oa *openAPI, method, path, token, accept string, body any) (*http.Response, []byte) {
	h.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	default:
		raw, _ = json.Marshal(b)
	}
	req, _ := http.NewRequest(method, h.url+path, bytes.NewReader(raw))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	out, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	check, _ := http.NewRequest(method, h.url+path, bytes.NewReader(raw))
	check.Header = req.Header.Clone()
	if err := oa.checkResponse(check, resp, out); err != nil {
		h.t.Errorf("%s %s: the answer does not match openapi.yaml: %v\n%.500s", method, path, err, out)
	}
	return resp, out
}

// wantError holds an answer to its status, code and field.
func wantError(t *testing.T, what string, resp *http.Response, body []byte, status int, code, field string) {
	t.Helper()
	var e struct {
		Error struct{ Code, Field, Message string }
	}
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode != status || e.Error.Code != code || e.Error.Field != field {
		t.Errorf("%s: %d %s; want %d %s naming %q", what, resp.StatusCode, body, status, code, field)
	}
}

func TestInvoiceAPI(t *testing.T) {
	h := newHarness(t, harnessOptions{before: func(h *harness) { h.cfg.Merchants[0].Stores[0].Invoices = invoiceSettings() }})
	oa := loadOpenAPI(t)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	h.sendAll([][]byte{
		pricedOrder("i1", "FR-1001", at), pricedOrder("i3", "FR-1003", at), pricedOrderIn("acme-de", "i4", "DE-1001", at),
		event("i2", orders.KindOrderUpserted, map[string]any{
			"store": "acme-fr", "order_id": "FR-1002", "updated_at": at.Format(time.RFC3339), "created_at": at.Format(time.RFC3339),
			"customer": map[string]any{"email": "zoe@example.com", "name": "Zoé Müller"}, "currency": "EUR", "shipping_price": "0",
			"lines": []map[string]any{{"sku": "MUG", "quantity": 1}},
		}),
	})
	h.settle()
	call := func(method, path string, body any) (*http.Response, []byte) {
		return h.invoiceCall(oa, method, path, acmeAPIKey, "", body)
	}

	// Settings: the config's, the override, refusals by field.
	resp, body := call(http.MethodGet, "/v1/stores/acme-fr/invoice-settings", nil)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"source":"config"`)) || !bytes.Contains(body, []byte(`"credit_prefix":"AV-"`)) {
		t.Fatalf("acme-fr settings: %d %s", resp.StatusCode, body)
	}
	resp, body = h.invoiceCall(oa, http.MethodGet, "/v1/stores/acme-fr/invoice-settings", "", "", nil)
	wantError(t, "no token", resp, body, http.StatusUnauthorized, "missing_token", "Authorization")
	resp, body = h.invoiceCall(oa, http.MethodGet, "/v1/stores/acme-fr/invoice-settings", globexAPIKey, "", nil)
	wantError(t, "another merchant's store", resp, body, http.StatusNotFound, "not_found", "store")
	resp, body = call(http.MethodGet, "/v1/stores/acme-de/invoice-settings", nil)
	wantError(t, "a store without settings", resp, body, http.StatusConflict, "invoice_settings_missing", "store")
	resp, body = call(http.MethodGet, "/v1/stores/nope/invoice-settings", nil)
	wantError(t, "an unknown store", resp, body, http.StatusNotFound, "not_found", "store")
	bad := invoiceSettings()
	bad.Seller.SIREN = "732829321"
	resp, body = call(http.MethodPut, "/v1/stores/acme-de/invoice-settings", bad)
	wantError(t, "a bad SIREN", resp, body, http.StatusUnprocessableEntity, "invalid_field", "seller.siren")
	bad = invoiceSettings()
	bad.SKUVAT["BOOK"] = "5,5"
	resp, body = call(http.MethodPut, "/v1/stores/acme-de/invoice-settings", bad)
	wantError(t, "a bad SKU rate", resp, body, http.StatusUnprocessableEntity, "invalid_field", "sku_vat.BOOK")
	resp, body = call(http.MethodPut, "/v1/stores/acme-de/invoice-settings", `{"seller": "ACME"}`)
	wantError(t, "a malformed body", resp, body, http.StatusBadRequest, "malformed_body", "seller")
	good := invoiceSettings()
	good.Prefix = "DE/2026/"
	if resp, body = call(http.MethodPut, "/v1/stores/acme-de/invoice-settings", good); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"source":"api"`)) {
		t.Fatalf("PUT settings: %d %s", resp.StatusCode, body)
	}
	if resp, body = call(http.MethodGet, "/v1/stores/acme-de/invoice-settings", nil); !bytes.Contains(body, []byte(`"prefix":"DE/2026/"`)) {
		t.Fatalf("settings after PUT: %d %s", resp.StatusCode, body)
	}

	// The confirmation step, then the invoice, once.
	resp, body = call(http.MethodGet, "/v1/orders/acme-fr/FR-1001/invoice/next", nil)
	if resp.StatusCode != http.StatusOK || string(body) != `{"number":"F-000001","seq":1}` {
		t.Fatalf("next: %d %s", resp.StatusCode, body)
	}
	resp, body = call(http.MethodGet, "/v1/orders/acme-fr/NOPE/invoice/next", nil)
	wantError(t, "next of an unknown order", resp, body, http.StatusNotFound, "order_not_found", "order_id")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1002/invoice", nil)
	wantError(t, "an order without prices", resp, body, http.StatusUnprocessableEntity, "order_not_invoiceable", "lines[0].unit_price")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/NOPE/invoice", nil)
	wantError(t, "an unknown order", resp, body, http.StatusNotFound, "order_not_found", "order_id")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/invoice", map[string]any{"number": 0})
	wantError(t, "number 0", resp, body, http.StatusUnprocessableEntity, "invalid_field", "number")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/invoice", `{"number": "F-1"}`)
	wantError(t, "a number as text", resp, body, http.StatusBadRequest, "malformed_body", "number")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/invoice", nil)
	var inv invoices.Invoice
	if err := json.Unmarshal(body, &inv); err != nil || resp.StatusCode != http.StatusCreated || inv.Number != "F-000001" || inv.Incl != "54.88" {
		t.Fatalf("POST invoice: %d %s", resp.StatusCode, body)
	}
	if resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/invoice", map[string]any{"number": 9}); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"number":"F-000001"`)) {
		t.Fatalf("POST again: %d %s", resp.StatusCode, body)
	}
	if resp, body = call(http.MethodGet, "/v1/orders/acme-fr/FR-1001/invoice/next", nil); string(body) != `{"number":"F-000002","seq":2,"invoice":"F-000001"}` {
		t.Fatalf("next of an invoiced order: %d %s", resp.StatusCode, body)
	}
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1003/invoice", map[string]any{"number": 1})
	wantError(t, "a number taken", resp, body, http.StatusConflict, "number_taken", "number")
	if !bytes.Contains(body, []byte("allowed is 2")) {
		t.Errorf("number_taken does not say which number is allowed: %s", body)
	}
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1003/invoice", map[string]any{"number": 5})
	wantError(t, "a gap", resp, body, http.StatusUnprocessableEntity, "number_breaks_series", "number")
	if resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1003/invoice", map[string]any{"number": 2}); resp.StatusCode != http.StatusCreated || !bytes.Contains(body, []byte(`"number":"F-000002"`)) {
		t.Fatalf("POST with the next number: %d %s", resp.StatusCode, body)
	}

	// Reading it back: the record, the PDF, by its number too.
	if resp, body = call(http.MethodGet, "/v1/orders/acme-fr/FR-1001/invoice", nil); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"number":"F-000001"`)) {
		t.Fatalf("GET invoice: %d %s", resp.StatusCode, body)
	}
	resp, body = call(http.MethodGet, "/v1/orders/acme-fr/FR-1002/invoice", nil)
	wantError(t, "an order without invoice", resp, body, http.StatusNotFound, "invoice_not_found", "order_id")
	resp, pdf := call(http.MethodGet, "/v1/orders/acme-fr/FR-1001/invoice.pdf", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("GET invoice.pdf: %d %s %.40q", resp.StatusCode, resp.Header.Get("Content-Type"), pdf)
	}
	if _, again := h.invoiceCall(oa, http.MethodGet, "/v1/orders/acme-fr/FR-1001/invoice", acmeAPIKey, "application/pdf", nil); !bytes.Equal(pdf, again) {
		t.Error("Accept: application/pdf gives other bytes than invoice.pdf")
	}
	if _, again := call(http.MethodGet, "/v1/invoices/acme-fr/F-000001.pdf", nil); !bytes.Equal(pdf, again) {
		t.Error("the PDF by its number differs from the order's")
	}
	resp, body = call(http.MethodGet, "/v1/invoices/acme-fr/F-000001", nil)
	wantError(t, "a number without .pdf", resp, body, http.StatusNotFound, "not_found", "file")
	resp, body = call(http.MethodGet, "/v1/invoices/acme-fr/F-000099.pdf", nil)
	wantError(t, "an unknown number", resp, body, http.StatusNotFound, "invoice_not_found", "number")

	// A number with slashes (its prefix's) is found by its number too.
	if resp, body = call(http.MethodPost, "/v1/orders/acme-de/DE-1001/invoice", nil); resp.StatusCode != http.StatusCreated || !bytes.Contains(body, []byte(`"number":"DE/2026/000001"`)) {
		t.Fatalf("POST in acme-de: %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodGet, h.url+"/v1/invoices/acme-de/DE/2026/000001.pdf", nil)
	req.Header.Set("Authorization", "Bearer "+acmeAPIKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Disposition") != `attachment; filename="DE-2026-000001.pdf"` {
		t.Fatalf("a number with slashes: %v %v", resp, err)
	} else {
		_ = resp.Body.Close()
	}

	// The sidebar links to the invoice once it exists, through a signed
	// ticket, and to nothing before.
	resp, body = h.widget("/v1/widgets/gorgias", sidebarToken, emailQuery("zoe@example.com"), nil)
	var w struct {
		Orders []struct {
			ID         string `json:"id"`
			InvoiceURL string `json:"invoice_url"`
		} `json:"orders"`
	}
	if err := json.Unmarshal(body, &w); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("widget: %d %s", resp.StatusCode, body)
	}
	links := map[string]string{}
	for _, o := range w.Orders {
		links[o.ID] = o.InvoiceURL
	}
	if links["FR-1002"] != "" || !strings.Contains(links["FR-1001"], "/v1/widgets/invoice?t=") || links["FR-1003"] == links["FR-1001"] {
		t.Fatalf("widget's invoice links: %v", links)
	}
	get := func(u string) (*http.Response, []byte) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if !strings.HasPrefix(links["FR-1001"], "http") {
		links["FR-1001"] = h.url + links["FR-1001"]
	}
	if resp, got := get(links["FR-1001"]); resp.StatusCode != http.StatusOK || !bytes.Equal(got, pdf) {
		t.Errorf("the sidebar's invoice link: %d, the same PDF %v", resp.StatusCode, bytes.Equal(got, pdf))
	}
	if resp, body := get(links["FR-1001"][:len(links["FR-1001"])-4] + "AAAA"); resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("invalid_ticket")) {
		t.Errorf("a forged ticket: %d %s", resp.StatusCode, body)
	}
	if resp, body := get(h.url + "/v1/widgets/invoice?t=nope"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a ticket that is none: %d %s", resp.StatusCode, body)
	}

	// The PDF as a reader sees it.
	text := pdftest.Text(t, pdf)
	for _, want := range []string{"Facture", "F-000001", "ACME France SAS", "SIREN", "732829320", "FR44732829320", "RCS Paris",
		"Zoé Müller", "Strasbourg", "Taux de TVA", "5,5", "Total HT", "Total TVA", "Total TTC", "54,88"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}

	// Credit notes.
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/credit-notes", map[string]any{"reason": "Retour"})
	wantError(t, "no key", resp, body, http.StatusUnprocessableEntity, "invalid_field", "key")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/credit-notes", map[string]any{"key": "r-1", "reason": "Retour",
		"lines": []map[string]any{{"sku": "MUG", "description": "Mug bleu", "quantity": 1, "unit_price": "-19.99"}}})
	wantError(t, "a negative price", resp, body, http.StatusUnprocessableEntity, "invalid_field", "lines[0].unit_price")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/credit-notes", map[string]any{"key": "r-1", "reason": "Retour",
		"lines": []map[string]any{{"sku": "MUG", "description": "Mug bleu", "quantity": 1, "unit_price": "10", "discount": "11"}}})
	wantError(t, "a discount above the line", resp, body, http.StatusUnprocessableEntity, "invalid_invoice_input", "lines[0]")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1002/credit-notes", map[string]any{"key": "r-2", "reason": "Retour"})
	wantError(t, "an order without invoice", resp, body, http.StatusNotFound, "invoice_not_found", "order_id")
	credit := map[string]any{"key": "r-1", "reason": "Retour d'un mug",
		"lines": []map[string]any{{"sku": "MUG", "description": "Mug bleu", "quantity": 1, "unit_price": "19.99"}}}
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/credit-notes", credit)
	if resp.StatusCode != http.StatusCreated || !bytes.Contains(body, []byte(`"number":"AV-000001"`)) || !bytes.Contains(body, []byte(`"of":{"number":"F-000001"`)) {
		t.Fatalf("credit note: %d %s", resp.StatusCode, body)
	}
	if resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/credit-notes", credit); resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"number":"AV-000001"`)) {
		t.Fatalf("credit note again: %d %s", resp.StatusCode, body)
	}
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1003/credit-notes", credit)
	wantError(t, "a key of another order", resp, body, http.StatusConflict, "credit_key_used", "key")
	// No more than the invoice charged: another product, more money for
	// the mug than is left, a whole cancellation of a credited invoice.
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/credit-notes", map[string]any{"key": "r-3", "reason": "Geste",
		"lines": []map[string]any{{"sku": "NOPE", "description": "?", "quantity": 50, "unit_price": "999"}}})
	wantError(t, "a product the invoice lacks", resp, body, http.StatusUnprocessableEntity, "credit_exceeds_invoice", "lines[0].sku")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/credit-notes", map[string]any{"key": "r-3", "reason": "Geste",
		"lines": []map[string]any{{"sku": "MUG", "description": "Mug bleu", "quantity": 1, "unit_price": "999"}}})
	wantError(t, "more than the mug's price", resp, body, http.StatusUnprocessableEntity, "credit_exceeds_invoice", "lines[0].unit_price")
	resp, body = call(http.MethodPost, "/v1/orders/acme-fr/FR-1001/credit-notes", map[string]any{"key": "r-3", "reason": "Annulation"})
	wantError(t, "a whole cancellation after a part", resp, body, http.StatusUnprocessableEntity, "credit_exceeds_invoice", "lines")
	if resp, cn := call(http.MethodGet, "/v1/invoices/acme-fr/AV-000001.pdf", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("credit note PDF: %d", resp.StatusCode)
	} else if text := pdftest.Text(t, cn); !strings.Contains(text, "Avoir") || !strings.Contains(text, "F-000001") {
		t.Errorf("the credit note's text lacks its title or the invoice it corrects:\n%s", text)
	}
}
