package mailparse

import (
	"strings"
	"testing"
)

// Only the topmost Authentication-Results of the mailbox's own server
// counts, and only a DMARC pass or a DKIM pass aligned with From.
func TestAuthenticated(t *testing.T) {
	const mx = "mx.boutique.example"
	for _, tc := range []struct {
		name    string
		headers []string
		want    bool
	}{
		{"dmarc pass", []string{mx + "; dmarc=pass header.from=marketplace.amazon.fr; spf=pass smtp.mailfrom=amazonses.com"}, true},
		{"dkim pass by a parent domain", []string{mx + "; dkim=pass header.d=amazon.fr header.s=sel; spf=softfail smtp.mailfrom=x.example"}, true},
		{"dkim pass by the domain itself", []string{mx + "; dkim=pass header.d=marketplace.amazon.fr"}, true},
		{"dkim pass by another domain", []string{mx + "; dkim=pass header.d=amazonses.com; dmarc=fail header.from=marketplace.amazon.fr"}, false},
		{"spf pass alone", []string{mx + "; spf=pass smtp.mailfrom=marketplace.amazon.fr"}, false},
		{"dmarc pass for another domain", []string{mx + "; dmarc=pass header.from=evil.example"}, false},
		{"a lower header of the same id came with the mail", []string{mx + "; dmarc=fail header.from=marketplace.amazon.fr", mx + "; dmarc=pass header.from=marketplace.amazon.fr"}, false},
		{"another server's pass", []string{"mx.evil.example; dmarc=pass header.from=marketplace.amazon.fr"}, false},
		{"our server's behind another's", []string{"mx.relay.example; none", mx + "; dmarc=pass header.from=marketplace.amazon.fr"}, true},
		{"no header", nil, false},
		{"unreadable header of ours", []string{mx + "; dkim", mx + "; dmarc=pass header.from=marketplace.amazon.fr"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw strings.Builder
			for _, h := range tc.headers {
				raw.WriteString("Authentication-Results: " + h + "\r\n")
			}
			raw.WriteString("From: \"Ana - Amazon Marketplace\" <abcdefgh1234@marketplace.amazon.fr>\r\nSubject: (Order: 111-1111111-1111111)\r\n\r\nHello\r\n")
			m, err := ParseBytes([]byte(raw.String()), Options{})
			if err != nil {
				t.Fatal(err)
			}
			ok, why := Authenticated(m, mx)
			if ok != tc.want || (!ok && why == "") {
				t.Errorf("Authenticated = %t (%s), want %t", ok, why, tc.want)
			}
		})
	}
}
