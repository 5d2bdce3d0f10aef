package widgets

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"testing"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/orders"
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

// FuzzParseCommand: any first line of a Gorgias note parses or is refused
// without panicking, and a parsed command names a known action, an order
// and no more lines than a command may carry.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		` ship CRF-1 carrier=UPS tracking=1Z9`, ` cancel_lines A-1 reason=34 line=MUG:1 line="BIG MUG"`,
		` accept B refuse=SKU-1`, ` ship`, ` ship A carrier="unterminated`, ` teleport A`, ` ship A =`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := parseCommand(line)
		if err != nil {
			if httpapi.AsError(err).Status != 422 {
				t.Fatalf("%q: %v is not a 422", line, err)
			}
			return
		}
		if cmd.orderID == "" || !slices.Contains(orders.ActionKinds, cmd.kind) || len(cmd.args.Lines)+len(cmd.args.RefuseLines) > maxCommandWords {
			t.Fatalf("%q parsed as %+v", line, cmd)
		}
	})
}
