package fnac

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
)

const (
	// maxErrorBytes bounds an error body read for its message.
	maxErrorBytes = 64 << 10
	// maxMessageLen bounds the vendor message kept in an error.
	maxMessageLen = 300
	// maxDownloadBytes bounds a message file's download. Fnac states no
	// size: UNVERIFIED.
	maxDownloadBytes = 64 << 20
)

// notAuthCodes are root error codes seen in real answers that say
// something else than a bad session: the request itself is at fault, so
// a new token would change nothing.
var notAuthCodes = []string{"ERR_096", "ERR_105", "ERR_109", "ERR_120", "ERR_128", "ERR_146"}

// session is the token and until when it is valid.
type session struct {
	token    string
	validity time.Time
}

// token returns a token valid for a while yet, authenticating when there
// is none or it is about to expire (Fnac's own client renews when
// time() >= validity; renewing a little earlier avoids a refusal).
func (c *Client) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess.token != "" && c.now().Add(c.renewBefore).Before(c.sess.validity) {
		return c.sess.token, nil
	}
	s, err := c.authenticate(ctx)
	if err != nil {
		return "", err
	}
	c.sess = s
	return s.token, nil
}

// forget drops tok, unless another call already replaced it.
func (c *Client) forget(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess.token == tok {
		c.sess = session{}
	}
}

func (c *Client) authenticate(ctx context.Context) (session, error) {
	var resp api.AuthResponse
	req := api.AuthRequest{PartnerID: c.partnerID, ShopID: c.shopID, Key: c.key}
	if err := c.post(ctx, api.ServiceAuth, req, &resp); err != nil {
		return session{}, fmt.Errorf("auth: %w", err)
	}
	if resp.Token == "" || len(resp.Errors) > 0 || isFailure(resp.Status) {
		return session{}, fmt.Errorf("auth: %w%s", connectors.ErrUnauthorized, errorText(resp.Errors))
	}
	validity, err := api.ParseTime(resp.Validity)
	if err != nil {
		// No readable validity: use the token for this call only.
		validity = c.now()
	}
	return session{token: resp.Token, validity: validity}, nil
}

// call sends a request carrying the session header to service and
// decodes the answer into out. An answer refused at its root by an error
// that may be the session's (Fnac documents no code for an expired or
// invalid token) is sent again once with a new token, as fnapy does; the
// refused request had no effect, so sending it again is safe.
func (c *Client) call(ctx context.Context, service string, req func(api.Header) any, out api.Envelope) error {
	for attempt := 0; ; attempt++ {
		tok, err := c.token(ctx)
		if err != nil {
			return err
		}
		h := api.Header{PartnerID: c.partnerID, ShopID: c.shopID, Token: tok}
		if err := c.post(ctx, service, req(h), out); err != nil {
			return err
		}
		errs := out.RootErrors()
		if len(errs) == 0 || !isFailure(out.RootStatus()) || out.Items() > 0 {
			// Processed, if only in part: the caller reads the items. A
			// request with effects is never sent twice.
			return nil
		}
		if attempt == 0 && !slices.ContainsFunc(errs, func(e api.Error) bool { return slices.Contains(notAuthCodes, e.Code) }) {
			c.forget(tok)
			continue
		}
		return rootError(errs)
	}
}

// rootError classifies errors at an answer's root: the request was
// refused as a whole.
func rootError(errs []api.Error) error {
	for _, e := range errs {
		if e.Code == "ERR_105" {
			return fmt.Errorf("%w%s", connectors.ErrInvalid, errorText(errs))
		}
	}
	return &connectors.APIError{Status: http.StatusOK, Message: strings.TrimPrefix(errorText(errs), ": "), Kind: connectors.ErrInvalid}
}

func isFailure(status string) bool { return status == api.StatusError || status == api.StatusFatal }

// errorText is the vendor's errors as ": CODE text; CODE text", clipped.
func errorText(errs []api.Error) string {
	if len(errs) == 0 {
		return ""
	}
	var parts []string
	for _, e := range errs {
		parts = append(parts, strings.TrimSpace(e.Code+" "+e.Text))
	}
	return ": " + clip(strings.Join(parts, "; "))
}

// post sends one XML request and decodes the answer into out.
func (c *Client) post(ctx context.Context, service string, in, out any) error {
	body, err := xml.Marshal(in)
	if err != nil {
		return fmt.Errorf("encode %s: %w", service, err)
	}
	body = append([]byte(xml.Header), body...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/"+service, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("Accept", "text/xml")
	req.Header.Set("User-Agent", "helpdesk-bridge")
	resp, err := c.hc.Do(req)
	if err != nil {
		return connectors.TransportError(ctx, err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	// Fnac's own client parses the body of a 4xx as an answer: a 4xx
	// carrying Fnac's XML is read as one.
	readable := ok || (resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests)
	if !readable {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		return connectors.StatusError(resp, xmlMessage(data), c.now())
	}
	data, err := api.Read(resp.Body)
	if err != nil {
		if errors.Is(err, api.ErrUnsafe) {
			return err // the same answer would come again: no retry
		}
		// The answer was cut: the call may have taken effect.
		return connectors.TransportError(ctx, err)
	}
	if err := api.Decode(data, out); err != nil {
		if !ok {
			return connectors.StatusError(resp, "", c.now())
		}
		// A garbled success is treated as a lost answer.
		return fmt.Errorf("%w: undecodable %s answer: %w", connectors.ErrUnavailable, service, err)
	}
	return nil
}

// xmlMessage reads the first error element of an error body, if any.
func xmlMessage(data []byte) string {
	var body struct {
		Errors []api.Error `xml:"error"`
	}
	if api.Decode(data, &body) != nil {
		return ""
	}
	return strings.TrimPrefix(errorText(body.Errors), ": ")
}

// clip keeps a vendor message on one bounded line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxMessageLen {
		s = string([]rune(s)[:maxMessageLen]) + "…"
	}
	return s
}
