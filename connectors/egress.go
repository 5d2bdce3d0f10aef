package connectors

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// ErrRefusedURL: the bridge will not fetch a URL that came from input (an
// agent's attachment), because its host is not one the account serves
// files from, or because it resolves to an address inside the bridge's
// own network. It is permanent: the same URL is refused again.
var ErrRefusedURL = errors.New("url refused")

// RefusedURLError says which host or address was refused and why, in
// words an agent can read. It never holds the URL's path or query, which
// may carry an access token.
type RefusedURLError struct {
	Host   string
	Reason string
}

func (e *RefusedURLError) Error() string { return e.Host + " " + e.Reason }

func (e *RefusedURLError) Unwrap() error { return ErrRefusedURL }

// FileURLAllowed checks that rawURL is an absolute http(s) URL, without
// credentials, on one of hosts (host or host:port, as in a URL, compared
// without case; a host alone also matches its scheme's default port).
func FileURLAllowed(rawURL string, hosts []string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, &RefusedURLError{Host: "the attachment's link", Reason: "is not an absolute http(s) URL"})
	}
	got := hostPort(u.Scheme, u.Host)
	for _, h := range hosts {
		if strings.EqualFold(got, hostPort(u.Scheme, h)) {
			return nil
		}
	}
	return &RefusedURLError{Host: u.Hostname(), Reason: "is not a host this helpdesk account serves files from"}
}

func hostPort(scheme, host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	port := "443"
	if scheme == "http" {
		port = "80"
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// metadataAddrs are the cloud instance-metadata services, refused even
// where private addresses are allowed: they hand out credentials.
var metadataAddrs = []netip.Addr{
	netip.MustParseAddr("169.254.169.254"), // AWS, GCP, Azure, OpenStack...
	netip.MustParseAddr("169.254.170.2"),   // AWS ECS task credentials
	netip.MustParseAddr("100.100.100.200"), // Alibaba Cloud
	netip.MustParseAddr("fd00:ec2::254"),   // AWS over IPv6
}

// reservedPrefixes are special-purpose ranges (IANA registries) that
// net/netip's predicates do not cover and no file host is on.
var reservedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // shared address space (carrier NAT)
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: could reach any IPv4
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("2002::/16"), // 6to4: could reach any IPv4
}

// AddressRefusal says why the bridge will not connect to a for a URL that
// came from input, or "" when a is a public address. allowPrivate lets
// loopback and private (RFC 1918, unique local) addresses through, for
// fakes on the same machine; link-local and metadata addresses never go.
func AddressRefusal(a netip.Addr, allowPrivate bool) string {
	a = a.Unmap()
	for _, m := range metadataAddrs {
		if a == m {
			return "is a cloud metadata address"
		}
	}
	switch {
	case !a.IsValid():
		return "is not an IP address"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "is a link-local address"
	case a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() || a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "is not a unicast address"
	case a.IsLoopback():
		if allowPrivate {
			return ""
		}
		return "is a loopback address"
	case a.IsPrivate():
		if allowPrivate {
			return ""
		}
		return "is a private address"
	}
	for _, p := range reservedPrefixes {
		if p.Contains(a) {
			return "is a reserved address"
		}
	}
	return ""
}

// NewDownloadTransport returns the transport for URLs that came from input
// (agents' attachments). It refuses, when it dials, any address that
// AddressRefusal refuses: the check runs after DNS resolution, on the
// address actually connected to, so a name that resolves to an internal
// address, or is rebound to one, is refused too. It ignores the proxy
// environment variables: through a proxy, the check would only see the
// proxy's address.
func NewDownloadTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{
		Timeout:   10 * time.Second,
		KeepAlive: 30 * time.Second,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &RefusedURLError{Host: address, Reason: "is not an IP address"}
			}
			if why := AddressRefusal(ap.Addr(), allowPrivate); why != "" {
				return &RefusedURLError{Host: ap.Addr().String(), Reason: why}
			}
			return nil
		},
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          20,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// FetchFile sends req, a GET of a file on one of hosts, with hc, and
// follows redirects only to those hosts. A refused host or address comes
// back as a *RefusedURLError, any other failure to get an answer as
// TransportError's; neither carries the URL.
func FetchFile(hc *http.Client, req *http.Request, hosts []string) (*http.Response, error) {
	c := *hc
	next := hc.CheckRedirect
	c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if err := FileURLAllowed(r.URL.String(), hosts); err != nil {
			return err
		}
		if next != nil {
			return next(r, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	resp, err := c.Do(req)
	if err != nil {
		var refused *RefusedURLError
		if errors.As(err, &refused) {
			return nil, refused
		}
		return nil, TransportError(req.Context(), err)
	}
	return resp, nil
}
