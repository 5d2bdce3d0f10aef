package mirakl

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
)

const (
	// maxAnswerBytes bounds a success body. A page of M11 carries up to
	// 100 messages per thread; a thread of M10 up to 1000, each up to
	// 50,000 characters in the worst case, far beyond real threads.
	maxAnswerBytes = 64 << 20
	// maxErrorBytes bounds an error body, of which only a message is kept.
	maxErrorBytes = 64 << 10
	// maxMessageLen bounds the vendor message kept in an APIError.
	maxMessageLen = 300
	// maxDownloadBytes bounds an attachment download (M13). Mirakl states
	// 30 MB per message for OR43 and nothing for M12; this is above both.
	maxDownloadBytes = 64 << 20
)

// call is one request to the API.
type call struct {
	method      string
	path        string // below BaseURL, from /api
	query       url.Values
	body        []byte
	contentType string
	accept      string // "" means application/json
}

// open sends cl and returns a 2xx answer, whose body the caller closes.
// Failures come back in the connectors vocabulary, unwrapped: the caller
// adds the operation and the id.
func (c *Client) open(ctx context.Context, cl call) (*http.Response, error) {
	query := maps.Clone(cl.query)
	if query == nil {
		query = url.Values{}
	}
	if c.shopID != "" {
		query.Set("shop_id", c.shopID)
	}
	target := c.base + cl.path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	// The raw key, as Mirakl's shop API key scheme takes it: no "Bearer".
	req.Header.Set("Authorization", c.apiKey)
	req.Header.Set("Accept", cmp.Or(cl.accept, "application/json"))
	req.Header.Set("User-Agent", "helpdesk-bridge")
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, connectors.TransportError(ctx, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	// A partly read error body still has its status to classify by.
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
	return nil, connectors.StatusError(resp, vendorMessage(data), c.now())
}

// do sends cl and decodes a 2xx answer into out (when not nil).
func (c *Client) do(ctx context.Context, cl call, out any) error {
	resp, err := c.open(ctx, cl)
	if err != nil {
		return err
	}
	data, err := readAnswer(ctx, resp)
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		// A garbled success is treated as a lost answer.
		return fmt.Errorf("%w: undecodable answer: %w", connectors.ErrUnavailable, err)
	}
	return nil
}

// readAnswer reads and closes a 2xx answer's body, bounded.
func readAnswer(ctx context.Context, resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		// The answer was cut: the call may have taken effect.
		return nil, connectors.TransportError(ctx, err)
	}
	if len(data) > maxAnswerBytes {
		return nil, fmt.Errorf("answer larger than %d bytes", maxAnswerBytes)
	}
	return data, nil
}

// vendorMessage reads Mirakl's message from an error body: {"status",
// "message"}, or {"error": "..."} as some proxies write it.
func vendorMessage(data []byte) string {
	var body struct {
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(data, &body) != nil {
		return ""
	}
	var msg string
	if body.Message == "" && json.Unmarshal(body.Error, &msg) != nil {
		msg = ""
	}
	return clip(cmp.Or(body.Message, msg))
}

// clip keeps a vendor message on one bounded line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) > maxMessageLen {
		s = string([]rune(s)[:maxMessageLen]) + "…"
	}
	return s
}
