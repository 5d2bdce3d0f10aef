package main

import (
	"net"
	"regexp"
	"sync"
	"testing"
)

// stallProxy forwards TCP connections to a server (Redis, IMAP) and, once
// its trigger fires, freezes: no byte passes either way on any connection,
// as if the client process had stopped at that instant. The test then
// kills that process, and what reached the server is all it ever sent.
type stallProxy struct {
	target string
	l      net.Listener

	mu      sync.Mutex
	thawed  *sync.Cond
	trigger stallTrigger
	conns   []*proxyConn
	frozen  bool
	froze   chan struct{}
}

// stallTrigger looks at what a client sent, window being the data just
// read after up to old bytes it sent before (so that a pattern split
// across reads is seen). It fires once: with more < 0 the proxy freezes
// before forwarding this data; otherwise it forwards it, and freezes after
// more bytes of the server's answer on that connection.
type stallTrigger func(window []byte, old int) (fire bool, more int)

type proxyConn struct {
	client, server net.Conn
	// down is how many more bytes of the server's may pass; -1: no bound.
	down   int64
	closed bool
}

// startStallProxy listens on loopback and forwards to target, passing
// everything until arm sets a trigger; closed when the test ends.
func startStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{target: target, l: l, froze: make(chan struct{})}
	p.thawed = sync.NewCond(&p.mu)
	go p.accept()
	t.Cleanup(func() { _ = l.Close(); p.reset() })
	return p
}

func (p *stallProxy) addr() string { return p.l.Addr().String() }

// arm waits for trigger; nil forwards everything.
func (p *stallProxy) arm(trigger stallTrigger) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trigger = trigger
}

// reset cuts every connection open now (a killed client's, which may
// hold data the proxy never forwarded: it never reaches the server),
// thaws, and forwards everything.
func (p *stallProxy) reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.closed = true
		_ = c.client.Close()
		_ = c.server.Close()
	}
	p.conns, p.frozen, p.trigger, p.froze = nil, false, nil, make(chan struct{})
	p.thawed.Broadcast()
}

// frozenCh is closed once the proxy froze since the last arm.
func (p *stallProxy) frozenCh() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.froze
}

func (p *stallProxy) accept() {
	for {
		client, err := p.l.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = client.Close()
			continue
		}
		c := &proxyConn{client: client, server: server, down: -1}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		go p.pipe(c, true)
		go p.pipe(c, false)
	}
}

// pipe copies one direction of c, client to server when up.
func (p *stallProxy) pipe(c *proxyConn, up bool) {
	src, dst := c.server, c.client
	if up {
		src, dst = c.client, c.server
	}
	defer func() { _ = dst.Close(); _ = src.Close() }()
	buf := make([]byte, 32<<10)
	var tail []byte
	for {
		n, err := src.Read(buf)
		chunk := buf[:n]
		if n > 0 && up {
			window := append(tail, chunk...)
			p.look(c, window, len(tail))
			tail = append([]byte(nil), window[max(0, len(window)-512):]...)
		}
		for len(chunk) > 0 {
			k := p.admit(c, up, len(chunk))
			if k == 0 {
				return
			}
			if _, err := dst.Write(chunk[:k]); err != nil {
				return
			}
			chunk = chunk[k:]
		}
		if err != nil {
			return
		}
	}
}

// look runs the trigger on what the client sent.
func (p *stallProxy) look(c *proxyConn, window []byte, old int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.trigger == nil || p.frozen {
		return
	}
	fire, more := p.trigger(window, old)
	if !fire {
		return
	}
	p.trigger = nil
	if more < 0 {
		p.freeze()
		return
	}
	c.down = int64(more)
}

// admit waits while the proxy is frozen and says how many of n bytes
// may pass now; 0 once the connection is cut.
func (p *stallProxy) admit(c *proxyConn, up bool, n int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for p.frozen && !c.closed {
			p.thawed.Wait()
		}
		if c.closed {
			return 0
		}
		if up || c.down < 0 {
			return n
		}
		if c.down == 0 {
			p.freeze()
			continue
		}
		k := min(int64(n), c.down)
		c.down -= k
		return int(k)
	}
}

func (p *stallProxy) freeze() {
	if !p.frozen {
		p.frozen = true
		close(p.froze)
	}
}

// nthMatch fires at the nth time re matches what clients send, counted
// over every connection.
func nthMatch(re *regexp.Regexp, n, more int) stallTrigger {
	seen := 0
	return func(window []byte, old int) (bool, int) {
		for _, m := range re.FindAllIndex(window, -1) {
			if m[1] <= old {
				continue // counted with the earlier read
			}
			if seen++; seen == n {
				return true, more
			}
		}
		return false, 0
	}
}
