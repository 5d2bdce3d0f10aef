package push_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The receiver's side, as README shows it: the tests' receivers check
// every push with it, so the README's code is the tested code
// (TestREADMEShowsTheTestedReceiverCode keeps them equal).

// README:receiver
// verifyPush checks a push from the bridge before its body is parsed:
// the signature over the timestamp and the raw body, with the
// subscription's secret, and that the timestamp is recent.
func verifyPush(secret string, h http.Header, body []byte, now time.Time) error {
	ts := h.Get("X-Bridge-Timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("X-Bridge-Timestamp is missing or not Unix seconds")
	}
	if age := now.Sub(time.Unix(secs, 0)); age > 5*time.Minute || age < -5*time.Minute {
		return errors.New("X-Bridge-Timestamp is more than 5 minutes off: a replay?")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(h.Get("X-Bridge-Signature")), []byte(want)) {
		return errors.New("X-Bridge-Signature does not match: not from the bridge, or altered")
	}
	return nil
}

// README:end

// TestREADMEShowsTheTestedReceiverCode: the verification code in the
// README is verifyPush, character for character.
func TestREADMEShowsTheTestedReceiverCode(t *testing.T) {
	src, err := os.ReadFile("receiver_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, code, _ := strings.Cut(string(src), "// README:"+"receiver\n")
	code, _, _ = strings.Cut(code, "\n// README:"+"end")
	code = strings.TrimSpace(code)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(readme), code) {
		return
	}
	t.Errorf("README.md does not show verifyPush as receiver_test.go has it:\n%s", code)
}
