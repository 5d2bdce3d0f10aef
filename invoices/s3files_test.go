package invoices_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/invoices"
	"github.com/helpdesk-bridge/bridge/invoices/s3test"
)

func newS3Files(t *testing.T, endpoint, bucket, accessKey string, timeout time.Duration) *invoices.S3Files {
	t.Helper()
	f, err := invoices.NewS3Files(invoices.S3Options{
		Endpoint: endpoint, Bucket: bucket, Region: s3test.Region, Prefix: "pdf/",
		AccessKey: accessKey, SecretKey: s3test.SecretKey, Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestS3FilesRoundTrip(t *testing.T) {
	srv := s3test.Start(t, "invoices")
	f := newS3Files(t, srv.Endpoint, srv.Bucket, s3test.AccessKey, 0)
	ctx := context.Background()
	pdf := []byte("%PDF-1.4 first\n")

	if _, err := f.Get(ctx, "acme", "acme-fr", "F-000001"); !errors.Is(err, invoices.ErrNoFile) {
		t.Fatalf("Get before Put: %v, want ErrNoFile", err)
	}
	if err := f.Put(ctx, "acme", "acme-fr", "F-000001", pdf); err != nil {
		t.Fatal(err)
	}
	// Putting again (a retry after an uncertain write) is harmless.
	if err := f.Put(ctx, "acme", "acme-fr", "F-000001", pdf); err != nil {
		t.Fatal(err)
	}
	got, err := f.Get(ctx, "acme", "acme-fr", "F-000001")
	if err != nil || !bytes.Equal(got, pdf) {
		t.Fatalf("Get = %q, %v; want %q", got, err, pdf)
	}
	body, ctype, ok := srv.Object(t, "pdf/acme/acme-fr/F-000001.pdf")
	if !ok || !bytes.Equal(body, pdf) || ctype != "application/pdf" {
		t.Fatalf("object: %q %q %v; keys %v", body, ctype, ok, srv.Keys(t))
	}
	// Another store's number is another object.
	if _, err := f.Get(ctx, "acme", "acme-de", "F-000001"); !errors.Is(err, invoices.ErrNoFile) {
		t.Fatalf("another store: %v, want ErrNoFile", err)
	}
}

func TestS3FilesKeysOfNumbersWithSlashes(t *testing.T) {
	srv := s3test.Start(t, "invoices")
	f := newS3Files(t, srv.Endpoint, srv.Bucket, s3test.AccessKey, 0)
	ctx := context.Background()
	// Each number its own object, and the key each is kept at: a plain
	// prefix reads as folders; a segment servers would normalise away is
	// escaped, so "../" cannot climb out of the store's folder.
	cases := map[string]string{
		"F/2026/000001": "pdf/acme/acme-fr/F/2026/000001.pdf",
		"F-2026-000001": "pdf/acme/acme-fr/F-2026-000001.pdf",
		"../000001":     "pdf/acme/acme-fr/%2E%2E%2F000001.pdf",
		"F//000001":     "pdf/acme/acme-fr/F%2F%2F000001.pdf",
		"./F/000001":    "pdf/acme/acme-fr/%2E%2FF%2F000001.pdf",
		"F.2026/1":      "pdf/acme/acme-fr/F.2026/1.pdf",
	}
	for number := range cases {
		if err := f.Put(ctx, "acme", "acme-fr", number, []byte("pdf of "+number)); err != nil {
			t.Fatalf("%s: %v", number, err)
		}
	}
	for number, key := range cases {
		got, err := f.Get(ctx, "acme", "acme-fr", number)
		if err != nil || string(got) != "pdf of "+number {
			t.Errorf("Get(%q) = %q, %v", number, got, err)
		}
		if body, _, ok := srv.Object(t, key); !ok || string(body) != "pdf of "+number {
			t.Errorf("%q: no object at %q; keys %v", number, key, srv.Keys(t))
		}
	}
	if keys := srv.Keys(t); len(keys) != len(cases) {
		t.Errorf("keys %v, want %d", keys, len(cases))
	}
}

func TestS3FilesWrongCredentials(t *testing.T) {
	srv := s3test.Start(t, "invoices")
	f := newS3Files(t, srv.Endpoint, srv.Bucket, "NOT-THE-KEY", 0)
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"put": func() error { return f.Put(ctx, "acme", "acme-fr", "F-000001", []byte("%PDF")) },
		"get": func() error { _, err := f.Get(ctx, "acme", "acme-fr", "F-000001"); return err },
	} {
		err := call()
		if err == nil || errors.Is(err, invoices.ErrNoFile) {
			t.Fatalf("%s: %v, want a refusal", name, err)
		}
		if !strings.Contains(err.Error(), "refused the bridge's access key (InvalidAccessKeyId)") ||
			!errors.Is(err, connectors.ErrForbidden) || connectors.IsRetryable(err) {
			t.Errorf("%s: %v", name, err)
		}
		if strings.Contains(err.Error(), s3test.SecretKey) {
			t.Errorf("%s: the error shows the secret", name)
		}
	}
}

func TestS3FilesMissingBucket(t *testing.T) {
	srv := s3test.Start(t, "invoices")
	f := newS3Files(t, srv.Endpoint, "no-such-bucket", s3test.AccessKey, 0)
	_, err := f.Get(context.Background(), "acme", "acme-fr", "F-000001")
	if errors.Is(err, invoices.ErrNoFile) || !strings.Contains(err.Error(), `bucket "no-such-bucket" does not exist`) {
		t.Fatalf("Get = %v", err)
	}
}

func TestS3FilesBoundOnRead(t *testing.T) {
	srv := s3test.Start(t, "invoices")
	f, err := invoices.NewS3Files(invoices.S3Options{
		Endpoint: srv.Endpoint, Bucket: srv.Bucket, Region: s3test.Region,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey, MaxBytes: 1000,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.PutRaw(t, "acme/acme-fr/F-000001.pdf", bytes.Repeat([]byte("x"), 1001))
	if b, err := f.Get(ctx, "acme", "acme-fr", "F-000001"); err == nil || errors.Is(err, invoices.ErrNoFile) {
		t.Fatalf("Get of an object over the bound = %d bytes, %v", len(b), err)
	}
	if err := f.Put(ctx, "acme", "acme-fr", "F-000002", bytes.Repeat([]byte("x"), 1001)); !errors.Is(err, invoices.ErrTooLarge) {
		t.Fatalf("Put over the bound: %v, want ErrTooLarge", err)
	}
}

// A server that takes the connection and never answers: each call gives
// up at the configured timeout, with an error the callers retry.
func TestS3FilesTimeoutOnHungServer(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	f := newS3Files(t, strings.TrimPrefix(hung.URL, "http://"), "invoices", s3test.AccessKey, 200*time.Millisecond)
	// A caller's own deadline far away: the configured timeout must hold.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for name, call := range map[string]func() error{
		"put": func() error { return f.Put(ctx, "acme", "acme-fr", "F-000001", []byte("%PDF")) },
		"get": func() error { _, err := f.Get(ctx, "acme", "acme-fr", "F-000001"); return err },
	} {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			if !errors.Is(err, context.DeadlineExceeded) || !connectors.IsRetryable(err) {
				t.Errorf("%s: %v, want the deadline", name, err)
			}
		case <-ctx.Done():
			t.Fatalf("%s: still waiting after a minute", name)
		}
	}
}
