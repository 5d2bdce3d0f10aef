package mailparse

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// wantAttachment is what the corpus test checks of one attachment.
type wantAttachment struct {
	name, contentType string
	inline            bool
	contentID         string
	partial           bool   // truncated in the fixture: size not checked
	prefix            string // the decoded data starts with it
}

// corpusCase is the expected outcome of one fixture of testdata.
type corpusCase struct {
	profile     string // amazon, cdon, generic
	err         Limit  // a LimitError of this limit is expected
	kind        Kind
	threadKey   string
	orderID     string
	caseID      string
	marketplace string
	stripped    string // a snippet of StrippedText
	notStripped string // must not be in StrippedText
	subject     string
	attachments []wantAttachment
	defects     bool
	refersMsgID string
	noResponse  bool // a no-response link is found
}

const (
	frThread = "amazon:k7r2m9x4p1q8w3z6@marketplace.amazon.fr:order:171-1234567-7654321"
	ukThread = "amazon:q9w8e7r6t5y4u3i2@marketplace.amazon.co.uk:order:203-1111111-2222222"
)

// corpus: every fixture of testdata, written by us after the formats in
// the shared reference (no real mail copied). Forms the reference does not
// confirm, used here as the profiles' UNVERIFIED rules expect them: the
// FR, DE and ES template labels ("Message :", "Fin du message",
// "Nachricht:", "Ende der Nachricht"), the sender and subject of Amazon's
// failure notice (its first sentence is the reference's fingerprint), the
// CDON errand's sender and labels, and every address and id.
var corpus = map[string]corpusCase{
	"amazon-fr-buyer-qp-latin1.eml": {
		profile: "amazon", kind: KindBuyerMessage, threadKey: frThread, orderID: "171-1234567-7654321", marketplace: "amazon.fr",
		subject:  "Demande de renseignements sur la livraison de la part du client Amazon Camille (Commande : 171-1234567-7654321)",
		stripped: "je n'ai toujours pas reçu ma commande passée", notStripped: "votre colis est parti", noResponse: true,
	},
	"amazon-de-buyer-html-b64-win1252.eml": {
		profile: "amazon", kind: KindBuyerMessage, orderID: "302-7654321-1234567", marketplace: "amazon.de",
		threadKey: "amazon:w4e8r1t6y2u9i3o5@marketplace.amazon.de:order:302-7654321-1234567",
		subject:   "Anfrage von Amazon-Kunde Jürgen (Bestellung: 302-7654321-1234567)",
		stripped:  "die Lieferung ist beschädigt angekommen – der Karton war eingedrückt.", notStripped: "Vielen Dank", noResponse: true,
		attachments: []wantAttachment{
			{contentType: "image/png", inline: true, contentID: "foto-karton@amazon", prefix: "\x89PNG"},
			{name: "Rechnung_Müller.pdf", contentType: "application/pdf", prefix: "%PDF-1.4\n"},
		},
	},
	"amazon-uk-buyer-jpeg-utf8.eml": {
		profile: "amazon", kind: KindBuyerMessage, threadKey: ukThread, orderID: "203-1111111-2222222", marketplace: "amazon.co.uk",
		stripped: "The mug arrived cracked — photo attached.", notStripped: "Alisa P.", noResponse: true,
		attachments: []wantAttachment{{name: "mug cassé.jpg", contentType: "image/jpeg", prefix: "\xff\xd8\xff\xe0"}},
	},
	"amazon-com-presale-plus-case.eml": {
		profile: "amazon", kind: KindBuyerMessage, marketplace: "amazon.com",
		threadKey: "amazon:a1b2c3d4e5f6g7h8@marketplace.amazon.com:no-order", caseID: "0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
		stripped: "Hi, is this lamp compatible with 110 V outlets?", notStripped: "You have received",
	},
	"amazon-es-buyer-alternative-b64.eml": {
		profile: "amazon", kind: KindBuyerMessage, orderID: "405-3333333-4444444", marketplace: "amazon.es",
		threadKey: "amazon:z1x2c3v4b5n6m7l8@marketplace.amazon.es:order:405-3333333-4444444",
		stripped:  "Hola, quiero devolver el artículo. ¿Cómo lo hago?", notStripped: "Gracias por su compra",
	},
	"amazon-fr-delivery-failure.eml": {
		profile: "amazon", kind: KindDeliveryFailure, threadKey: frThread, orderID: "171-1234567-7654321", marketplace: "amazon.fr",
		stripped: "We were unable to deliver",
	},
	"dsn-amazon-alias-rejected.eml": {
		profile: "amazon", kind: KindDeliveryFailure, threadKey: frThread, orderID: "171-1234567-7654321", marketplace: "amazon.fr",
		refersMsgID: "reply-0001@example.fr", stripped: "could not",
		attachments: []wantAttachment{{contentType: "message/delivery-status"}, {contentType: "text/rfc822-headers"}},
	},
	"amazon-seller-central-copy.eml": {
		profile: "amazon", kind: KindNoResponseNeeded, orderID: "203-1111111-2222222", marketplace: "amazon",
		stripped: "Hello Alisa, a replacement is on its way.",
	},
	"amazon-newsletter.eml": {profile: "amazon", kind: KindUnmatched, marketplace: "amazon", stripped: "Nos meilleures offres"},
	"spam-fake-amazon.eml":  {profile: "amazon", kind: KindUnmatched, marketplace: "amazon", stripped: "Verify your account"},
	"cdon-errand-latin1-b64.eml": {
		profile: "cdon", kind: KindBuyerMessage, threadKey: "cdon:case:7731942", caseID: "7731942", orderID: "51234567", marketplace: "cdon",
		subject: "Nytt ärende (Complaint) - Ärende-ID: 7731942", stripped: "Hörlurarna fungerar inte på vänster sida.", notStripped: "Ärendetyp",
	},
	"cdon-relay-order.eml": {
		profile: "cdon", kind: KindBuyerMessage, threadKey: "cdon:noreply-kundtjanst@cdon.com:order:40123456", orderID: "40123456", marketplace: "cdon",
		stripped: "När kommer min leverans?", notStripped: "Kund har kontaktat oss",
	},
	"cdon-newsletter.eml": {profile: "cdon", kind: KindUnmatched, marketplace: "cdon", stripped: "Upp till 50% rabatt!"},
	"generic-relay-case.eml": {
		profile: "generic", kind: KindBuyerMessage, threadKey: "examplemarket:case:em-20931", caseID: "EM-20931", marketplace: "Example Market",
		stripped: "il manque un article dans le colis – la housse.", notStripped: "iPhone",
	},
	"malformed-broken-boundary.eml": {
		profile: "amazon", kind: KindBuyerMessage, threadKey: frThread, orderID: "171-1234567-7654321", marketplace: "amazon.fr",
		stripped: "Bonjour, encore moi.", defects: true, // read again with the boundary the body uses
	},
	"malformed-bad-charset.eml": {
		profile: "amazon", kind: KindBuyerMessage, threadKey: frThread, orderID: "171-1234567-7654321", marketplace: "amazon.fr",
		stripped: "Le colis est arrivé, merci beaucoup !", defects: true,
	},
	"malformed-truncated-base64.eml": {
		profile: "amazon", kind: KindBuyerMessage, threadKey: ukThread, orderID: "203-1111111-2222222", marketplace: "amazon.co.uk",
		stripped: "Here is the return label", defects: true,
		attachments: []wantAttachment{{name: "label.pdf", contentType: "application/pdf", partial: true}},
	},
	"malformed-deep-nesting.eml": {profile: "amazon", err: LimitDepth},
	"malformed-header-line.eml":  {profile: "amazon", kind: KindUnmatched, marketplace: "amazon", subject: "You won", defects: true, stripped: "Claim your prize now."},
}

func testProfile(t *testing.T, name string) *Profile {
	t.Helper()
	if p, ok := Builtin(name); ok {
		return p
	}
	p, err := Generic(GenericConfig{
		Name: "examplemarket", Marketplace: "Example Market", RelayDomains: []string{"relay.example-market.com"},
		CaseSubject: `\[Case #(?P<case>[A-Z0-9-]+)\]`,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCorpus(t *testing.T) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(corpus) {
		t.Errorf("%d fixtures, %d expectations: every .eml needs a case", len(files), len(corpus))
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			want, ok := corpus[name]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m, err := Parse(strings.NewReader(string(raw)), Options{})
			if want.err != "" {
				var le *LimitError
				if !errors.As(err, &le) || le.Limit != want.err {
					t.Fatalf("err = %v, want a %s LimitError", err, want.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if string(m.Raw) != string(raw) {
				t.Error("Raw is not the original mail")
			}
			if want.subject != "" && m.Subject != want.subject {
				t.Errorf("Subject = %q, want %q", m.Subject, want.subject)
			}
			if !strings.Contains(m.StrippedText, want.stripped) {
				t.Errorf("StrippedText = %q, want it to contain %q", m.StrippedText, want.stripped)
			}
			if want.notStripped != "" && strings.Contains(m.StrippedText, want.notStripped) {
				t.Errorf("StrippedText = %q, want no %q", m.StrippedText, want.notStripped)
			}
			if (len(m.Defects) > 0) != want.defects {
				t.Errorf("Defects = %q, want defects: %v", m.Defects, want.defects)
			}
			checkAttachments(t, m.Attachments, want.attachments)

			c := Classify(testProfile(t, want.profile), m)
			if c.Kind != want.kind || c.ThreadKey != want.threadKey || c.OrderID != want.orderID ||
				c.CaseID != want.caseID || c.Marketplace != want.marketplace {
				t.Errorf("Classify = kind %s thread %q order %q case %q market %q (%s)\nwant kind %s thread %q order %q case %q market %q",
					c.Kind, c.ThreadKey, c.OrderID, c.CaseID, c.Marketplace, c.Reason,
					want.kind, want.threadKey, want.orderID, want.caseID, want.marketplace)
			}
			if (c.NoResponseURL != "") != want.noResponse {
				t.Errorf("NoResponseURL = %q, want one: %v", c.NoResponseURL, want.noResponse)
			}
			if want.kind == KindDeliveryFailure {
				if c.Refers == nil || c.Refers.MessageID != want.refersMsgID {
					t.Errorf("Refers = %+v, want message id %q", c.Refers, want.refersMsgID)
				}
			}
			// Only the buyer's relay may be replied to.
			if c.Kind == KindBuyerMessage && c.ReplyTo != m.From[0].Address {
				t.Errorf("ReplyTo = %q, want the From address %q", c.ReplyTo, m.From[0].Address)
			}
		})
	}
}

func checkAttachments(t *testing.T, got []Attachment, want []wantAttachment) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d attachments, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Filename != w.name || g.ContentType != w.contentType || g.Inline != w.inline || g.ContentID != w.contentID {
			t.Errorf("attachment %d = %q %s inline=%v cid=%q, want %q %s inline=%v cid=%q",
				i, g.Filename, g.ContentType, g.Inline, g.ContentID, w.name, w.contentType, w.inline, w.contentID)
		}
		if !strings.HasPrefix(string(g.Data), w.prefix) {
			t.Errorf("attachment %d data starts %q, want %q", i, g.Data[:min(8, len(g.Data))], w.prefix)
		}
		if g.Size != len(g.Data) || (!w.partial && g.Size == 0) {
			t.Errorf("attachment %d: size %d, %d bytes of data", i, g.Size, len(g.Data))
		}
	}
}
