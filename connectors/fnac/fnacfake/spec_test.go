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
