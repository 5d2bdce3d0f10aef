package invoices

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// DefaultMaxS3PDF bounds what S3Files reads back: an object bigger than
// that (a wrong prefix, someone else's upload) is refused rather than held
// in memory. Invoices of a few hundred lines stay far below.
const DefaultMaxS3PDF = 32 << 20

// DefaultS3Timeout bounds each call to the bucket.
const DefaultS3Timeout = 30 * time.Second

// S3Options locate a bucket of an S3-compatible service.
type S3Options struct {
	// Endpoint is host or host:port, without a scheme: TLS says which.
	Endpoint string
	Bucket   string
	// Region may be empty: the bucket's region is then asked once.
	Region string
	// Prefix goes before every object key, as given ("invoices/").
	Prefix    string
	AccessKey string
	SecretKey string
	TLS       bool
	// Timeout bounds each Put and Get (DefaultS3Timeout when 0).
	Timeout time.Duration
	// MaxBytes bounds a PDF put or read back (DefaultMaxS3PDF when 0).
	MaxBytes int64
	// Transport replaces the HTTP transport, for tests.
	Transport http.RoundTripper
}

// S3Files keeps PDFs as objects <prefix><merchant>/<store>/<number>.pdf
// of a bucket; the records stay in Redis. A number's slashes are kept, so
// that a prefix such as "F/2026/" reads as folders, unless the number has
// an empty, "." or ".." segment or another character: then it is escaped
// whole (see objectName).
type S3Files struct {
	client  *minio.Client
	bucket  string
	prefix  string
	timeout time.Duration
	max     int64
}

// NewS3Files makes the client; it does not reach the bucket.
func NewS3Files(o S3Options) (*S3Files, error) {
	client, err := minio.New(o.Endpoint, &minio.Options{
		Creds:     credentials.NewStaticV4(o.AccessKey, o.SecretKey, ""),
		Secure:    o.TLS,
		Region:    o.Region,
		Transport: o.Transport,
		// Few retries inside a call: the timeout bounds them anyway, and
		// the task or the download that asked retries as a whole.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("invoices: S3 client for %s: %w", o.Endpoint, err)
	}
	f := &S3Files{client: client, bucket: o.Bucket, prefix: o.Prefix, timeout: o.Timeout, max: o.MaxBytes}
	if f.timeout <= 0 {
		f.timeout = DefaultS3Timeout
	}
	if f.max <= 0 {
		f.max = DefaultMaxS3PDF
	}
	return f, nil
}

// Put writes the object whole, in one request. It is idempotent: a number
// always renders to the same bytes, so a Put retried after an uncertain
// write (no answer, a timeout) writes what may already be there.
func (f *S3Files) Put(ctx context.Context, merchant, store, number string, pdf []byte) error {
	if int64(len(pdf)) > f.max {
		return ErrTooLarge // it could not be read back
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	_, err := f.client.PutObject(ctx, f.bucket, f.objectName(merchant, store, number), bytes.NewReader(pdf), int64(len(pdf)),
		minio.PutObjectOptions{ContentType: "application/pdf", DisableMultipart: true})
	if err != nil {
		return f.fail("keep PDF", err)
	}
	return nil
}

// Get reads the object under the same timeout, up to the bound.
func (f *S3Files) Get(ctx context.Context, merchant, store, number string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	obj, err := f.client.GetObject(ctx, f.bucket, f.objectName(merchant, store, number), minio.GetObjectOptions{})
	if err != nil {
		return nil, f.fail("read PDF", err)
	}
	defer func() { _ = obj.Close() }()
	// The first read sends the GET (one round trip); the limit stops it
	// past the bound.
	b, err := io.ReadAll(io.LimitReader(obj, f.max+1))
	if err != nil {
		return nil, f.fail("read PDF", err)
	}
	if int64(len(b)) > f.max {
		return nil, fmt.Errorf("invoices: read PDF: the object is over the bound of %d bytes", f.max)
	}
	return b, nil
}

// fail words the bucket's refusals and wraps the connectors' vocabulary,
// so that callers retry what may pass later (5xx, 429, the network, the
// timeout) and explain the rest. It never shows the credentials.
func (f *S3Files) fail(what string, err error) error {
	var resp minio.ErrorResponse
	if !errors.As(err, &resp) {
		return fmt.Errorf("invoices: %s: %w", what, err) // the network or the timeout, retryable as they are
	}
	switch {
	case resp.Code == minio.NoSuchKey:
		return ErrNoFile
	case resp.Code == minio.NoSuchBucket:
		return fmt.Errorf("invoices: %s: the bucket %q does not exist: %w: %w", what, f.bucket, connectors.ErrNotFound, err)
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden ||
		resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.Code == minio.AccessDenied:
		return fmt.Errorf("invoices: %s: the bucket %q refused the bridge's access key (%s): check invoice_files.s3.access_key and secret_key: %w: %w",
			what, f.bucket, resp.Code, connectors.ErrForbidden, err)
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500 || resp.Code == "SlowDown":
		return fmt.Errorf("invoices: %s: %w: %w", what, connectors.ErrUnavailable, err)
	}
	return fmt.Errorf("invoices: %s: %w", what, err)
}

// objectName is <prefix><merchant>/<store>/<number>.pdf. Merchant and
// store are slugs. A number keeps its slashes when every segment between
// them is a plain name; otherwise (an empty, "." or ".." segment, which
// servers and tools normalise away, or any other character) it is
// percent-escaped whole, slashes included. A plain number has no "%", so
// two numbers never share a key.
func (f *S3Files) objectName(merchant, store, number string) string {
	return f.prefix + escapeSegment(merchant) + "/" + escapeSegment(store) + "/" + keyNumber(number) + ".pdf"
}

func keyNumber(number string) string {
	for seg := range strings.SplitSeq(number, "/") {
		if seg == "" || seg == "." || seg == ".." || strings.IndexFunc(seg, notPlain) >= 0 {
			return escapeSegment(number)
		}
	}
	return number
}

func notPlain(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

// escapeSegment percent-escapes every byte but letters, digits, - and _.
func escapeSegment(s string) string {
	var b strings.Builder
	for i := range len(s) {
		c := s[i]
		if c < 0x80 && !notPlain(rune(c)) && c != '.' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
