package orders

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

func TestPackRoundTrip(t *testing.T) {
	t.Parallel()
	c := orderChange("A", "jeanne@example.com", t0, t0, StatusNew)
	agg := &aggregate{}
	c.applyTo(agg)
	sc := shipmentChange("A", "s1", t0, "in_transit")
	sc.applyTo(agg)
	packed, err := encodeAggregate(agg)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(agg)
	if !bytes.HasPrefix(packed, zstdMagic) || len(packed) > len(plain)*6/10 {
		t.Errorf("stored order: %d bytes for %d of JSON, compressed: %v; want 60%% at most", len(packed), len(plain), bytes.HasPrefix(packed, zstdMagic))
	}
	back, err := decodeAggregate(packed)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(agg, back, cmp.AllowUnexported(aggregate{})); diff != "" {
		t.Errorf("order after a round trip (-want +got):\n%s", diff)
	}
}

// Frames name the dictionary they were written with: changing it would
// make every stored order unreadable. A new one needs a new id.
func TestShapesDictionaryNeverChanges(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte(shapes))
	if got, want := hex.EncodeToString(sum[:8]), "4bfaa4f518b939dc"; shapesID != 1 || got != want {
		t.Errorf("dictionary %d has digest %s, want 1 and %s: add a new dictionary with a new id instead", shapesID, got, want)
	}
}

func TestUnpackRefusesCorruptValues(t *testing.T) {
	t.Parallel()
	body, _ := json.Marshal(map[string]string{"a": strings.Repeat("b", 500)})
	raw := pack(body)
	raw[len(raw)/2] ^= 0xff
	if js, err := unpack(raw); err == nil {
		t.Errorf("a corrupted frame decoded to %q", js)
	}
	if _, _, err := DecodeDocument(append([]byte("0123456789abcdef\n"), zstdMagic...)); err == nil {
		t.Error("a truncated document decoded")
	}
}

// Documents and orders that the release before compression wrote, plain
// JSON, are read as they are, and rewritten compressed by the next change
// (documents in their binary form, docform.go).
func TestStoreReadsValuesWrittenBeforeCompression(t *testing.T) {
	for _, b := range storeBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.store
			ctx := context.Background()
			email := "jeanne@example.com"
			hash := EmailHash(email)
			agg := &aggregate{}
			c := orderChange("A", email, t0.Add(-time.Hour), t0, StatusNew)
			c.applyTo(agg)
			plainAgg, _ := json.Marshal(agg)
			doc := Document{Customer: Customer{Email: email}, Orders: []Order{agg.view()}}
			body, _ := json.Marshal(doc)
			sum := sha256.Sum256(body)
			oldRev := hex.EncodeToString(sum[:RevLen/2])
			// The previous release's layout, written as it wrote it.
			if err := s.rdb.Set(ctx, s.orderKey("acme", "acme-fr", "A"), plainAgg, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.rdb.SAdd(ctx, s.indexKey("acme", hash), "acme-fr:A").Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.rdb.Set(ctx, s.docKey("acme", hash), oldRev+"\n"+string(body), 0).Err(); err != nil {
				t.Fatal(err)
			}

			rev, got := readDoc(t, s, email)
			if rev != oldRev || len(got.Orders) != 1 || got.Orders[0].ID != "A" {
				t.Fatalf("old document read with rev %q, %d orders; want %q, order A", rev, len(got.Orders), oldRev)
			}
			if got, err := s.CustomerEmail(ctx, "acme", "acme-fr", "A"); err != nil || got != email {
				t.Fatalf("CustomerEmail of an old order = %q, %v", got, err)
			}

			mustApply(t, s, shipmentChange("A", "s1", t0, "in_transit"))
			mustApply(t, s, orderChange("B", email, t0, t0, StatusNew))
			d := stored(t, s, email)
			if diff := cmp.Diff([]string{"B", "A"}, orderIDs(d)); diff != "" {
				t.Fatalf("orders after the next changes (-want +got):\n%s", diff)
			}
			if len(d.Orders[1].Shipments) != 1 {
				t.Errorf("A's shipments = %+v, want the new one", d.Orders[1].Shipments)
			}
			for _, key := range []string{s.orderKey("acme", "acme-fr", "A"), s.orderKey("acme", "acme-fr", "B")} {
				raw, err := s.rdb.Get(ctx, key).Bytes()
				if err != nil || !bytes.HasPrefix(raw, zstdMagic) {
					t.Errorf("%s after a change: %q, %v; want it compressed", key, raw[:min(len(raw), 20)], err)
				}
			}
			raw, _ := s.rdb.Get(ctx, s.docKey("acme", hash)).Bytes()
			if len(raw) <= RevLen+1 || raw[RevLen+1] != docPacked3 {
				t.Errorf("document after a change is not in its packed binary form: %q", raw[:min(len(raw), 40)])
			}
			if rev, got := readDoc(t, s, email); rev == oldRev || len(got.Orders) != 2 {
				t.Errorf("read after the change: rev %q (old %q), %d orders; want a new revision and 2", rev, oldRev, len(got.Orders))
			}
		})
	}
}
