package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Headers are bounded well below net/http's 1 MiB default: a signature
// header of thousands of entries never reaches the intake.
func TestHugeHeadersAreRefused(t *testing.T) {
	h := newHarness(t, harnessOptions{mode: ModeAPI})
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(h.url, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	sig := strings.Repeat("sha256="+strings.Repeat("0", 64)+",", 1500) // about 108 KB
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: bridge\r\nX-Bridge-Merchant: acme\r\nX-Bridge-Signature: %s\r\nContent-Length: 2\r\n\r\n{}", sig)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d for 108 KB of headers, want 431", resp.StatusCode)
	}
}
