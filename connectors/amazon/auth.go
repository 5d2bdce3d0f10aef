package amazon

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// renewBefore is how long before its stated expiry a token is renewed, so
// that none expires in flight.
const renewBefore = 5 * time.Minute

// defaultTokenLife is taken when LWA states no expires_in, as Amazon's
// Python client does.
const defaultTokenLife = 1800 * time.Second

// token is a bearer token and when to stop using it.
type token struct {
	value string
	until time.Time
}

func (t token) fresh(now time.Time) bool { return t.value != "" && now.Before(t.until) }

// tokens caches the LWA access token and the restricted data tokens, one
// per restricted path. Renewals of one token are serialised.
type tokens struct {
	mu     sync.Mutex
	access token
	rdts   map[string]token // path → RDT
}

// credential returns what to send as x-amz-access-token for cl: the access
// token, or an RDT for cl's path. renew discards the cached one first.
func (c *Client) credential(ctx context.Context, cl call, renew bool) (string, error) {
	c.tok.mu.Lock()
	defer c.tok.mu.Unlock()
	if renew {
		c.tok.access = token{}
		delete(c.tok.rdts, cl.path)
	}
	access, err := c.accessLocked(ctx)
	if err != nil || !cl.rdt {
		return access, err
	}
	if t := c.tok.rdts[cl.path]; t.fresh(c.now()) {
		return t.value, nil
	}
	t, err := c.createRDT(ctx, access, cl.path)
	if err != nil {
		return "", err
	}
	if len(c.tok.rdts) > 1000 {
		clear(c.tok.rdts) // per-order RDTs: keep the cache bounded
	}
	c.tok.rdts[cl.path] = t
	return t.value, nil
}

func (c *Client) accessLocked(ctx context.Context) (string, error) {
	if c.tok.access.fresh(c.now()) {
		return c.tok.access.value, nil
	}
	t, err := c.exchange(ctx)
	if err != nil {
		return "", err
	}
	c.tok.access = t
	return t.value, nil
}

// exchange trades the refresh token for an access token at LWA: a
// form-encoded refresh_token grant, as Amazon's own clients send it.
func (c *Client) exchange(ctx context.Context) (token, error) {
	form := url.Values{
		"grant_type":    {"refresh_token"},
		"refresh_token": {c.refreshToken},
		"client_id":     {c.clientID},
		"client_secret": {c.clientSecret},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.lwaURL, strings.NewReader(form.Encode()))
	if err != nil {
		return token{}, fmt.Errorf("build LWA request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	req.Header.Set("Accept", "application/json")
	start := c.now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return token{}, fmt.Errorf("LWA: %w", connectors.TransportError(ctx, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	if err != nil {
		return token{}, fmt.Errorf("LWA: %w", connectors.TransportError(ctx, err))
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(data, &e)
		err := connectors.StatusError(resp, clipLine(strings.TrimSpace(e.Error+" "+e.Description)), c.now())
		if ae, ok := err.(*connectors.APIError); ok {
			switch e.Error {
			case "invalid_grant", "invalid_client", "unauthorized_client", "access_denied":
				// The application's credentials or the seller's
				// authorisation: an operator must fix them.
				ae.Kind = connectors.ErrUnauthorized
			case "temporarily_unavailable", "server_error":
				ae.Kind = connectors.ErrUnavailable
			}
		}
		return token{}, fmt.Errorf("LWA: %w", err)
	}
	var t struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(data, &t); err != nil || t.AccessToken == "" {
		return token{}, fmt.Errorf("LWA: %w: no access token in the answer", connectors.ErrUnavailable)
	}
	return token{value: t.AccessToken, until: lifetime(start, t.ExpiresIn)}, nil
}

// lifetime is when a token asked at start and valid for secs stops being
// used: renewBefore ahead, or halfway through a short one.
func lifetime(start time.Time, secs int) time.Time {
	life := cmp.Or(time.Duration(secs)*time.Second, defaultTokenLife)
	margin := min(renewBefore, life/2)
	return start.Add(life - margin)
}

// createRDT asks the Tokens API for a restricted data token covering GET
// path with buyerInfo. It is paced by its own bucket.
func (c *Client) createRDT(ctx context.Context, access, path string) (token, error) {
	body, _ := json.Marshal(map[string]any{
		"restrictedResources": []map[string]any{{"method": "GET", "path": path, "dataElements": []string{"buyerInfo"}}},
	})
	if err := c.pace(ctx, OpCreateRDT); err != nil {
		return token{}, err
	}
	start := c.now()
	var out struct {
		Token     string `json:"restrictedDataToken"`
		ExpiresIn int    `json:"expiresIn"`
	}
	err := c.send(ctx, call{op: OpCreateRDT, method: http.MethodPost, path: "/tokens/2021-03-01/restrictedDataToken", body: body}, access, &out)
	if rt, ok := err.(*tokenRefused); ok {
		// The access token was refused: the caller's retry renews both.
		return token{}, rt
	}
	if err != nil {
		return token{}, fmt.Errorf("restricted data token: %w", err)
	}
	if out.Token == "" {
		return token{}, fmt.Errorf("restricted data token: %w: none in the answer", connectors.ErrUnavailable)
	}
	return token{value: out.Token, until: lifetime(start, out.ExpiresIn)}, nil
}

func clipLine(s string) string { return apiError{Message: s}.text() }
