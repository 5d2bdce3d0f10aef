package discussions

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// linkLifetime is how long an attachment link works: long enough for a
// customer who reads the marketplace's message days later.
const linkLifetime = 30 * 24 * time.Hour

// Stable error codes of the file links.
const (
	// CodeInvalidLink: a bad or expired file link (404).
	CodeInvalidLink = "invalid_link"
	// CodeFileUnavailable: the helpdesk did not serve the linked file (502).
	CodeFileUnavailable = "file_unavailable"
)

// fileClaim is what a link grants: one helpdesk attachment. It stays in
// Redis, behind the token, until the link expires: the token is opaque
// and random, so a link tells nothing of the helpdesk's URL, which may
// carry an access token of its own.
type fileClaim struct {
	Helpdesk string `json:"h"`
	URL      string `json:"u"`
	Name     string `json:"n"`
	// Sig binds the claim to the account's webhook secret, so that
	// rotating that secret revokes the account's links too.
	Sig []byte `json:"s"`
}

// fileKey is where the claim of token is. The key holds a digest of the
// token, never the token: key names show up in monitoring.
func (s *Service) fileKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return s.o.Store.prefix + "dsc:file:" + hex.EncodeToString(sum[:])
}

// linkKey is the signing key of an account's links, derived from its
// webhook secret.
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

func claimSig(key []byte, token string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(token))
	return mac.Sum(nil)
}

// errNoLink: the account's configuration allows no attachment links.
var errNoLink = errors.New("no attachment link")

// link records an expiring link at which the bridge serves an agent's
// attachment, for marketplaces that take no file (or not that one), and
// returns its URL.
func (s *Service) link(ctx context.Context, helpdesk string, att connectors.Attachment) (string, error) {
	if s.o.PublicURL == "" {
		return "", fmt.Errorf("%w: the attachment cannot go as a file and server.public_url is not set, so it cannot go as a link either", errNoLink)
	}
	key, err := s.linkKey(helpdesk)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errNoLink, err)
	}
	token := rand.Text() + rand.Text() // 256 random bits
	claim, _ := json.Marshal(fileClaim{Helpdesk: helpdesk, URL: att.URL, Name: att.Name, Sig: claimSig(key, token)})
	if err := s.o.Store.rdb.Set(ctx, s.fileKey(token), claim, linkLifetime).Err(); err != nil {
		return "", fmt.Errorf("discussions: record an attachment link: %w", err)
	}
	return strings.TrimRight(s.o.PublicURL, "/") + "/v1/files/" + token, nil
}

// OpenFile finds the claim behind a link and opens the file it grants from
// the helpdesk. An unknown, expired or revoked link is a 404; a helpdesk
// that does not serve the file a 502.
func (s *Service) OpenFile(ctx context.Context, token string) (io.ReadCloser, string, string, error) {
	bad := httpapi.Errorf(http.StatusNotFound, CodeInvalidLink, "token", "this link is not valid or has expired")
	if token == "" || len(token) > 128 {
		return nil, "", "", bad
	}
	raw, err := s.o.Store.rdb.Get(ctx, s.fileKey(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, "", "", bad
	}
	if err != nil {
		return nil, "", "", fmt.Errorf("discussions: read an attachment link: %w", err)
	}
	var c fileClaim
	if json.Unmarshal(raw, &c) != nil {
		return nil, "", "", bad
	}
	key, err := s.linkKey(c.Helpdesk)
	if err != nil || !hmac.Equal(c.Sig, claimSig(key, token)) {
		return nil, "", "", bad
	}
	hd, ok := s.o.Helpdesks[c.Helpdesk]
	if !ok {
		return nil, "", "", bad
	}
	body, ctype, err := hd.DownloadAttachment(ctx, c.URL)
	if err != nil {
		// Connector errors name the host at most, never the URL.
		zerolog.Ctx(ctx).Warn().Err(err).Str("helpdesk", c.Helpdesk).Msg("linked attachment not served by the helpdesk")
		return nil, "", "", httpapi.Errorf(http.StatusBadGateway, CodeFileUnavailable, "", "the helpdesk did not serve this file; try again later")
	}
	return body, ctype, c.Name, nil
}
