package widgets

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"testing"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
)

// FuzzHelpScoutSignature: a Help Scout request passes only with the base64
// HMAC-SHA1 of its exact body under the sidebar's secret, and its body,
// once authentic, decodes or is refused without panicking.
func FuzzHelpScoutSignature(f *testing.F) {
	const secret = "helpscout-secret-0123"
	sign := func(body []byte) string {
		mac := hmac.New(sha1.New, []byte(secret))
		mac.Write(body)
		return base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	for _, body := range []string{
		`{"customer":{"email":"jeanne@example.com"}}`,
		`{"customer":{"emails":["jeanne@example.com"]}}`,
		`{"customer":{"emails":[{"value":"jeanne@example.com"}]}}`,
		`{"customer":{"emails":[1,null,{}]}}`, ``, `[]`,
	} {
		f.Add([]byte(body), sign([]byte(body)))
		f.Add([]byte(body), sign([]byte(body+" ")))
	}
	f.Add([]byte(`{}`), "")
	f.Add([]byte(`{}`), "not base64!")
	f.Fuzz(func(t *testing.T, body []byte, signature string) {
		ok := helpScoutSigned(secret, signature, body)
		if signature == sign(body) && !ok {
			t.Fatalf("the body's own signature was refused")
		}
		if !ok {
			return
		}
		// Accepted: the signature must carry the body's MAC (base64 may
		// spell it with line breaks, which the decoder skips).
		if got, err := base64.StdEncoding.DecodeString(signature); err != nil || base64.StdEncoding.EncodeToString(got) != sign(body) {
			t.Fatalf("accepted signature %q does not carry the body's MAC", signature)
		}
		var hs helpScoutRequest
		if err := httpapi.DecodeJSON("", body, &hs); err == nil {
			_ = hs.email()
		}
	})
}
