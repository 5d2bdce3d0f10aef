package gorgias

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/gorgias/api"
)

const (
	// maxAnswerBytes bounds a success body: a ticket with its messages.
	maxAnswerBytes = 8 << 20
	// maxErrorBytes bounds an error body, of which only a message is kept.
	maxErrorBytes = 64 << 10
	// maxMessageLen bounds the vendor message kept in an APIError.
	maxMessageLen = 300
	// maxDownloadBytes bounds an attachment download. Gorgias documents no
	// attachment size limit; this is far above any file a marketplace
	// message carries.
	maxDownloadBytes = 64 << 20
)

// do sends one JSON request and decodes a success answer into out (when
// not nil). Failures come back in the connectors vocabulary, unwrapped: the
// caller adds the operation and the id.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = b
	}
	return c.send(ctx, method, path, query, body, "application/json", out)
}

// send sends body (when not nil) as contentType and decodes a JSON success
// answer into out (when not nil).
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body []byte, contentType string, out any) error {
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.SetBasicAuth(c.email, c.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", contentType)
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

// upload copies one file into Gorgias (POST /api/upload, multipart) as a
// private attachment, and returns the file object a message references.
func (c *Client) upload(ctx context.Context, f connectors.File) (api.Attachment, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", multipart.FileContentDisposition("file", f.Name))
	h.Set("Content-Type", cmp.Or(f.ContentType, "application/octet-stream"))
	part, err := mw.CreatePart(h)
	if err == nil {
		_, err = part.Write(f.Data)
	}
	if err == nil {
		err = mw.Close()
	}
	if err != nil {
		return api.Attachment{}, fmt.Errorf("encode upload: %w", err)
	}
	var files []api.Attachment
	q := url.Values{"type": {api.UploadAttachment}}
	if err := c.send(ctx, http.MethodPost, "/api/upload", q, buf.Bytes(), mw.FormDataContentType(), &files); err != nil {
		return api.Attachment{}, err
	}
	if len(files) != 1 || files[0].URL == "" {
		// Uploading again is harmless: an unreferenced file is never shown.
		return api.Attachment{}, fmt.Errorf("%w: upload answered %d files, want one with a url", connectors.ErrUnavailable, len(files))
	}
	return files[0], nil
}

// download GETs a file, with the API user's credentials only when the URL
// is on the account's own origin: a URL Gorgias gives may point to a file
// host elsewhere, which must never see the API key.
func (c *Client) download(ctx context.Context, rawURL string) (io.ReadCloser, string, error) {
	if err := connectors.FileURLAllowed(rawURL, c.fileHosts); err != nil {
		return nil, "", err
	}
	u, _ := url.Parse(rawURL) // checked above
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", fmt.Errorf("build request: %w", err)
	}
	if strings.EqualFold(u.Scheme, c.origin.Scheme) && strings.EqualFold(u.Host, c.origin.Host) {
		// Go's client drops this header on a redirect to another domain.
		req.SetBasicAuth(c.email, c.apiKey)
	}
	resp, err := connectors.FetchFile(c.dl, req, c.fileHosts)
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBytes))
		return nil, "", connectors.StatusError(resp, vendorMessage(data), c.now())
	}
	return connectors.LimitDownload(resp.Body, maxDownloadBytes), resp.Header.Get("Content-Type"), nil
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
