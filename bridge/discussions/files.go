package discussions

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// linkLifetime is how long a signed attachment link works: long enough for
// a customer who reads the marketplace's message days later.
const linkLifetime = 30 * 24 * time.Hour

// fileClaim is what a signed link grants: one helpdesk attachment, until
// an expiry.
type fileClaim struct {
	Helpdesk string `json:"h"`
	URL      string `json:"u"`
	Name     string `json:"n"`
	Expires  int64  `json:"e"`
}

// linkKey is the signing key of an account's links, derived from its
// webhook secret so that rotating that secret revokes them too.
func (s *Service) linkKey(helpdesk string) ([]byte, error) {
	for _, m := range s.o.Config.Merchants {
		for _, h := range m.Helpdesks {
			if h.ID == helpdesk && h.WebhookSecret.Reveal() != "" {
				mac := hmac.New(sha256.New, []byte(h.WebhookSecret.Reveal()))
				mac.Write([]byte("attachment links"))
				return mac.Sum(nil), nil
			}
		}
	}
	return nil, fmt.Errorf("helpdesk %s has no webhook_secret to sign attachment links with", helpdesk)
}

// link is a signed, expiring URL at which the bridge serves an agent's
// attachment, for marketplaces that take no file (or not that one).
func (s *Service) link(helpdesk string, att connectors.Attachment) (string, error) {
	if s.o.PublicURL == "" {
		return "", errors.New("the attachment cannot go as a file and server.public_url is not set, so it cannot go as a link either")
	}
	key, err := s.linkKey(helpdesk)
	if err != nil {
		return "", err
	}
	claim, _ := json.Marshal(fileClaim{Helpdesk: helpdesk, URL: att.URL, Name: att.Name, Expires: s.o.Now().Add(linkLifetime).Unix()})
	mac := hmac.New(sha256.New, key)
	mac.Write(claim)
	token := base64.RawURLEncoding.EncodeToString(claim) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	return strings.TrimRight(s.o.PublicURL, "/") + "/v1/files/" + token, nil
}

// CodeInvalidLink is the error code of a bad or expired file link.
const CodeInvalidLink = "invalid_link"

// OpenFile checks a signed link, in constant time, and opens the file it
// grants from the helpdesk.
func (s *Service) OpenFile(ctx context.Context, token string) (io.ReadCloser, string, string, error) {
	bad := httpapi.Errorf(http.StatusNotFound, CodeInvalidLink, "token", "this link is not valid or has expired")
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, "", "", bad
	}
	claimJSON, err1 := base64.RawURLEncoding.DecodeString(enc)
	got, err2 := base64.RawURLEncoding.DecodeString(sig)
	var c fileClaim
	if err1 != nil || err2 != nil || json.Unmarshal(claimJSON, &c) != nil {
		return nil, "", "", bad
	}
	key, err := s.linkKey(c.Helpdesk)
	if err != nil {
		return nil, "", "", bad
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(claimJSON)
	if !hmac.Equal(got, mac.Sum(nil)) || s.o.Now().Unix() > c.Expires {
		return nil, "", "", bad
	}
	hd, ok := s.o.Helpdesks[c.Helpdesk]
	if !ok {
		return nil, "", "", bad
	}
	body, ctype, err := hd.DownloadAttachment(ctx, c.URL)
	if err != nil {
		return nil, "", "", fmt.Errorf("discussions: fetch a linked attachment: %w", err)
	}
	return body, ctype, c.Name, nil
}
