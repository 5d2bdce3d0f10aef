package widgets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A document reads back from its binary form as it would from its JSON:
// the same fields, nil and empty lists told apart, invalid UTF-8
// replaced, times to the nanosecond (their zone aside: every renderer
// shows UTC).
func TestDocFormRoundTrip(t *testing.T) {
	t.Parallel()
	last := time.Date(2024, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	full := gorgiasSampleDocument()
	full.Customer = Customer{Email: "ada@example.com", Name: "Ada", Phone: "+33 6", ExternalID: "c-1", OrdersCount: 2, LastOrderAt: &last}
	full.Orders[1].Lines, full.Orders[1].Shipments = nil, []Shipment{}
	full.Orders[1].Returns = []Return{{TrackingNumber: "R2", Products: nil}, {Products: []ReturnProduct{}}}
	full.Orders[1].CreatedAt = time.Time{}
	full.Orders[0].Lines[0].Quantity = -7
	full.Orders[0].ID = "caf\u00e9 \xff\x00 \U0001F600"
	for name, doc := range map[string]*Document{
		"full":      full,
		"no orders": {Customer: Customer{Email: "nobody@example.com"}, Orders: []Order{}},
		"nil":       {},
		"ingest":    ingestLikeDocument(),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := unmarshalDoc(marshalDoc(doc))
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(doc)
			var want Document
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("binary form against JSON (-json +binary):\n%s", diff)
			}
		})
	}
}

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
	rev, got, err := decodeDoc(raw)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(doc, got); diff != "" {
		t.Errorf("document after a round trip (-want +got):\n%s", diff)
	}
	sum := sha256.Sum256(marshalDoc(doc))
	if want := hex.EncodeToString(sum[:revLen/2]); rev != want {
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
	for i := revLen; i < len(raw); i++ {
		for _, flip := range []byte{0x01, 0x80, 0xff} {
			bad := bytes.Clone(raw)
			bad[i] ^= flip
			if _, d, err := decodeDoc(bad); err == nil {
				t.Fatalf("byte %d of %d xor %#x: decoded to %d orders", i, len(raw), flip, len(d.Orders))
			}
		}
	}
	for n := range len(raw) {
		if _, _, err := decodeDoc(raw[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded", n, len(raw))
		}
	}
}

// A binary form cut short, or with a length past its end, is refused
// rather than read as another document or allocated for.
func TestDocFormRefusesMalformed(t *testing.T) {
	t.Parallel()
	form := marshalDoc(gorgiasSampleDocument())
	for n := range len(form) {
		if d, err := unmarshalDoc(form[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded, to %+v", n, len(form), d)
		}
	}
	if _, err := unmarshalDoc(append(form, 0)); err == nil {
		t.Error("a document with trailing bytes decoded")
	}
	huge := []byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, err := unmarshalDoc(huge); err == nil {
		t.Error("a document claiming 4 billion orders decoded")
	}
}

// legacyDoc is a document's value as the previous release wrote it: its
// JSON, compressed with zstd, behind the JSON's digest.
func legacyDoc(doc *Document) []byte {
	js, _ := json.Marshal(doc)
	sum := sha256.Sum256(js)
	return append([]byte(hex.EncodeToString(sum[:revLen/2])+"\n"), pack(js)...)
}

// Documents the previous release wrote, compressed JSON, are read as they
// are, keep their revision, and are rewritten in the binary form by the
// next change.
func TestReaderReadsCompressedJSONDocuments(t *testing.T) {
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
			oldRev := string(old[:revLen])

			r := NewReader(s.rdb, s, 5*time.Second, 10, time.Now)
			snap := r.Read(ctx, "acme", email)
			if snap.Freshness.State != StateOK || snap.Rev != oldRev {
				t.Fatalf("old document read as %s, rev %q; want ok, %q", snap.Freshness.State, snap.Rev, oldRev)
			}
			if diff := cmp.Diff(doc, snap.Doc); diff != "" {
				t.Errorf("old document (-want +got):\n%s", diff)
			}

			mustApply(t, s, orderChange("B", email, t0, t0, StatusNew))
			raw, err := s.rdb.Get(ctx, s.DocKey("acme", email)).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) <= revLen+1 || raw[revLen+1] != docPacked {
				t.Fatalf("document after a change: %q; want the packed binary form", raw[:min(len(raw), 20)])
			}
			if snap := r.Read(ctx, "acme", email); snap.Rev == oldRev || len(snap.Doc.Orders) != 2 {
				t.Errorf("read after the change: rev %q (old %q), %d orders; want a new revision and 2", snap.Rev, oldRev, len(snap.Doc.Orders))
			}
		})
	}
}

// FuzzDocForm: whatever the bytes, decoding returns a document or an
// error, never panics, and a document decoded reads back the same from
// its own binary form.
func FuzzDocForm(f *testing.F) {
	f.Add(marshalDoc(gorgiasSampleDocument()))
	f.Add(marshalDoc(&Document{}))
	f.Add(marshalDoc(ingestLikeDocument()))
	f.Fuzz(func(t *testing.T, form []byte) {
		d, err := unmarshalDoc(form)
		if err != nil {
			return
		}
		again, err := unmarshalDoc(marshalDoc(d))
		if err != nil {
			t.Fatalf("a decoded document's own form does not decode: %v", err)
		}
		// Invalid UTF-8 is replaced by the first write: the second
		// changes nothing.
		if !bytes.Equal(marshalDoc(again), marshalDoc(d)) {
			t.Fatalf("a document's form changed when written again: %+v", again)
		}
	})
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
