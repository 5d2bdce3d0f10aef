package orders_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helpdesk-bridge/bridge/orders"
	"github.com/helpdesk-bridge/bridge/orders/orderstest"
)

// A document reads back from its binary form as it would from its JSON:
// the same fields, nil and empty lists told apart, invalid UTF-8
// replaced, times to the nanosecond (their zone aside: every renderer
// shows UTC).
func TestDocFormRoundTrip(t *testing.T) {
	t.Parallel()
	last := time.Date(2024, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
	full := orderstest.SampleDocument()
	full.Customer = orders.Customer{Email: "ada@example.com", Name: "Ada", Phone: "+33 6", ExternalID: "c-1", OrdersCount: 2, LastOrderAt: &last}
	full.Orders[1].Lines, full.Orders[1].Shipments = nil, []orders.Shipment{}
	full.Orders[1].Returns = []orders.Return{{TrackingNumber: "R2", Products: nil}, {Products: []orders.ReturnProduct{}}}
	full.Orders[1].CreatedAt = time.Time{}
	full.Orders[0].Lines[0].Quantity = -7
	full.Orders[0].ID = "caf\u00e9 \xff\x00 \U0001F600"
	for name, doc := range map[string]*orders.Document{
		"full":      full,
		"no orders": {Customer: orders.Customer{Email: "nobody@example.com"}, Orders: []orders.Order{}},
		"nil":       {},
		"ingest":    orders.IngestLikeDocument(),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := orders.UnmarshalDoc(orders.MarshalDoc(doc))
			if err != nil {
				t.Fatal(err)
			}
			js, _ := json.Marshal(doc)
			var want orders.Document
			if err := json.Unmarshal(js, &want); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("binary form against JSON (-json +binary):\n%s", diff)
			}
		})
	}
}

// A binary form cut short, or with a length past its end, is refused
// rather than read as another document or allocated for.
func TestDocFormRefusesMalformed(t *testing.T) {
	t.Parallel()
	form := orders.MarshalDoc(orderstest.SampleDocument())
	for n := range len(form) {
		if d, err := orders.UnmarshalDoc(form[:n]); err == nil {
			t.Fatalf("the first %d of %d bytes decoded, to %+v", n, len(form), d)
		}
	}
	if _, err := orders.UnmarshalDoc(append(form, 0)); err == nil {
		t.Error("a document with trailing bytes decoded")
	}
	huge := []byte{0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if _, err := orders.UnmarshalDoc(huge); err == nil {
		t.Error("a document claiming 4 billion orders decoded")
	}
}

// FuzzDocForm: whatever the bytes, decoding returns a document or an
// error, never panics, and a document decoded reads back the same from
// its own binary form.
func FuzzDocForm(f *testing.F) {
	f.Add(orders.MarshalDoc(orderstest.SampleDocument()))
	f.Add(orders.MarshalDoc(&orders.Document{}))
	f.Add(orders.MarshalDoc(orders.IngestLikeDocument()))
	f.Fuzz(func(t *testing.T, form []byte) {
		d, err := orders.UnmarshalDoc(form)
		if err != nil {
			return
		}
		again, err := orders.UnmarshalDoc(orders.MarshalDoc(d))
		if err != nil {
			t.Fatalf("a decoded document's own form does not decode: %v", err)
		}
		// Invalid UTF-8 is replaced by the first write: the second
		// changes nothing.
		if !bytes.Equal(orders.MarshalDoc(again), orders.MarshalDoc(d)) {
			t.Fatalf("a document's form changed when written again: %+v", again)
		}
	})
}
