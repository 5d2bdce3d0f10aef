package connectors

import "testing"

func TestPageTokenRoundTrip(t *testing.T) {
	type state struct {
		Since string `json:"s"`
		Page  int    `json:"p"`
	}
	tok := EncodePageToken(state{Since: "2026-12-06T10:00:00Z", Page: 3})
	var got state
	if err := DecodePageToken(tok, &got); err != nil || got != (state{Since: "2026-12-06T10:00:00Z", Page: 3}) {
		t.Errorf("round trip: %+v, %v", got, err)
	}
	for _, bad := range []string{"%%%", "bm90IGpzb24"} { // not base64; base64 of "not json"
		if err := DecodePageToken(bad, &got); err == nil {
			t.Errorf("DecodePageToken(%q) = nil, want an error", bad)
		}
	}
}
