package mailparse

import (
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/authres"
)

// maxAuthResults bounds the Authentication-Results headers looked at.
const maxAuthResults = 20

// Authenticated tells whether the mailbox's own receiving server, the
// one whose authserv-id is authservID, vouched for the mail's From
// domain (RFC 8601): the topmost Authentication-Results header it added
// reports dmarc=pass for that domain, or dkim=pass by that domain or a
// parent of it (a signature aligned with From, RFC 7489 §3.1.1). SPF
// alone is not enough: it vouches for the envelope, not for From.
//
// Only the topmost header of that id counts: the receiving server adds
// its own on top, and any lower one of the same id came with the mail,
// written by whoever sent it. why says, for the admin, what was missing.
func Authenticated(m *Message, authservID string) (ok bool, why string) {
	from := strings.ToLower(firstAddress(m.From))
	_, domain, found := strings.Cut(from, "@")
	if !found || domain == "" {
		return false, "no sender domain to authenticate"
	}
	values := m.header.Values("Authentication-Results")
	if len(values) > maxAuthResults {
		values = values[:maxAuthResults]
	}
	for _, v := range values {
		head, _, _ := strings.Cut(v, ";")
		if f := strings.Fields(head); len(f) == 0 || !strings.EqualFold(f[0], authservID) {
			continue
		}
		_, results, err := authres.Parse(v)
		if err != nil {
			return false, fmt.Sprintf("not authenticated: unreadable Authentication-Results from %s", authservID)
		}
		for _, r := range results {
			switch r := r.(type) {
			case *authres.DMARCResult:
				if r.Value == authres.ResultPass && (r.From == "" || strings.EqualFold(r.From, domain)) {
					return true, ""
				}
			case *authres.DKIMResult:
				d := strings.ToLower(strings.TrimSuffix(r.Domain, "."))
				if r.Value == authres.ResultPass && d != "" && (domain == d || strings.HasSuffix(domain, "."+d)) {
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("not authenticated: %s found no DMARC pass or aligned DKIM signature for %s", authservID, domain)
	}
	return false, fmt.Sprintf("not authenticated: no Authentication-Results from %s", authservID)
}
