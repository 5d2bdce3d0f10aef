package zendesk

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/zendesk/api"
)

// Body size limits: a page of 100 tickets with side-loaded users is well
// under the first; error bodies are short.
const (
	maxAnswerBytes = 8 << 20
	maxErrorBytes  = 64 << 10
	// maxDownloadBytes bounds an attachment download, above Zendesk's
	// 50 MB attachment limit (the figure is from secondary sources).
	maxDownloadBytes = 64 << 20
)

// call is one request to the API.
type call struct {
	method string
	path   string // below BaseURL, from /api/v2
	query  url.Values
	body   any    // sent as JSON unless nil; []byte is sent as is
	key    string // Idempotency-Key, on ticket creation
	// contentType goes with a []byte body; empty means JSON.
	contentType string
}

// do sends cl and decodes a 2xx answer into out (unless nil). It returns
// the answer's headers, and maps every failure to the connectors
// vocabulary.
func (c *Client) do(ctx context.Context, cl call, out any) (http.Header, error) {
	var body io.Reader
	if cl.body != nil {
		b, ok := cl.body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(cl.body); err != nil {
				return nil, err
			}
		}
		body = bytes.NewReader(b)
	}
	u := *c.base
	u.Path += cl.path
	u.RawQuery = cl.query.Encode()
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.email+"/token", c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "helpdesk-bridge")
	if body != nil {
		req.Header.Set("Content-Type", cmp.Or(cl.contentType, "application/json"))
	}
	if cl.key != "" {
		req.Header.Set(api.HeaderIdempotencyKey, cl.key)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, connectors.TransportError(ctx, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBytes))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		b, _ := readLimited(resp.Body, maxErrorBytes)
		return resp.Header, c.statusError(resp, b)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return resp.Header, nil
	}
	b, err := readLimited(resp.Body, maxAnswerBytes)
	if err != nil {
		return resp.Header, connectors.TransportError(ctx, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		// A 2xx that is not the API's JSON came from something in between
		// (a proxy, a cut connection): the same call may succeed later.
		return resp.Header, fmt.Errorf("%w: undecodable answer: %w", connectors.ErrUnavailable, err)
	}
	return resp.Header, nil
}

// download GETs a file, with the agent's credentials only when the URL is
// on the account's own scheme and host: Zendesk warns that a content_url
// may be hosted elsewhere and must not receive them.
func (c *Client) download(ctx context.Context, rawURL string) (io.ReadCloser, string, error) {
	if err := connectors.FileURLAllowed(rawURL, c.fileHosts); err != nil {
		return nil, "", err
	}
	u, _ := url.Parse(rawURL) // checked above
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("User-Agent", "helpdesk-bridge")
	if strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host) {
		// Go's client drops this header on a redirect to another domain.
		req.SetBasicAuth(c.email+"/token", c.token)
	}
	resp, err := connectors.FetchFile(c.dl, req, c.fileHosts)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		b, _ := readLimited(resp.Body, maxErrorBytes)
		return nil, "", c.statusError(resp, b)
	}
	return connectors.LimitDownload(resp.Body, maxDownloadBytes), resp.Header.Get("Content-Type"), nil
}

var errTooLarge = errors.New("answer too large")

func readLimited(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > n {
		return nil, errTooLarge
	}
	return b, nil
}

// vendorError keeps Zendesk's error name beside the mapped error, so that
// the connector can tell an IdempotentRequestError from another 400.
type vendorError struct {
	code string
	err  error
}

func (e *vendorError) Error() string { return e.err.Error() }
func (e *vendorError) Unwrap() error { return e.err }

// statusError maps an error answer. The message keeps Zendesk's error
// name and the failing fields with their error codes, never the
// descriptions: those echo the values sent (an invalid email, for one).
func (c *Client) statusError(resp *http.Response, body []byte) error {
	var eb api.ErrorBody
	if json.Unmarshal(body, &eb) != nil {
		eb = api.ErrorBody{}
	}
	msg := eb.Error.Name
	if len(eb.Details) > 0 {
		fields := make([]string, 0, len(eb.Details))
		for f, ds := range eb.Details {
			codes := make([]string, 0, len(ds))
			for _, d := range ds {
				if d.Error != "" {
					codes = append(codes, d.Error)
				}
			}
			fields = append(fields, strings.TrimSpace(f+" "+strings.Join(codes, " ")))
		}
		slices.Sort(fields)
		msg += " (" + strings.Join(fields, ", ") + ")"
	}
	err := connectors.StatusError(resp, msg, c.now())
	if eb.Error.Name == "" {
		return err
	}
	return &vendorError{code: eb.Error.Name, err: err}
}
