package widgets

import (
	"math/rand/v2"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// The plain form checkEmail takes without parsing is only ever what
// mail.ParseAddress would take as it is, and the common addresses are of
// it.
func TestPlainAddressAgreesWithParseAddress(t *testing.T) {
	t.Parallel()
	for email, want := range map[string]bool{
		"jeanne@example.com":           true,
		"jeanne.martin+sav@mail.co.uk": true,
		"j_m-1@sub-domain.example":     true,
		"a..b@example.com":             false,
		".a@example.com":               false,
		"a.@example.com":               false,
		"a@example..com":               false,
		"a@example.com.":               false,
		"@example.com":                 false,
		"a@":                           false,
		"a@b@c":                        false,
		"Jeanne@example.com":           false, // emails are lower-cased before
		"\"a b\"@example.com":          false,
		"a@[127.0.0.1]":                false,
		"jéanne@example.com":           false,
	} {
		if got := plainAddress(email); got != want {
			t.Errorf("plainAddress(%q) = %v, want %v", email, got, want)
		}
	}
	const alphabet = "ab9.-_+@!\" A"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, 1+rng.IntN(10))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		email := string(b)
		if !plainAddress(email) {
			continue
		}
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
			t.Fatalf("plainAddress takes %q, which mail.ParseAddress does not take as it is (%v)", email, err)
		}
	}
}

// readQuery reads a widget's query as the url package would.
func TestReadQueryAgreesWithParseQuery(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{
		"", "email=jeanne%40example.com", "email=a@b.c&email=other@b.c", "store=acme-fr,%20acme-be&store=acme-de&email=x@y.z",
		"email=%zz&email=ok@x.y", "email=a;b&email=c@d.e", "e%6Dail=x@y.z", "store=&store=,,", "&&email=a+b@c.d&", "email",
	} {
		email, stores := readQuery(raw)
		q, _ := url.ParseQuery(raw)
		var want []string
		for _, v := range q["store"] {
			for _, st := range strings.Split(v, ",") {
				if st = strings.TrimSpace(st); st != "" {
					want = append(want, st)
				}
			}
		}
		if email != q.Get("email") || !slices.Equal(stores, want) {
			t.Errorf("readQuery(%q) = %q, %q; want %q, %q", raw, email, stores, q.Get("email"), want)
		}
	}
}
