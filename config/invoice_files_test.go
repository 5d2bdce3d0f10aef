package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// s3Files is an invoice_files block, put before merchants: in base.
const s3Files = `invoice_files:
  kind: s3
  s3:
    endpoint: minio.internal:9000
    bucket: acme-invoices
    region: eu-west-3
    prefix: invoices/
    access_key: ${S3_ACCESS_KEY}
    secret_key: ${S3_SECRET_KEY}
merchants:
`

func s3Env() map[string]string {
	env := baseEnv()
	env["S3_ACCESS_KEY"] = "AKIAEXAMPLE"
	env["S3_SECRET_KEY"] = "s3-secret-value"
	return env
}

func TestInvoiceFilesDefaultToRedis(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(base), lookup(baseEnv()))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.InvoiceFiles.Kind != InvoiceFilesRedis || cfg.InvoiceFiles.S3 != nil {
		t.Fatalf("invoice_files = %+v", cfg.InvoiceFiles)
	}
}

func TestParseInvoiceFilesS3(t *testing.T) {
	t.Parallel()
	cfg, err := Parse([]byte(edit(t, "merchants:\n", s3Files)), lookup(s3Env()))
	if err != nil {
		t.Fatal(err)
	}
	s3 := cfg.InvoiceFiles.S3
	if cfg.InvoiceFiles.Kind != InvoiceFilesS3 || s3 == nil {
		t.Fatalf("invoice_files = %+v", cfg.InvoiceFiles)
	}
	if s3.Endpoint != "minio.internal:9000" || s3.Bucket != "acme-invoices" || s3.Region != "eu-west-3" || s3.Prefix != "invoices/" ||
		s3.AccessKey.Reveal() != "AKIAEXAMPLE" || s3.SecretKey.Reveal() != "s3-secret-value" {
		t.Errorf("s3 = %+v", s3)
	}
	// Defaults: TLS on, a 30 s timeout.
	if s3.TLS == nil || !*s3.TLS || s3.Timeout != 30*time.Second {
		t.Errorf("tls %v, timeout %v", s3.TLS, s3.Timeout)
	}
	// tls: false is kept, not taken for "not written".
	cfg, err = Parse([]byte(edit(t, "merchants:\n", s3Files+"", "    region: eu-west-3\n", "    tls: false\n    timeout: 5s\n")), lookup(s3Env()))
	if err != nil {
		t.Fatal(err)
	}
	if s3 := cfg.InvoiceFiles.S3; s3.TLS == nil || *s3.TLS || s3.Timeout != 5*time.Second || s3.Region != "" {
		t.Errorf("s3 = %+v", s3)
	}
}

func TestInvoiceFilesProblems(t *testing.T) {
	t.Parallel()
	const p = "invoice_files.s3."
	tests := []struct {
		name     string
		old, new string
		env      map[string]string
		want     Problems
	}{
		{"unknown kind", "kind: s3", "kind: gcs", nil,
			Problems{{Field: "invoice_files.kind", Line: 5, Message: "must be one of: redis, s3"}}},
		{"s3 without its block", "  s3:\n    endpoint: minio.internal:9000\n    bucket: acme-invoices\n    region: eu-west-3\n    prefix: invoices/\n    access_key: ${S3_ACCESS_KEY}\n    secret_key: ${S3_SECRET_KEY}\n", "", nil,
			Problems{{Field: "invoice_files.s3", Line: 4, Message: "is required when kind is s3"}}},
		{"block without kind s3", "  kind: s3\n", "", nil,
			Problems{{Field: "invoice_files.s3", Line: 5, Message: "is set but invoice_files.kind is redis: set kind: s3 to keep PDFs in the bucket, or remove the block"}}},
		{"scheme", "endpoint: minio.internal:9000", "endpoint: https://minio.internal:9000", nil,
			Problems{{Field: p + "endpoint", Line: 7, Message: "must be host or host:port without a scheme, such as s3.eu-west-3.amazonaws.com; tls says whether to use TLS"}}},
		{"path", "endpoint: minio.internal:9000", "endpoint: minio.internal:9000/s3", nil,
			Problems{{Field: p + "endpoint", Line: 7, Message: "must be host or host:port, without a path, query or credentials"}}},
		{"bad port", "endpoint: minio.internal:9000", "endpoint: minio.internal:99999", nil,
			Problems{{Field: p + "endpoint", Line: 7, Message: "must be host or host:port, with a port from 1 to 65535"}}},
		{"bad host", "endpoint: minio.internal:9000", "endpoint: minio_internal:9000", nil,
			Problems{{Field: p + "endpoint", Line: 7, Message: "must be host or host:port, such as s3.eu-west-3.amazonaws.com or minio.internal:9000"}}},
		{"no endpoint", "    endpoint: minio.internal:9000\n", "", nil,
			Problems{{Field: p + "endpoint", Line: 6, Message: "is required"}}},
		{"bucket uppercase", "bucket: acme-invoices", "bucket: Acme_Invoices", nil,
			Problems{{Field: p + "bucket", Line: 8, Message: "must be lowercase letters, digits, dots and dashes, starting and ending with a letter or digit"}}},
		{"bucket short", "bucket: acme-invoices", "bucket: ab", nil,
			Problems{{Field: p + "bucket", Line: 8, Message: "must be 3 to 63 characters long"}}},
		{"bucket dots", "bucket: acme-invoices", "bucket: acme..invoices", nil,
			Problems{{Field: p + "bucket", Line: 8, Message: "must not have two dots in a row"}}},
		{"bucket ip", "bucket: acme-invoices", "bucket: 192.168.1.10", nil,
			Problems{{Field: p + "bucket", Line: 8, Message: "must not be an IP address"}}},
		{"bucket reserved", "bucket: acme-invoices", "bucket: xn--acme", nil,
			Problems{{Field: p + "bucket", Line: 8, Message: "must not start with xn-- or sthree-, nor end with -s3alias or --ol-s3: S3 reserves them"}}},
		{"region", "region: eu-west-3", "region: EU West", nil,
			Problems{{Field: p + "region", Line: 9, Message: "must be a region name such as eu-west-3: lowercase letters, digits and dashes"}}},
		{"prefix slash", "prefix: invoices/", "prefix: /invoices/", nil,
			Problems{{Field: p + "prefix", Line: 10, Message: "must not start with /"}}},
		{"prefix dots", "prefix: invoices/", "prefix: invoices/../x/", nil,
			Problems{{Field: p + "prefix", Line: 10, Message: "must not have empty, . or .. segments between slashes"}}},
		{"literal secret", "secret_key: ${S3_SECRET_KEY}", "secret_key: s3-secret-value", nil,
			Problems{{Field: p + "secret_key", Line: 12, Message: "must be a ${ENV_VAR} reference, not a literal"}}},
		{"secret unset", "secret_key: ${S3_SECRET_KEY}", "secret_key: ${S3_OTHER_KEY}", nil,
			Problems{{Field: p + "secret_key", Line: 12, Message: "environment variable S3_OTHER_KEY is not set"}}},
		{"access key empty", "", "", map[string]string{"S3_ACCESS_KEY": ""},
			Problems{{Field: p + "access_key", Line: 11, Message: "is required"}}},
		{"timeout", "    prefix: invoices/\n", "    prefix: invoices/\n    timeout: 1h\n", nil,
			Problems{{Field: p + "timeout", Line: 11, Message: "must be at most 10m"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := s3Files
			if tt.old != "" {
				in = editText(t, in, tt.old, tt.new)
			}
			env := s3Env()
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := Parse([]byte(edit(t, "merchants:\n", in)), lookup(env))
			if diff := cmp.Diff(tt.want, problemsOf(t, err)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}
