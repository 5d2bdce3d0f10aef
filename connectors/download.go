package connectors

import (
	"fmt"
	"io"
)

// LimitDownload wraps an attachment's body so that reading past max bytes
// fails with ErrTooLarge: a file host cannot make the bridge read without
// end, and a file cut at the limit is never taken for the whole file.
func LimitDownload(rc io.ReadCloser, max int64) io.ReadCloser {
	return &limitedBody{rc: rc, left: max, max: max}
}

type limitedBody struct {
	rc        io.ReadCloser
	left, max int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, err := b.rc.Read(one[:]); n == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("%w: attachment larger than %d bytes", ErrTooLarge, b.max)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
