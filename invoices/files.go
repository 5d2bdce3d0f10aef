package invoices

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Files keeps issued documents' PDFs: RedisFiles by default, S3Files (an
// S3-compatible bucket, s3files.go) for large volumes.
type Files interface {
	// Put keeps a PDF; ErrTooLarge when the store cannot take its size.
	// Putting the same number again writes the same bytes.
	Put(ctx context.Context, merchant, store, number string, pdf []byte) error
	// Get returns a kept PDF, or ErrNoFile.
	Get(ctx context.Context, merchant, store, number string) ([]byte, error)
}

var (
	ErrNoFile   = errors.New("invoices: no such PDF")
	ErrTooLarge = errors.New("invoices: PDF too large for the store")
)

// DefaultMaxRedisPDF is RedisFiles' size limit. An invoice of a few lines
// is about 60 KB (its four fonts subset to the characters used); a hundred lines
// stay far below. Past the limit, the PDF is not kept but rendered from
// its record at each read, to the same bytes.
const DefaultMaxRedisPDF = 1 << 20

// RedisFiles keeps PDFs in Redis, at P inv:{<merchant>}:pdf:<store>:<number>,
// beside the record and for as long (no expiry). Sizing: 100,000 invoices
// of 60 KB are 6 GB of Redis memory; past such volumes, a bucket.
type RedisFiles struct {
	rdb    redis.UniversalClient
	prefix string
	max    int
}

// NewRedisFiles keeps PDFs up to maxBytes (DefaultMaxRedisPDF when 0).
func NewRedisFiles(rdb redis.UniversalClient, keyPrefix string, maxBytes int) *RedisFiles {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxRedisPDF
	}
	return &RedisFiles{rdb: rdb, prefix: keyPrefix, max: maxBytes}
}

func (f *RedisFiles) key(merchant, store, number string) string {
	return f.prefix + "inv:{" + merchant + "}:pdf:" + store + ":" + number
}

func (f *RedisFiles) Put(ctx context.Context, merchant, store, number string, pdf []byte) error {
	if len(pdf) > f.max {
		return ErrTooLarge
	}
	if err := f.rdb.Set(ctx, f.key(merchant, store, number), pdf, 0).Err(); err != nil {
		return fmt.Errorf("invoices: keep PDF: %w", err)
	}
	return nil
}

func (f *RedisFiles) Get(ctx context.Context, merchant, store, number string) ([]byte, error) {
	b, err := f.rdb.Get(ctx, f.key(merchant, store, number)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoFile
	}
	if err != nil {
		return nil, fmt.Errorf("invoices: read PDF: %w", err)
	}
	return b, nil
}
