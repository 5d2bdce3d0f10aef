package mailparse

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func rawMail(header, body string) string {
	return strings.ReplaceAll(header, "\n", "\r\n") + "\r\n" + body
}

func TestLimits(t *testing.T) {
	manyParts := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f%d.bin\r\n\r\nx\r\n", i)
		}
		b.WriteString("--b--\r\n")
		return rawMail("Content-Type: multipart/mixed; boundary=b\n", b.String())
	}
	big := rawMail("Content-Type: text/plain\n", strings.Repeat("a", 2000))
	for _, tc := range []struct {
		name  string
		raw   string
		opts  Options
		limit Limit
	}{
		{"size", big, Options{MaxBytes: 1000}, LimitBytes},
		{"decoded", big, Options{MaxDecodedBytes: 1000}, LimitDecodedBytes},
		{"header", rawMail("X-Long: "+strings.Repeat("h", 3000)+"\n", "hi"), Options{MaxHeaderBytes: 1024}, LimitHeaderBytes},
		{"part header", rawMail("Content-Type: multipart/mixed; boundary=b\n", "--b\r\nX-Long: "+strings.Repeat("h", 3000)+"\r\n\r\nx\r\n--b--\r\n"), Options{MaxHeaderBytes: 1024}, LimitHeaderBytes},
		{"parts", manyParts(30), Options{MaxParts: 20}, LimitParts},
		{"attachments", manyParts(30), Options{MaxAttachments: 5}, LimitAttachments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.raw), tc.opts)
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit {
				t.Fatalf("err = %v, want a %s LimitError", err, tc.limit)
			}
			if _, err := ParseBytes([]byte(tc.raw), Options{}); err != nil {
				t.Fatalf("with the defaults: %v", err)
			}
		})
	}
}

func TestMalformedHeader(t *testing.T) {
	_, err := ParseBytes([]byte(" leading space\r\n\r\nbody"), Options{})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	m, err := ParseBytes([]byte("Subject: only a header"), Options{})
	if err != nil || m.Subject != "only a header" || m.Text != "" {
		t.Fatalf("header-only mail: %+v, %v", m, err)
	}
}

func TestFilenames(t *testing.T) {
	raw := rawMail("Content-Type: multipart/mixed; boundary=b\n",
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*0*=iso-8859-1''Re%E7u; filename*1=_n%B0; filename*2*=%B01.pdf\r\n\r\nx\r\n"+
			"--b\r\nContent-Type: application/pdf; name=\"=?ISO-8859-1?Q?Bon_de_livraison_=E9t=E9.pdf?=\"\r\n\r\nx\r\n"+
			"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nroot\r\n"+
			"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''%E2%82%AC.pdf\r\n\r\nx\r\n--b--\r\n")
	m, err := ParseBytes([]byte(raw), Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range m.Attachments {
		names = append(names, a.Filename)
	}
	// Continuation parts without '*' are not percent-decoded (RFC 2231 §4.1).
	want := []string{"Reçu_n%B0°1.pdf", "Bon de livraison été.pdf", "passwd", "€.pdf"}
	if strings.Join(names, "|") != strings.Join(want, "|") {
		t.Fatalf("names = %q, want %q", names, want)
	}
	if m.Text != "" {
		t.Fatalf("a text/plain attachment became body text: %q", m.Text)
	}
}

func TestAlternativeWithEmptyPlain(t *testing.T) {
	raw := rawMail("Content-Type: multipart/alternative; boundary=a\n",
		"--a\r\nContent-Type: text/plain\r\n\r\n \r\n--a\r\nContent-Type: text/html\r\n\r\n<p>Real text</p>\r\n--a--\r\n")
	m, err := ParseBytes([]byte(raw), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "Real text" || !m.TextFromHTML {
		t.Fatalf("Text = %q (from HTML %v), want the HTML's", m.Text, m.TextFromHTML)
	}
}

func TestHTMLToText(t *testing.T) {
	got := HTMLToText(`<html><head><title>T</title><style>.x{}</style></head><body>
<h1>Hello&nbsp;there</h1><p>One <b>bold</b>
word.</p><ul><li>first</li><li>second</li></ul>
<a href="javascript:alert(1)">click</a> <a href="https://example.com/x">site</a> <a href="https://example.com/y">https://example.com/y</a>
<script>document.write("no")</script><pre>  kept
   spacing</pre><img src="cid:a" alt="logo"></body></html>`)
	want := "Hello there\nOne bold word.\n- first\n- second\nclick site <https://example.com/x> https://example.com/y\n  kept\n   spacing\n[logo]"
	if got != want {
		t.Fatalf("HTMLToText =\n%q\nwant\n%q", got, want)
	}
}

func TestStrip(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"gmail en", "Thanks!\n\nOn Mon, Mar 2, 2026 at 10:00 AM Shop <s@example.com> wrote:\n> old", "Thanks!"},
		{"gmail wrapped", "Merci\n\nLe lun. 2 mars 2026 à 10:00, Boutique <s@example.fr>\na écrit :\n> ancien", "Merci"},
		{"german", "Danke\n\nAm 02.03.2026 um 10:00 schrieb Shop <s@example.de>:\n> alt", "Danke"},
		{"outlook", "Yes please.\n\n-----Original Message-----\nFrom: Shop\nSent: Monday\nSubject: x\n\nold", "Yes please."},
		{"outlook fr header block", "Oui.\n\nDe : Boutique\nEnvoyé : lundi 2 mars 2026\nÀ : moi\nObjet : x\n\nancien", "Oui."},
		{"signature", "See you.\n-- \nJeanne\nShop", "See you."},
		{"interleaved", "> question one?\nanswer one\n> question two?\nanswer two", "answer one\nanswer two"},
		{"mobile", "Ok\n\nEnvoyé de mon iPhone", "Ok"},
		{"only a quote keeps text", "On Mon wrote:\nbody of quote", "On Mon wrote:\nbody of quote"},
		{"not an attribution", "On Monday I wrote to you about the order.\nStill waiting.", "On Monday I wrote to you about the order.\nStill waiting."},
		{"amazon old", "Order ID 1:\n------------- Begin message -------------\nHi\n------------- End message -------------\n[commMgrTok:X]", "Hi"},
		{"amazon ca bilingual", "------------- Begin message / Début du message -------------\nBonjour\n------------- End message / Fin du message -------------\nfooter", "Bonjour"},
		{"amazon pt", "Você recebeu uma mensagem.\n------------- Mensagem: -------------\nOlá\n------------- Encerrar mensagem -------------\nrodapé", "Olá"},
		{"cdon", "Hej, Kund har kontaktat oss angående denna beställning.\nKunds meddelande:\nVar är paketet?", "Var är paketet?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Strip(tc.in); got != tc.want {
				t.Fatalf("Strip =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestProfileSpecFromConfig(t *testing.T) {
	// A profile is data: it round-trips through JSON and compiles the same.
	b, err := json.Marshal(AmazonSpec())
	if err != nil {
		t.Fatal(err)
	}
	var s ProfileSpec
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	p, err := s.Compile()
	if err != nil {
		t.Fatal(err)
	}
	m := &Message{From: []Address{{Address: "AbCdEfGh12345678@Marketplace.Amazon.Com.Be"}}, Subject: "Inquiry (Order: 111-3958185-1645065)"}
	c := Classify(p, m)
	if c.Kind != KindBuyerMessage || c.Marketplace != "amazon.com.be" || c.ThreadKey != "amazon:abcdefgh12345678@marketplace.amazon.com.be:order:111-3958185-1645065" {
		t.Fatalf("Classify = %+v", c)
	}

	for _, bad := range []ProfileSpec{
		{Name: "", RelayAddresses: []string{"x"}},
		{Name: "a b", RelayAddresses: []string{"x"}},
		{Name: "x"},
		{Name: "x", RelayAddresses: []string{"("}},
		{Name: "x", RelayAddresses: []string{"x"}, NoResponseHeaders: []string{"no colon"}},
	} {
		if _, err := bad.Compile(); err == nil {
			t.Errorf("Compile(%+v) succeeded", bad)
		}
	}
	if _, err := Generic(GenericConfig{Name: "g", RelayDomains: []string{"r.example"}}); err == nil {
		t.Error("a generic profile without a reference pattern compiled")
	}
	if _, err := Generic(GenericConfig{Name: "g", OrderSubject: "#(\\d+)"}); err == nil {
		t.Error("a generic profile without a relay domain compiled")
	}
}

func TestClassifyEdges(t *testing.T) {
	gen, err := Generic(GenericConfig{Name: "g", RelayDomains: []string{"@Relay.Example"}, OrderSubject: `#(\d+)`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    *Profile
		m    *Message
		kind Kind
		key  string
	}{
		{"amazon lookalike domain", Amazon, &Message{From: []Address{{Address: "abcdefgh1234@marketplace.amazon.fr.evil.example"}}, Subject: "(Order: 111-1111111-1111111)"}, KindUnmatched, ""},
		{"amazon reply-to is not trusted", Amazon, &Message{From: []Address{{Address: "x@spam.example"}}, ReplyTo: []Address{{Address: "abcdefgh1234@marketplace.amazon.fr"}}}, KindUnmatched, ""},
		{"amazon alias too short", Amazon, &Message{From: []Address{{Address: "abc@marketplace.amazon.fr"}}}, KindUnmatched, ""},
		{"generic subdomain", gen, &Message{From: []Address{{Address: "b-1@eu.relay.example"}}, Subject: "Order #1234"}, KindBuyerMessage, "g:b-1@eu.relay.example:order:1234"},
		{"generic without reference", gen, &Message{From: []Address{{Address: "b-1@relay.example"}}, Subject: "Hello"}, KindUnmatched, ""},
		{"delayed dsn is not a failure", Amazon, &Message{From: []Address{{Address: "mailer-daemon@x.example"}}, Report: &DeliveryReport{Action: "delayed", Status: "4.4.7", FinalRecipients: []string{"abcdefgh1234@marketplace.amazon.fr"}}}, KindUnmatched, ""},
		{"dsn for someone else", Amazon, &Message{From: []Address{{Address: "mailer-daemon@x.example"}}, Report: &DeliveryReport{Action: "failed", Status: "5.1.1", FinalRecipients: []string{"bob@example.com"}}}, KindUnmatched, ""},
		{"amazon order in the old template's body", Amazon, &Message{From: []Address{{Address: "abcdefgh1234@marketplace.amazon.com"}}, Subject: "Inquiry from Amazon customer", Text: "Order ID 102-1234567-7654321:\n1 of Lamp"}, KindBuyerMessage, "amazon:abcdefgh1234@marketplace.amazon.com:order:102-1234567-7654321"},
		{"amazon sender without fingerprint", Amazon, &Message{From: []Address{{Address: "donotreply@amazon.fr"}}, Subject: "Votre commande", Text: "Merci"}, KindUnmatched, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Classify(tc.p, tc.m)
			if c.Kind != tc.kind || c.ThreadKey != tc.key {
				t.Fatalf("Classify = %s %q (%s), want %s %q", c.Kind, c.ThreadKey, c.Reason, tc.kind, tc.key)
			}
		})
	}
}

// The "no response needed" link is taken from Amazon's own hosts only: a
// buyer's or a forger's link to another site is never offered to agents.
func TestNoResponseLinkHosts(t *testing.T) {
	const query = "?t=abc&m=def&mp=A13V1IB3VIYZZH&c=SELLER&h=0123456789abcdef0123456789abcdef01234567&s=1"
	for _, tc := range []struct {
		link string
		want bool
	}{
		{"https://sellercentral.amazon.fr/messaging/no-response-needed" + query, true},
		{"http://www.amazon.de/gp/communication-manager/no-response-needed.html" + query, true},
		{"https://sellercentral.amazon.fr.evil.example/messaging/no-response-needed" + query, false},
		{"https://evilamazon.fr/messaging/no-response-needed" + query, false},
		{"https://sellercentral.amazon.fr/messaging/other" + query, false},
	} {
		m := &Message{From: []Address{{Address: "abcdefgh1234@marketplace.amazon.fr"}}, Subject: "(Order: 111-1111111-1111111)", Text: "Where is it?\n\nResolve case: " + tc.link}
		c := Classify(Amazon, m)
		if got := c.NoResponseURL == tc.link; got != tc.want {
			t.Errorf("%s: NoResponseURL = %q, want it taken: %t", tc.link, c.NoResponseURL, tc.want)
		}
	}
}
