// Package s3test runs an S3-compatible fake in-process for the tests of
// invoices.S3Files and of the bridge wired to a bucket. It is gofakes3 in
// memory: a real MinIO server cannot be installed from the distribution's
// packages, and the fake speaks the same protocol to the same client.
package s3test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// The fake's credentials and region.
const (
	AccessKey = "BRIDGETESTKEY"
	SecretKey = "bridge-test-secret-key"
	Region    = "us-east-1"
)

// Server is a running fake with one bucket.
type Server struct {
	// Endpoint is host:port, without a scheme (plain HTTP).
	Endpoint string
	Bucket   string
	backend  *s3mem.Backend
}

// Start serves a fake with bucket until the test ends. gofakes3 checks no
// signature, so the fake refuses requests signed with another access key
// than AccessKey itself, as a real server refuses an unknown key.
func Start(t testing.TB, bucket string) *Server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	fake := gofakes3.New(backend, gofakes3.WithAutoBucket(false))
	handler := fake.Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if accessKey(r.Header.Get("Authorization")) != AccessKey {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId`+
				`</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return &Server{Endpoint: strings.TrimPrefix(srv.URL, "http://"), Bucket: bucket, backend: backend}
}

// accessKey reads the key id from a SigV4 Authorization header:
// "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/s3/aws4_request, ...".
func accessKey(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

// Object returns an object's bytes and content type, or ok false.
func (s *Server) Object(t testing.TB, key string) (body []byte, contentType string, ok bool) {
	t.Helper()
	obj, err := s.backend.GetObject(s.Bucket, key, nil)
	if err != nil {
		return nil, "", false
	}
	defer func() { _ = obj.Contents.Close() }()
	b, err := io.ReadAll(obj.Contents)
	if err != nil {
		t.Fatal(err)
	}
	return b, obj.Metadata["Content-Type"], true
}

// Keys lists the bucket's object keys.
func (s *Server) Keys(t testing.TB) []string {
	t.Helper()
	list, err := s.backend.ListBucket(s.Bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	keys := make([]string, 0, len(list.Contents))
	for _, c := range list.Contents {
		keys = append(keys, c.Key)
	}
	return keys
}

// PutRaw stores an object as another writer would, bypassing the bridge.
func (s *Server) PutRaw(t testing.TB, key string, body []byte) {
	t.Helper()
	if _, err := s.backend.PutObject(s.Bucket, key, map[string]string{"Content-Type": "application/pdf"},
		strings.NewReader(string(body)), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
}
