package gorgias

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
)

const (
	// maxAnswerBytes bounds a success body: a ticket with its messages.
	maxAnswerBytes = 8 << 20
	// maxErrorBytes bounds an error body, of which only a message is kept.
	maxErrorBytes = 64 << 10
	// maxMessageLen bounds the vendor message kept in an APIError.
	maxMessageLen = 300
)

// do sends one request and decodes a success answer into out (when not
// nil). Failures come back in the connectors vocabulary, unwrapped: the
// caller adds the operation and the id.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.SetBasicAuth(c.email, c.apiKey)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return connectors.TransportError(ctx, err)
	}
	defer resp.Body.Close()

	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	limit := int64(maxErrorBytes)
	if ok {
		limit = maxAnswerBytes
	}
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if !ok {
		// A partly read error body still has its status to classify by.
		return connectors.StatusError(resp, vendorMessage(data), c.now())
	}
	if readErr != nil {
		// The answer was cut: the call may have taken effect, and every
		// operation here is safe to repeat.
		return connectors.TransportError(ctx, readErr)
	}
	if int64(len(data)) > limit {
		return fmt.Errorf("answer larger than %d bytes", limit)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		// A garbled success is treated as a lost answer: retrying is safe.
		return fmt.Errorf("%w: undecodable answer: %w", connectors.ErrUnavailable, err)
	}
	return nil
}

// vendorMessage reads Gorgias's message from an error body, in any of the
// shapes seen: {"error": "..."}, {"error": {"msg": "...", "data": {field:
// reasons}}} or {"message": "..."}. It keeps the message and the names of
// the offending fields, never their values, which may be customer data.
func vendorMessage(data []byte) string {
	var body struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
	}
	if json.Unmarshal(data, &body) != nil {
		return ""
	}
	var msg string
	var detail struct {
		Msg     string                     `json:"msg"`
		Message string                     `json:"message"`
		Data    map[string]json.RawMessage `json:"data"`
	}
	switch {
	case json.Unmarshal(body.Error, &msg) == nil:
	case json.Unmarshal(body.Error, &detail) == nil:
		msg = cmp.Or(detail.Msg, detail.Message)
		if len(detail.Data) > 0 {
			fields := make([]string, 0, len(detail.Data))
			for f := range detail.Data {
				fields = append(fields, f)
			}
			slices.Sort(fields)
			msg += " (fields: " + strings.Join(fields, ", ") + ")"
		}
	}
	return clip(cmp.Or(msg, body.Message))
}

// clip keeps a vendor message on one bounded line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxMessageLen {
		s = string([]rune(s)[:maxMessageLen]) + "…"
	}
	return s
}
