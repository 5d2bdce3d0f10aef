package fnacfake_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fnac"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/fnacfake"
)

// The samples in testdata are real sandbox requests and answers recorded
// by fnapy (tests/assets). The fake must answer with the same element
// structure: every element and attribute the real answer has, in the
// same namespace, and nothing more but what the XSDs add.

const (
	partner = "AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA"
	shop    = "BBBBBBBB-BBBB-BBBB-BBBB-BBBBBBBBBBBB"
	key     = "the-key"
)

// xsdExtras are elements the XSDs have and the recorded answers lack.
var xsdExtras = []string{
	"messages_query_response/messages_unread_result",
	"messages_query_response/messages_read_result",
}

// shape lists an XML document's element paths and attributes
// ("a/b@attr"), each once, and checks every element's namespace.
func shape(t *testing.T, data []byte) []string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	var path, out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("reading XML: %v", err)
		}
		switch e := tok.(type) {
		case xml.StartElement:
			if e.Name.Space != api.Namespace {
				t.Errorf("element %s in namespace %q", e.Name.Local, e.Name.Space)
			}
			path = append(path, e.Name.Local)
			p := strings.Join(path, "/")
			add(p)
			for _, a := range e.Attr {
				if a.Name.Space == "" && a.Name.Local != "xmlns" {
					add(p + "@" + a.Name.Local)
				}
			}
		case xml.EndElement:
			path = path[:len(path)-1]
		}
	}
}

func sample(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// sameShape compares the fake's answer with a recorded one.
func sameShape(t *testing.T, what string, real, fake []byte) {
	t.Helper()
	want, got := shape(t, real), shape(t, fake)
	for _, p := range want {
		if !slices.Contains(got, p) {
			t.Errorf("%s: the fake's answer lacks %s", what, p)
		}
	}
	for _, p := range got {
		if !slices.Contains(want, p) && !slices.Contains(xsdExtras, p) {
			t.Errorf("%s: the fake's answer has %s, which the real one does not", what, p)
		}
	}
}

func post(t *testing.T, url, service string, body []byte) []byte {
	t.Helper()
	resp, err := http.Post(url+"/api.php/"+service, "text/xml", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: HTTP %d: %s", service, resp.StatusCode, data)
	}
	return data
}

func TestAnswersMatchTheSamples(t *testing.T) {
	fake := fnacfake.New(fnacfake.Options{Shops: []fnacfake.Shop{{PartnerID: partner, ShopID: shop, Key: key, Name: "Acme"}}})
	srv := httptest.NewServer(fake)
	defer srv.Close()

	// auth
	authReq := `<?xml version="1.0" encoding="utf-8"?><auth xmlns="` + api.Namespace + `"><partner_id>` + partner +
		`</partner_id><shop_id>` + shop + `</shop_id><key>` + key + `</key></auth>`
	got := post(t, srv.URL, api.ServiceAuth, []byte(authReq))
	sameShape(t, "auth", sample(t, "auth_response.xml"), got)
	var auth api.AuthResponse
	if err := api.Decode(got, &auth); err != nil || auth.Status != api.StatusOK || auth.Token == "" {
		t.Fatalf("auth answer %s: %v", got, err)
	}
	if _, err := api.ParseTime(auth.Validity); err != nil {
		t.Errorf("validity %q: %v", auth.Validity, err)
	}

	// messages_query, with the recorded request, ids replaced.
	id, err := fake.AddMessage(shop, srv.URL, fnacfake.MessageSeed{
		RefererID: "57BEAFDA828A8", FromName: "testfnac", Subject: "Nouvelle réclamation", Body: "Incident test message",
		At: time.Date(2016, 8, 29, 17, 53, 51, 0, time.FixedZone("", 2*3600)),
	})
	if err != nil {
		t.Fatal(err)
	}
	fill := func(req []byte) []byte {
		s := string(req)
		for _, attr := range []struct{ name, value string }{{"partner_id", partner}, {"shop_id", shop}, {"token", auth.Token}} {
			s = strings.Replace(s, attr.name+`="XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"`, attr.name+`="`+attr.value+`"`, 1)
		}
		return []byte(strings.ReplaceAll(s, "6F9EF013-6387-F433-C3F5-4AAEF32AA317", id))
	}
	got = post(t, srv.URL, api.ServiceMessagesQuery, fill(sample(t, "query_messages_request.xml")))
	sameShape(t, "messages_query", sample(t, "query_messages_response.xml"), got)
	var q api.MessagesQueryResponse
	if err := api.Decode(got, &q); err != nil || q.Status != api.StatusOK || len(q.Messages) != 1 || q.Messages[0].ID != id {
		t.Fatalf("messages_query answer %s: %v", got, err)
	}

	// messages_update, with the recorded request (mark_as_read).
	got = post(t, srv.URL, api.ServiceMessagesUpdate, fill(sample(t, "update_messages_request.xml")))
	sameShape(t, "messages_update", sample(t, "update_messages_response.xml"), got)
	if m, _ := fake.Message(shop, id); m.State != api.StateRead {
		t.Errorf("after mark_as_read, state %s", m.State)
	}
}

// TestSamplesDecode reads every recorded answer with the connector's
// decoder, as real answers must be.
func TestSamplesDecode(t *testing.T) {
	var auth api.AuthResponse
	if err := api.Decode(sample(t, "auth_response.xml"), &auth); err != nil || auth.Token == "" {
		t.Errorf("auth_response.xml: %v, %+v", err, auth)
	}
	for _, name := range []string{"query_messages_response.xml", "messages_sample.xml"} {
		var q api.MessagesQueryResponse
		if err := api.Decode(sample(t, name), &q); err != nil || len(q.Messages) == 0 {
			t.Errorf("%s: %v", name, err)
		}
		for _, m := range q.Messages {
			if _, err := api.ParseTime(m.CreatedAt); err != nil {
				t.Errorf("%s: created_at %q: %v", name, m.CreatedAt, err)
			}
			if m.From == nil || m.From.Type != api.FromClient || m.Referer.Type != api.TypeOrder {
				t.Errorf("%s: message %+v", name, m)
			}
		}
	}
	var u api.MessagesUpdateResponse
	if err := api.Decode(sample(t, "update_messages_response.xml"), &u); err != nil || len(u.Messages) != 1 || u.Messages[0].Status != api.StatusOK {
		t.Errorf("update_messages_response.xml: %v, %+v", err, u)
	}
}

// TestOrderAnswersMatchTheSamples replays the recorded orders requests
// against orders seeded as in the recorded answer, and compares the
// shapes; then an action in the wrong state, answered as the recorded
// ERR_109 refusal is.
func TestOrderAnswersMatchTheSamples(t *testing.T) {
	fake := fnacfake.New(fnacfake.Options{Shops: []fnacfake.Shop{{PartnerID: partner, ShopID: shop, Key: key, Name: "Acme"}}})
	srv := httptest.NewServer(fake)
	defer srv.Close()
	authReq := `<?xml version="1.0" encoding="utf-8"?><auth xmlns="` + api.Namespace + `"><partner_id>` + partner +
		`</partner_id><shop_id>` + shop + `</shop_id><key>` + key + `</key></auth>`
	var auth api.AuthResponse
	if err := api.Decode(post(t, srv.URL, api.ServiceAuth, []byte(authReq)), &auth); err != nil {
		t.Fatal(err)
	}
	fill := func(req []byte) []byte {
		s := string(req)
		for _, attr := range []struct{ name, value string }{{"partner_id", partner}, {"shop_id", shop}, {"token", auth.Token}} {
			s = strings.Replace(s, attr.name+`="XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"`, attr.name+`="`+attr.value+`"`, 1)
		}
		return []byte(s)
	}

	// The recorded answer's first order, its two lines waiting for
	// acceptance, and another with a refused line and one billed.
	addr := &api.Address{Firstname: "Laurent", Lastname: "S", Company: "FNAC.COM", Address1: "52 ROUTE DU PAVE DES GARDES", Zipcode: "92310", City: "SEVRES", Country: "FRA"}
	line := func(id, state string) api.OrderDetail {
		return api.OrderDetail{
			ProductName: "Call of Duty", ID: id, State: state, Quantity: 13, Price: "20", Fees: "0", ProductFnacID: "2703768",
			OfferFnacID: "8D7472DB-7EAF-CE05-A960-FC12B812FA14", OfferSellerID: "B067-F0D-75E", ProductState: "11",
			ShippingPrice: "13", ShippingMethod: "20", CreatedAt: "2016-08-25T10:44:27+02:00",
			ProductURL: "http://www.example/p", Image: "http://www.example/i.gif",
		}
	}
	created := time.Date(2016, 8, 25, 10, 44, 25, 0, time.FixedZone("", 2*3600))
	first := api.Order{
		ClientID: "cccac40a-dd89-4b32-a5a0-d719b1f8066f", ClientFirstname: "test", ClientLastname: "test",
		OrderID: "57BEAFDA828A8", CreatedAt: api.FormatTime(created), Fees: "33.12", VatRate: "0", NbMessages: 4,
		ShippingAddress: addr, BillingAddress: addr,
		Details: []api.OrderDetail{line("1", api.LineToAccept), line("2", api.LineToAccept)},
	}
	second := first
	second.OrderID = "57BEB008B27C6"
	refused, billed := line("1", api.OrderRefused), line("2", api.OrderToShip)
	refused.RefusedAt, billed.DebitedAt = "2016-08-25T16:59:31+02:00", "2016-08-29T11:41:12+02:00"
	second.Details = []api.OrderDetail{refused, billed}
	for _, o := range []api.Order{first, second} {
		if err := fake.PutOrder(shop, o, created); err != nil {
			t.Fatal(err)
		}
	}

	got := post(t, srv.URL, api.ServiceOrdersQuery, fill(sample(t, "query_orders_request.xml")))
	sameShape(t, "orders_query", sample(t, "query_orders_response.xml"), got)
	var q api.OrdersQueryResponse
	if err := api.Decode(got, &q); err != nil || q.Status != api.StatusOK || len(q.Orders) != 2 || q.NbTotalPerPage != 10 {
		t.Fatalf("orders_query answer %s: %v", got, err)
	}
	got = post(t, srv.URL, api.ServiceOrdersQuery, fill(sample(t, "query_orders_created_between_dates_request.xml")))
	sameShape(t, "orders_query by dates", sample(t, "query_orders_response.xml"), got)
	states := map[string]string{}
	q = api.OrdersQueryResponse{}
	err := api.Decode(got, &q)
	for _, o := range q.Orders {
		states[o.OrderID] = o.State
	}
	if err != nil || len(q.Orders) != 2 || states[first.OrderID] != api.OrderCreated || states[second.OrderID] != api.OrderToShip {
		t.Fatalf("orders_query by dates answer %s: %v", got, err)
	}

	// Accepting: the recorded request.
	got = post(t, srv.URL, api.ServiceOrdersUpdate, fill(sample(t, "update_orders_request.xml")))
	sameShape(t, "orders_update", sample(t, "update_orders_response.xml"), got)
	var u api.OrdersUpdateResponse
	if err := api.Decode(got, &u); err != nil || u.Status != api.StatusOK || len(u.Orders) != 1 || u.Orders[0].State != api.OrderAccepted {
		t.Fatalf("orders_update answer %s: %v", got, err)
	}

	// Accepting again, in the wrong state: refused as the recorded
	// ERR_109, and nothing changes.
	u = api.OrdersUpdateResponse{}
	got = post(t, srv.URL, api.ServiceOrdersUpdate, fill(sample(t, "update_orders_request.xml")))
	if err := api.Decode(got, &u); err != nil || u.Status != api.StatusError || len(u.Orders) != 1 {
		t.Fatalf("orders_update in the wrong state: %s: %v", got, err)
	}
	var real api.OrdersUpdateResponse
	rec := strings.ReplaceAll(string(sample(t, "update_incidents_response.xml")), "incidents_update_response", "orders_update_response")
	if err := api.Decode([]byte(rec), &real); err != nil {
		t.Fatal(err)
	}
	o, r := u.Orders[0], real.Orders[0]
	if o.Status != r.Status || len(o.Errors) != 1 || o.Errors[0].Code != r.Errors[0].Code || o.Errors[0].Severity != r.Errors[0].Severity ||
		o.State != api.OrderAccepted || len(o.Details) != 2 || o.Details[0].Status != r.Details[0].Status {
		t.Errorf("refusal in the wrong state %+v, want the shape of %+v", o, r)
	}

	// Shipping with a tracking: the recorded request, once billed.
	if err := fake.MoveOrder(shop, first.OrderID, api.OrderAccepted, api.OrderToShip); err != nil {
		t.Fatal(err)
	}
	got = post(t, srv.URL, api.ServiceOrdersUpdate, fill(sample(t, "update_orders_with_tracking_number_request.xml")))
	sameShape(t, "orders_update with tracking", sample(t, "update_orders_with_tracking_number_response.xml"), got)
	u = api.OrdersUpdateResponse{}
	if err := api.Decode(got, &u); err != nil || u.Status != api.StatusOK || u.Orders[0].State != api.OrderShipped {
		t.Fatalf("orders_update with tracking answer %s: %v", got, err)
	}
	shipped, carriers, _ := fake.Order(shop, first.OrderID)
	if shipped.Details[0].TrackingNumber != "1234" || carriers["1"] != "Track Inc." {
		t.Errorf("shipped order %+v, carriers %v", shipped.Details, carriers)
	}
}

// TestOrderSamplesDecode reads the recorded orders answers with the
// connector's decoder, and every state in them is one the connector
// knows.
func TestOrderSamplesDecode(t *testing.T) {
	var q api.OrdersQueryResponse
	if err := api.Decode(sample(t, "query_orders_response.xml"), &q); err != nil || len(q.Orders) != 7 || q.NbTotalResult != 7 {
		t.Fatalf("query_orders_response.xml: %v, %d orders", err, len(q.Orders))
	}
	known := func(state string) bool {
		s := fnac.OrderStatus(state)
		return s != connectors.OrderUndefined && s != connectors.OrderNotProvided
	}
	for _, o := range q.Orders {
		if len(o.OrderID) != api.OrderIDLen || !known(o.State) || len(o.Details) == 0 {
			t.Errorf("order %s in state %s with %d lines", o.OrderID, o.State, len(o.Details))
		}
		if _, err := api.ParseTime(o.CreatedAt); err != nil {
			t.Errorf("order %s: created_at %q: %v", o.OrderID, o.CreatedAt, err)
		}
		for _, d := range o.Details {
			if d.ID == "" || !known(d.State) || d.Quantity < 1 || d.Price == "" {
				t.Errorf("order %s: line %+v", o.OrderID, d)
			}
		}
	}
	for _, name := range []string{"update_orders_response.xml", "update_orders_with_tracking_number_response.xml"} {
		var u api.OrdersUpdateResponse
		if err := api.Decode(sample(t, name), &u); err != nil || len(u.Orders) != 1 || u.Orders[0].Status != api.StatusOK || len(u.Orders[0].Details) != 2 {
			t.Errorf("%s: %v, %+v", name, err, u)
		}
	}
}
