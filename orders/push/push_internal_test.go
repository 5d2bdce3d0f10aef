package push

import (
	"testing"
	"time"
)

// TestBackoffStaysWithinBounds: each delay is between half and all of
// RetryBase doubled per failure, never past RetryMax, and at least a
// Retry-After up to RetryMax.
func TestBackoffStaysWithinBounds(t *testing.T) {
	p := &Publisher{lim: DefaultLimits}
	for fails := 0; fails < 100; fails++ {
		full := p.lim.RetryMax
		if fails < 5 {
			full = p.lim.RetryBase << fails
		}
		for range 20 {
			if d := p.backoff(fails, 0); d < full/2 || d > full {
				t.Fatalf("after %d failures: %s, want %s to %s", fails, d, full/2, full)
			}
		}
	}
	if d := p.backoff(0, time.Minute); d != time.Minute {
		t.Errorf("Retry-After of a minute: %s", d)
	}
	// A floor: a Retry-After shorter than the backoff does not hasten it.
	for range 20 {
		if d := p.backoff(3, time.Second); d < (p.lim.RetryBase<<3)/2 {
			t.Fatalf("Retry-After of a second after 3 failures: %s", d)
		}
	}
	if d := p.backoff(0, time.Hour); d != p.lim.RetryMax {
		t.Errorf("Retry-After of an hour: %s, want RetryMax", d)
	}
}

func TestNextToken(t *testing.T) {
	for in, want := range map[string]string{"ab12cd34.1.0": "ab12cd34.1.1", "ab12cd34.7.41": "ab12cd34.7.42"} {
		if got, err := nextToken(in); err != nil || got != want {
			t.Errorf("nextToken(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "a.b.c"} {
		if _, err := nextToken(bad); err == nil {
			t.Errorf("nextToken(%q) accepted", bad)
		}
	}
}

// TestEntriesRoundTrip: what Publish stores, the delivery reads back,
// bodies with every byte a JSON encoder emits included.
func TestEntriesRoundTrip(t *testing.T) {
	at := time.UnixMilli(1767960000123)
	body := []byte(`{"id":"e1","data":{"note":"a\nb \u2028 é {x} : \\"}}`)
	raw := "0000000000000042" + entryRest(at, "e1", TypeOrderChanged, "acme-fr:FR 1:x", body)
	e, err := parseEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	if e.Seq != "0000000000000042" || e.Replayed || !e.Published.Equal(at) || e.ID != "e1" || e.Type != TypeOrderChanged ||
		e.Order != "acme-fr:FR 1:x" || string(e.Body) != string(body) {
		t.Errorf("parsed %+v", e)
	}
	if store, order := splitOrderKey(e.Order); store != "acme-fr" || order != "FR 1:x" {
		t.Errorf("order key split into %q %q", store, order)
	}
}
