package rakuten

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/rakuten/api"
)

const (
	// maxErrorBytes bounds an error body read for its message.
	maxErrorBytes = 64 << 10
	// maxMessageLen bounds the vendor message kept in an error.
	maxMessageLen = 300
)

// call sends one GET sales_ws?action=… with the account's login and
// token, and decodes the answer into out. An errorresponse is an error,
// whatever the HTTP status (which Rakuten's pages do not state): pmws
// looks for it before the status, and so does this.
func (c *Client) call(ctx context.Context, action string, params url.Values, out any) error {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set(api.ParamAction, action)
	q.Set(api.ParamLogin, c.login)
	q.Set(api.ParamPwd, c.token)
	q.Set(api.ParamVersion, c.versions[action])
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+api.Path+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "text/xml")
	req.Header.Set("User-Agent", "helpdesk-bridge")
	resp, err := c.hc.Do(req)
	if err != nil {
		// The URL holds the token: TransportError keeps only its host.
		return connectors.TransportError(ctx, err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if !ok && resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusUnauthorized {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		if api.IsError(data) {
			return c.refusal(ctx, data, contentCharset(resp), params)
		}
		return connectors.StatusError(resp, "", c.now())
	}
	data, err := api.Read(resp.Body)
	if err != nil {
		if errors.Is(err, api.ErrUnsafe) {
			return err // the same answer would come again: no retry
		}
		return connectors.TransportError(ctx, err) // cut: the call may have taken effect
	}
	charset := contentCharset(resp)
	if api.IsError(data) {
		return c.refusal(ctx, data, charset, params)
	}
	if !ok {
		return connectors.StatusError(resp, "", c.now())
	}
	if err := api.Decode(data, charset, out); err != nil {
		if errors.Is(err, api.ErrUnsafe) {
			return err
		}
		// A garbled success is treated as a lost answer.
		return fmt.Errorf("%w: undecodable %s answer: %w", connectors.ErrUnavailable, action, err)
	}
	return nil
}

func contentCharset(resp *http.Response) string {
	_, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return params["charset"]
}

// refusal maps an errorresponse to the error vocabulary:
// InvalidUserConnection is ErrUnauthorized; InvalidUserRights is the
// hourly quota (a *RateLimitedError of Options.QuotaBackoff, since Rakuten
// sends no Retry-After) or else ErrForbidden; ParameterError is
// ErrInvalid, or ErrNotFound when it names the id the call was about;
// ServerError is ErrUnavailable; the rest ErrInvalid.
func (c *Client) refusal(ctx context.Context, data []byte, charset string, params url.Values) error {
	var er api.ErrorResponse
	if err := api.Decode(data, charset, &er); err != nil || len(er.Errors) == 0 {
		return fmt.Errorf("%w: unreadable error answer", connectors.ErrUnavailable)
	}
	e := er.Errors[0]
	msg := clip(e.Text())
	apiErr := func(kind error) error { return &connectors.APIError{Status: http.StatusOK, Message: msg, Kind: kind} }
	switch strings.TrimSpace(e.Code) {
	case api.CodeInvalidUserConnection:
		return apiErr(connectors.ErrUnauthorized)
	case api.CodeInvalidUserRights:
		if strings.Contains(strings.ToLower(msg), "quota") {
			if c.limiter != nil && c.limiterKey != "" {
				// Best effort: this call is deferred either way.
				_ = c.limiter.Penalize(ctx, c.limiterKey, c.quotaBackoff)
			}
			return fmt.Errorf("rakuten: %s: %w", msg, &connectors.RateLimitedError{RetryAfter: c.quotaBackoff})
		}
		return apiErr(connectors.ErrForbidden)
	case api.CodeServerError:
		return apiErr(connectors.ErrUnavailable)
	case api.CodeParameterError:
		for _, p := range []string{api.ParamItemID, api.ParamPurchaseID} {
			if params.Get(p) != "" && strings.Contains(msg, "'"+p+"' is invalid") {
				return apiErr(connectors.ErrNotFound)
			}
		}
	}
	return apiErr(connectors.ErrInvalid)
}

// clip keeps a vendor message on one bounded line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxMessageLen {
		s = string([]rune(s)[:maxMessageLen]) + "…"
	}
	return s
}

func invalid(what string) error { return fmt.Errorf("%w: %s", connectors.ErrInvalid, what) }
