package orders

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A stored document is its revision, the digest of its binary form, and
// that form compressed: a tenth of its JSON.
func TestDocStoredValue(t *testing.T) {
	t.Parallel()
	doc := &Document{Customer: Customer{Email: "jeanne@example.com"}}
	for i := range 10 {
		doc.Orders = append(doc.Orders, *orderChange("FR-"+strings.Repeat("7", i+1), "jeanne@example.com", t0, t0, StatusClosed).Order)
	}
	raw := encodeDoc(doc)
	js, _ := json.Marshal(doc)
	if len(raw) > len(js)/6 {
		t.Errorf("a document of 10 orders is %d bytes stored for %d of JSON: want a sixth at most", len(raw), len(js))
	}
	rev, got, err := DecodeDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(doc, got); diff != "" {
		t.Errorf("document after a round trip (-want +got):\n%s", diff)
	}
	sum := sha256.Sum256(marshalDoc(doc))
	if want := hex.EncodeToString(sum[:RevLen/2]); rev != want {
		t.Errorf("revision %q, want %q, the digest of the binary form", rev, want)
	}
	if again := encodeDoc(got); !bytes.Equal(again, raw) {
		t.Error("a document written again unchanged is stored differently")
	}
}

// A stored document with a flipped byte anywhere past its revision, or
// cut short, is refused rather than read as another document.
func TestDocStoredValueRefusesCorruption(t *testing.T) {
	t.Parallel()
	raw := encodeDoc(ingestLikeDocument())
	for i := RevLen; i < len(raw); i++ {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(raw)
			bad[i] ^= flip
			if _, d, err := DecodeDocument(bad); err == nil {
				t.Fatalf("byte %d of %d xor %#x: decoded to %d orders", i, len(raw), flip, len(d.Orders))
			}
		}
	}
	for n := range len(raw) {
		if _, _, err := DecodeDocument(raw[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded", n, len(raw))
		}
	}
}

// legacyDoc is a document's value as the previous release wrote it: its
// JSON, compressed with zstd, behind the JSON's digest.
func legacyDoc(doc *Document) []byte {
	js, _ := json.Marshal(doc)
	sum := sha256.Sum256(js)
	return append([]byte(hex.EncodeToString(sum[:RevLen/2])+"\n"), pack(js)...)
}

// Documents the previous release wrote, compressed JSON, are read as they
// are, keep their revision, and are rewritten in the binary form by the
// next change.
func TestCompressedJSONDocumentsAreRead(t *testing.T) {
	for _, b := range storeBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.store
			ctx := context.Background()
			email := "jeanne@example.com"
			mustApply(t, s, orderChange("A", email, t0.Add(-time.Hour), t0, StatusNew))
			doc := stored(t, s, email)
			old := legacyDoc(doc)
			if err := s.rdb.Set(ctx, s.DocKey("acme", email), old, 0).Err(); err != nil {
				t.Fatal(err)
			}
			oldRev := string(old[:RevLen])

			rev, got := readDoc(t, s, email)
			if rev != oldRev {
				t.Fatalf("old document read with rev %q; want %q", rev, oldRev)
			}
			if diff := cmp.Diff(doc, got); diff != "" {
				t.Errorf("old document (-want +got):\n%s", diff)
			}

			mustApply(t, s, orderChange("B", email, t0, t0, StatusNew))
			raw, err := s.rdb.Get(ctx, s.DocKey("acme", email)).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) <= RevLen+1 || raw[RevLen+1] != docPacked3 {
				t.Fatalf("document after a change: %q; want the packed binary form", raw[:min(len(raw), 20)])
			}
			if rev, got := readDoc(t, s, email); rev == oldRev || len(got.Orders) != 2 {
				t.Errorf("read after the change: rev %q (old %q), %d orders; want a new revision and 2", rev, oldRev, len(got.Orders))
			}
		})
	}
}

// ingestLikeDocument is a customer as the bench's ingest makes them: ten
// orders of one to three lines, no shipment.
func ingestLikeDocument() *Document {
	d := &Document{Customer: Customer{Email: "jeanne.martin.42@ingest.example"}, Orders: []Order{}}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for k := range 10 {
		id := "FR-2026-00" + string(rune('0'+k)) + "0042"
		o := Order{ID: id, Store: "bench-fr", Marketplace: "Cdiscount", Status: StatusClosed, MarketplaceStatus: "CLOSED",
			CreatedAt: at.Add(time.Duration(k) * 720 * time.Hour), Total: "123.45", Currency: "EUR",
			URL: "https://backoffice.example/orders/" + id, Buyer: Buyer{Name: "Jeanne Martin", Phone: "+33 6 39 98 00 42"},
			Shipments: []Shipment{}, Returns: []Return{}, SupportRequests: []SupportRequest{}}
		for l := range 1 + k%3 {
			o.Lines = append(o.Lines, Line{Name: "Théière en fonte 1,2 L", SKU: "TEA-" + string(rune('A'+l)), Quantity: 1 + l})
		}
		d.Orders = append(d.Orders, o)
	}
	return d
}

// readDoc decodes a customer's stored document as a widget read does.
func readDoc(t *testing.T, s *Store, email string) (rev string, doc *Document) {
	t.Helper()
	raw, err := s.rdb.Get(context.Background(), s.DocKey("acme", email)).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	rev, doc, err = DecodeDocument(raw)
	if err != nil {
		t.Fatal(err)
	}
	return rev, doc
}

// A document of the first binary form, without actions, is still read;
// one with an action keeps it through a round trip.
func TestDocumentFormsWithAndWithoutActions(t *testing.T) {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	doc := &Document{Customer: Customer{Email: "a@example.com", OrdersCount: 1}, Orders: []Order{{ID: "A", Store: "s", Status: StatusInProgress, CreatedAt: at, Lines: []Line{}, Shipments: []Shipment{}, Returns: []Return{}, SupportRequests: []SupportRequest{}}}}
	form := marshalDoc(doc)
	if form[len(form)-1] != 0 || form[len(form)-2] != 0 {
		t.Fatalf("an order without action nor invoice ends with %v; want the 0 of no action and of no invoice", form[len(form)-2:])
	}
	v2 := form[:len(form)-1] // the second form: the same fields, no invoice
	if got, err := unmarshalDoc(v2, docPacked2); err != nil {
		t.Fatal(err)
	} else if diff := cmp.Diff(doc, got); diff != "" {
		t.Errorf("second form (-want +got):\n%s", diff)
	}
	v1 := form[:len(form)-2] // the first form: the same fields, no action
	got, err := unmarshalDoc(v1, docPacked)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(doc, got); diff != "" {
		t.Errorf("first form (-want +got):\n%s", diff)
	}
	if _, err := unmarshalDoc(v1, docPacked2); err == nil {
		t.Error("the first form read as the second: want an error")
	}
	doc.Orders[0].Invoice = "F-000042"
	settled := at.Add(time.Minute)
	doc.Orders[0].Action = &OrderAction{ID: "act_1", Kind: ActShip, State: Refused, Reason: "cannot ship", RequestedAt: at, SettledAt: &settled}
	_, got, err = DecodeDocument(encodeDoc(doc))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(doc, got); diff != "" {
		t.Errorf("with an action (-want +got):\n%s", diff)
	}
}

// uvarint reads what binary.Uvarint reads, from bytes or a string.
func TestUvarintIsBinaryUvarint(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 100000 {
		b := make([]byte, rng.IntN(12))
		for i := range b {
			b[i] = byte(rng.IntN(256))
			if rng.IntN(3) == 0 {
				b[i] |= 0x80
			}
		}
		wantN, wantK := binary.Uvarint(b)
		if n, k := uvarint(b); n != wantN || k != wantK {
			t.Fatalf("uvarint(%x) = %d, %d; want %d, %d", b, n, k, wantN, wantK)
		}
		if n, k := uvarint(string(b)); n != wantN || k != wantK {
			t.Fatalf("uvarint(string %x) = %d, %d; want %d, %d", b, n, k, wantN, wantK)
		}
	}
}

// A document's value may carry its sidebars' renders after it: the
// document reads the same, each render is found by its field, and a
// render put back replaces its own field only.
func TestDocStoredWithRenders(t *testing.T) {
	t.Parallel()
	doc := ingestLikeDocument()
	plain := encodeDoc(doc)
	renders := map[string][]byte{"gorgias|json|f1": []byte("gzipped json"), "zendesk|zendesk|f2": bytes.Repeat([]byte{0, 0xff}, 300)}
	raw := withRenders(plain, renders)
	if !bytes.Equal(raw[:RevLen], plain[:RevLen]) {
		t.Fatal("renders changed the document's revision")
	}
	rev, got, err := DecodeDocument(raw)
	if err != nil || rev != string(plain[:RevLen]) {
		t.Fatalf("decode: %v, rev %s", err, rev)
	}
	if diff := cmp.Diff(doc, got); diff != "" {
		t.Fatalf("the document read with renders differs (-want +got):\n%s", diff)
	}
	for field, want := range renders {
		if r := StoredRender(raw, field); !bytes.Equal(r, want) {
			t.Errorf("%s: render %q", field, r)
		}
		if r := StoredRender(string(raw), field); r != string(want) {
			t.Errorf("%s: render read from a string %q", field, r)
		}
	}
	if StoredRender(raw, "gorgias|json") != nil || StoredRender(plain, "gorgias|json|f1") != nil {
		t.Error("a render was found under a field not kept")
	}
	again, err := WithRender(raw, "gorgias|json|f1", []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	if string(StoredRender(again, "gorgias|json|f1")) != "new" || !bytes.Equal(StoredRender(again, "zendesk|zendesk|f2"), renders["zendesk|zendesk|f2"]) {
		t.Error("a render put back did not replace its own field only")
	}
	if _, d, err := DecodeDocument(again); err != nil || cmp.Diff(doc, d) != "" {
		t.Errorf("the document changed with a render put back: %v", err)
	}
	first, err := WithRender(plain, "html|html|f3", []byte("<p>"))
	if err != nil || string(StoredRender(first, "html|html|f3")) != "<p>" {
		t.Errorf("a render added to a document written without renders: %v", err)
	}
	if _, err := WithRender(legacyDoc(doc), "html|html|f3", []byte("<p>")); err == nil {
		t.Error("a render was added to a document of an earlier form, which earlier releases read without it")
	}

	// The document's part is checked as before; cut anywhere, the value
	// never yields a render other than a whole one.
	for i := RevLen; i < len(plain); i++ {
		bad := bytes.Clone(raw)
		bad[i] ^= 0x01
		if _, d, err := DecodeDocument(bad); err == nil && cmp.Diff(doc, d) != "" {
			t.Fatalf("byte %d flipped: decoded to another document", i)
		}
	}
	for n := range len(raw) {
		for field, want := range renders {
			if r := StoredRender(raw[:n], field); r != nil && !bytes.Equal(r, want) {
				t.Fatalf("cut at %d: render %s is %d bytes of %d", n, field, len(r), len(want))
			}
		}
		if n < len(plain) {
			if _, _, err := DecodeDocument(raw[:n]); err == nil {
				t.Fatalf("the first %d bytes decoded", n)
			}
		}
	}
}
