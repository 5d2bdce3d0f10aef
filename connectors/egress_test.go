package connectors_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/helpdesk-bridge/bridge/connectors"
)

func TestAddressRefusal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr          string
		refused       bool
		refusedIfOpen bool // with private addresses allowed
	}{
		{"93.184.216.34", false, false},
		{"2606:2800:220:1:248:1893:25c8:1946", false, false},
		{"127.0.0.1", true, false},
		{"::1", true, false},
		{"10.1.2.3", true, false},
		{"172.16.0.1", true, false},
		{"192.168.1.1", true, false},
		{"fd12::1", true, false},
		{"::ffff:192.168.1.1", true, false},
		{"169.254.169.254", true, true},
		{"169.254.10.10", true, true},
		{"fe80::1", true, true},
		{"fd00:ec2::254", true, true},
		{"100.100.100.200", true, true},
		{"0.0.0.0", true, true},
		{"224.0.0.1", true, true},
		{"64:ff9b::a00:1", true, true},
	}
	for _, tt := range tests {
		a := netip.MustParseAddr(tt.addr)
		if got := connectors.AddressRefusal(a, false) != ""; got != tt.refused {
			t.Errorf("%s: refused %t, want %t", tt.addr, got, tt.refused)
		}
		if got := connectors.AddressRefusal(a, true) != ""; got != tt.refusedIfOpen {
			t.Errorf("%s with private addresses allowed: refused %t, want %t", tt.addr, got, tt.refusedIfOpen)
		}
	}
}

// The download transport refuses a loopback server as it dials, unless
// private addresses are allowed, and a redirect off the file hosts.
func TestDownloadTransport(t *testing.T) {
	t.Parallel()
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/away" {
			http.Redirect(w, r, "http://files.example.net/x", http.StatusFound)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(files.Close)
	host := strings.TrimPrefix(files.URL, "http://")
	get := func(allowPrivate bool, path string) error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, files.URL+path+"?token=s3cr3t", nil)
		resp, err := connectors.FetchFile(&http.Client{Transport: connectors.NewDownloadTransport(allowPrivate)}, req, []string{host})
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	err := get(false, "/a")
	var refused *connectors.RefusedURLError
	if !errors.As(err, &refused) || !errors.Is(err, connectors.ErrRefusedURL) || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("loopback with private addresses refused: %v, want a RefusedURLError", err)
	}
	if err := get(true, "/a"); err != nil {
		t.Errorf("loopback with private addresses allowed: %v", err)
	}
	if err := get(true, "/away"); !errors.Is(err, connectors.ErrRefusedURL) || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("redirect to another host: %v, want ErrRefusedURL without the URL", err)
	}
}

// Transport errors keep the host of the URL, never its path or query.
func TestTransportErrorShowsTheHostOnly(t *testing.T) {
	t.Parallel()
	err := connectors.TransportError(context.Background(), &url.Error{Op: "Get", URL: "https://files.example.net/a/b.pdf?token=s3cr3t", Err: errors.New("connection reset")})
	if !errors.Is(err, connectors.ErrUnavailable) || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "b.pdf") || !strings.Contains(err.Error(), "files.example.net") {
		t.Errorf("TransportError = %v, want ErrUnavailable naming the host only", err)
	}
}
