package miraklfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
	"github.com/helpdesk-bridge/bridge/connectors/mirakl/miraklfake"
)

// docFile is one "files" part of OR74.
type docFile struct {
	name    string
	content string
}

// docForm builds an OR74 body: the order_documents part (JSON, unless a
// string) and the files.
type docForm struct {
	docs     any
	docsType string // "" means application/json
	files    []docFile
}

func upload(t *testing.T, h http.Handler, orderID string, f docForm) answer {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, file := range f.files {
		w, _ := mw.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {fmt.Sprintf(`form-data; name="files"; filename=%q`, file.name)},
			"Content-Type":        {"application/octet-stream"},
		})
		_, _ = io.WriteString(w, file.content)
	}
	if f.docs != nil {
		raw, ok := f.docs.(string)
		if !ok {
			b, err := json.Marshal(f.docs)
			if err != nil {
				t.Fatal(err)
			}
			raw = string(b)
		}
		w, _ := mw.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {`form-data; name="order_documents"`},
			"Content-Type":        {cmpOr(f.docsType, "application/json")},
		})
		_, _ = io.WriteString(w, raw)
	}
	_ = mw.Close()
	return do(t, h, request{method: http.MethodPost, path: "/api/orders/" + orderID + "/documents", key: key, contentType: mw.FormDataContentType(), body: buf.Bytes()})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func docs(entries ...api.DocumentInput) api.DocumentsInput {
	return api.DocumentsInput{OrderDocuments: entries}
}

func invoiceDoc(name string) api.DocumentInput {
	return api.DocumentInput{FileName: name, TypeCode: api.DocCustomerInvoice}
}

func TestUploadAndListDocuments(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	seedOrder(t, s, twoLines("D-1-A", api.StateShipped))
	seedOrder(t, s, twoLines("D-2-A", api.StateShipping))
	if _, err := s.PutDocument("", "D-1-A", "delivery.pdf", api.DocDeliveryBill, []byte("bill")); err != nil {
		t.Fatal(err)
	}

	a := upload(t, s, "D-1-A", docForm{docs: docs(invoiceDoc("invoice-F1.pdf")), files: []docFile{{"invoice-F1.pdf", "%PDF-1.4 F1"}}})
	var res api.DocumentsUploaded
	a.decode(t, &res)
	if a.status != http.StatusOK || res.ErrorsCount != 0 || len(res.OrderDocuments) != 0 {
		t.Fatalf("OR74: HTTP %d %s", a.status, a.raw)
	}
	got := s.Documents("", "D-1-A")
	if len(got) != 2 || got[1].FileName != "invoice-F1.pdf" || got[1].Type != api.DocCustomerInvoice || string(got[1].Content) != "%PDF-1.4 F1" || got[1].FileSize != 11 {
		t.Fatalf("documents %+v", got)
	}

	// OR72 lists the documents of the orders named, of this shop only.
	a = get(t, s, "/api/orders/documents", url.Values{"order_ids": {"D-1-A,D-2-A,nope"}})
	var list api.OrderDocumentList
	a.decode(t, &list)
	if a.status != http.StatusOK || len(list.OrderDocuments) != 2 {
		t.Fatalf("OR72: HTTP %d %s", a.status, a.raw)
	}
	if d := list.OrderDocuments[1]; d.OrderID != "D-1-A" || d.Type != api.DocCustomerInvoice || d.DateUploaded == nil || d.ID <= list.OrderDocuments[0].ID {
		t.Errorf("OR72 document %+v", d)
	}
	other := do(t, s, request{method: http.MethodGet, path: "/api/orders/documents", query: url.Values{"order_ids": {"D-1-A"}, "shop_id": {otherID}}, key: multiKey})
	other.decode(t, &list)
	if len(list.OrderDocuments) != 0 {
		t.Errorf("another shop sees the documents: %s", other.raw)
	}
	if a := get(t, s, "/api/orders/documents", nil); a.status != http.StatusBadRequest {
		t.Errorf("OR72 without order_ids: HTTP %d", a.status)
	} else {
		a.errorBody(t)
	}
	many := make([]string, api.MaxDocumentOrders+1)
	for i := range many {
		many[i] = fmt.Sprint("O", i)
	}
	if a := get(t, s, "/api/orders/documents", url.Values{"order_ids": {strings.Join(many, ",")}}); a.status != http.StatusBadRequest {
		t.Errorf("OR72 with %d orders: HTTP %d", len(many), a.status)
	}
}

func TestUploadDocumentsListsOnlyFailures(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	seedOrder(t, s, twoLines("D-3-A", api.StateShipped))
	a := upload(t, s, "D-3-A", docForm{
		docs: docs(
			invoiceDoc("ok.pdf"),
			api.DocumentInput{FileName: "bad-type.pdf", TypeCode: "NOPE"},
			api.DocumentInput{FileName: "bill.pdf", TypeCode: api.DocDeliveryBill},
			api.DocumentInput{FileName: "bill2.pdf", TypeCode: api.DocShipmentDeliveryBill},
			api.DocumentInput{FileName: "msg.pdf", TypeCode: api.DocMessageAttachment},
			api.DocumentInput{FileName: "shop.pdf", TypeCode: "LEGAL_DOC"},
			invoiceDoc("run.exe"),
			invoiceDoc("missing.pdf"),
			invoiceDoc("photo.JPG"),
		),
		files: []docFile{{"ok.pdf", "a"}, {"bad-type.pdf", "b"}, {"bill.pdf", "c"}, {"bill2.pdf", "c"}, {"msg.pdf", "d"}, {"shop.pdf", "e"}, {"run.exe", "f"}, {"photo.JPG", "g"}, {"orphan.pdf", "h"}},
	})
	var res api.DocumentsUploaded
	a.decode(t, &res)
	if a.status != http.StatusOK {
		t.Fatalf("HTTP %d %s", a.status, a.raw)
	}
	var failed []string
	for _, d := range res.OrderDocuments {
		failed = append(failed, d.Input.FileName+" "+d.Errors[0].Field)
	}
	want := []string{"bad-type.pdf type_code", "bill.pdf type_code", "bill2.pdf type_code", "msg.pdf type_code", "shop.pdf type_code", "run.exe file_name", "missing.pdf file_name", "orphan.pdf file_name"}
	if diff := cmp.Diff(want, failed); diff != "" || res.ErrorsCount != len(want) {
		t.Errorf("failed documents (-want +got):\n%s\n%s", diff, a.raw)
	}
	// The spec's own error for an unknown type code.
	if e := res.OrderDocuments[0].Errors[0]; e != (api.DocumentError{Code: "valid_order_document.type", Field: "type_code", Message: "Unable to retrieve document's type from the given code"}) {
		t.Errorf("unknown type error %+v", e)
	}
	var kept []string
	for _, d := range s.Documents("", "D-3-A") {
		kept = append(kept, d.FileName)
	}
	if diff := cmp.Diff([]string{"ok.pdf", "photo.JPG"}, kept); diff != "" {
		t.Errorf("kept documents (-want +got):\n%s", diff)
	}
}

func TestUploadDocumentsRefusals(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	seedOrder(t, s, twoLines("D-4-A", api.StateShipped))
	pdf := []docFile{{"a.pdf", "x"}}
	for name, tc := range map[string]struct {
		order  string
		form   docForm
		status int
	}{
		"no order_documents":     {"D-4-A", docForm{files: pdf}, http.StatusBadRequest},
		"no files":               {"D-4-A", docForm{docs: docs(invoiceDoc("a.pdf"))}, http.StatusBadRequest},
		"order_documents as txt": {"D-4-A", docForm{docs: docs(invoiceDoc("a.pdf")), docsType: "text/plain", files: pdf}, http.StatusUnsupportedMediaType},
		"unknown field":          {"D-4-A", docForm{docs: `{"order_documents":[],"x":1}`, files: pdf}, http.StatusBadRequest},
		"non-ASCII name":         {"D-4-A", docForm{docs: docs(invoiceDoc("facturé.pdf")), files: []docFile{{"facturé.pdf", "x"}}}, http.StatusBadRequest},
		"same name twice":        {"D-4-A", docForm{docs: docs(invoiceDoc("a.pdf")), files: []docFile{{"a.pdf", "x"}, {"a.pdf", "y"}}}, http.StatusBadRequest},
		"unknown order":          {"nope", docForm{docs: docs(invoiceDoc("a.pdf")), files: pdf}, http.StatusNotFound},
	} {
		a := upload(t, s, tc.order, tc.form)
		if a.status != tc.status {
			t.Errorf("%s: HTTP %d, want %d: %s", name, a.status, tc.status, a.raw)
			continue
		}
		a.errorBody(t)
	}
	if n := len(s.Documents("", "D-4-A")); n != 0 {
		t.Errorf("a refused request kept %d documents", n)
	}
	if a := do(t, s, request{method: http.MethodPost, path: "/api/orders/D-4-A/documents", key: key, contentType: "application/json", body: []byte(`{}`)}); a.status != http.StatusUnsupportedMediaType {
		t.Errorf("JSON body: HTTP %d", a.status)
	}
	if a := do(t, s, request{method: http.MethodPost, path: "/api/orders/D-4-A/documents"}); a.status != http.StatusUnauthorized {
		t.Errorf("no key: HTTP %d", a.status)
	}
}

func TestUploadDocumentsLimitPerOrder(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{})
	seedOrder(t, s, twoLines("D-5-A", api.StateShipped))
	for i := range api.MaxDocumentsPerOrder - 1 {
		if _, err := s.PutDocument("", "D-5-A", fmt.Sprintf("doc-%d.pdf", i), api.DocCustomerInvoice, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	a := upload(t, s, "D-5-A", docForm{docs: docs(invoiceDoc("last.pdf"), invoiceDoc("over.pdf")), files: []docFile{{"last.pdf", "x"}, {"over.pdf", "y"}}})
	var res api.DocumentsUploaded
	a.decode(t, &res)
	if res.ErrorsCount != 1 || res.OrderDocuments[0].Input.FileName != "over.pdf" {
		t.Errorf("the 51st document: %s", a.raw)
	}
	if n := len(s.Documents("", "D-5-A")); n != api.MaxDocumentsPerOrder {
		t.Errorf("%d documents kept, want %d", n, api.MaxDocumentsPerOrder)
	}
}

func TestDocumentTypes(t *testing.T) {
	t.Parallel()
	s, _ := newFake(t, miraklfake.Options{DocumentTypes: []api.DocumentType{
		{Code: "FACTURE", Label: "Facture", Description: "Facture client", Entity: api.DocEntityOrder},
		{Code: "KBIS", Label: "Kbis", Description: "Kbis", Entity: api.DocEntityShop},
	}})
	var list api.DocumentTypeList
	a := get(t, s, "/api/documents", url.Values{"entities": {"ORDER"}})
	a.decode(t, &list)
	if a.status != http.StatusOK || len(list.Documents) != 1 || list.Documents[0].Code != "FACTURE" {
		t.Fatalf("DO01: HTTP %d %s", a.status, a.raw)
	}
	if a := get(t, s, "/api/documents", url.Values{"entities": {"ORDER,CUSTOMER"}}); a.status != http.StatusBadRequest {
		t.Errorf("DO01 with an unknown entity: HTTP %d", a.status)
	}
	// OR74 takes the operator's own codes, and only order ones.
	seedOrder(t, s, twoLines("D-6-A", api.StateShipped))
	a = upload(t, s, "D-6-A", docForm{
		docs:  docs(api.DocumentInput{FileName: "f.pdf", TypeCode: "FACTURE"}, invoiceDoc("i.pdf"), api.DocumentInput{FileName: "k.pdf", TypeCode: "KBIS"}),
		files: []docFile{{"f.pdf", "x"}, {"i.pdf", "y"}, {"k.pdf", "z"}},
	})
	var res api.DocumentsUploaded
	a.decode(t, &res)
	if res.ErrorsCount != 2 || len(s.Documents("", "D-6-A")) != 1 {
		t.Errorf("OR74 with the operator's codes: %s", a.raw)
	}
}

func TestDocumentsAreThrottledAndReset(t *testing.T) {
	t.Parallel()
	s, clk := newFake(t, miraklfake.Options{Throttle: &miraklfake.Throttle{Requests: 1, Window: 10 * time.Second}})
	seedOrder(t, s, twoLines("D-7-A", api.StateShipped))
	if a := upload(t, s, "D-7-A", docForm{docs: docs(invoiceDoc("a.pdf")), files: []docFile{{"a.pdf", "x"}}}); a.status != http.StatusOK {
		t.Fatalf("first call: HTTP %d", a.status)
	}
	a := get(t, s, "/api/orders/documents", url.Values{"order_ids": {"D-7-A"}})
	if a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("second call: HTTP %d, Retry-After %q; want 429 with Retry-After", a.status, a.header.Get("Retry-After"))
	}
	clk.Advance(10 * time.Second)
	if a := get(t, s, "/api/orders/documents", url.Values{"order_ids": {"D-7-A"}}); a.status != http.StatusOK {
		t.Errorf("next window: HTTP %d", a.status)
	}
	s.Reset()
	if n := len(s.Documents("", "D-7-A")); n != 0 {
		t.Errorf("Reset kept %d documents", n)
	}
}
