package httpapi

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// serveEngine serves e on a loopback port with a short read timeout, the
// way cmd/bridge serves it with a longer one.
func serveEngine(t *testing.T, e *gin.Engine, readTimeout time.Duration) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: e, ReadTimeout: readTimeout}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l.Addr().String()
}

// rawRequest writes head and body on a fresh connection, waits pause,
// half-closes when asked, and reads the answer.
func rawRequest(t *testing.T, addr, head, body string, pause time.Duration, closeWrite bool) (int, errorBody, http.Header) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, head+body); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pause)
	if closeWrite {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	defer resp.Body.Close()
	var e errorBody
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%d answer is not the JSON error shape: %s", resp.StatusCode, raw)
	}
	return resp.StatusCode, e, resp.Header
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestUnreadableBodyIsTheClientsError: a body cut short, badly chunked or
// sent too slowly answers 400 or 408, never 500.
func TestUnreadableBodyIsTheClientsError(t *testing.T) {
	t.Parallel()
	e := NewEngine(zerolog.Nop(), nil)
	e.POST("/echo", LimitBody(1<<20), func(c *gin.Context) {
		if _, err := io.ReadAll(c.Request.Body); err != nil {
			Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	const timeout = 300 * time.Millisecond
	addr := serveEngine(t, e, timeout)
	head := "POST /echo HTTP/1.1\r\nHost: bridge\r\nContent-Type: application/json\r\n"
	tests := []struct {
		name       string
		head, body string
		pause      time.Duration
		closeWrite bool
		status     int
		code       string
	}{
		{"truncated", head + "Content-Length: 100\r\n\r\n", `{"id":`, 50 * time.Millisecond, true, http.StatusBadRequest, CodeMalformedBody},
		{"malformed chunking", head + "Transfer-Encoding: chunked\r\n\r\n", "zz\r\nnot a chunk\r\n", 0, false, http.StatusBadRequest, CodeMalformedBody},
		{"slower than the read timeout", head + "Content-Length: 100\r\n\r\n", `{"id":`, 2 * timeout, false, http.StatusRequestTimeout, CodeRequestTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body, _ := rawRequest(t, addr, tt.head, tt.body, tt.pause, tt.closeWrite)
			if status != tt.status || body.Error.Code != tt.code || body.Error.Message == "" {
				t.Errorf("%d %+v, want %d %s", status, body, tt.status, tt.code)
			}
		})
	}
	// A whole body still reads, and an oversized one is still a 413.
	status, _, _ := rawRequest(t, addr, head+"Content-Length: 2\r\nConnection: close\r\n\r\n", "{}", 0, false)
	if status != http.StatusOK {
		t.Errorf("a whole body: %d, want 200", status)
	}
}

// TestStoreUnreachableIs503: a route whose Redis is down answers 503 with
// Retry-After, as the event intake does, not 500.
func TestStoreUnreachableIs503(t *testing.T) {
	t.Parallel()
	// Port 1 (tcpmux) is never served here: a freed ephemeral port could
	// be taken by a parallel test's server meanwhile.
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })

	e := NewEngine(zerolog.Nop(), nil)
	e.GET("/thing", func(c *gin.Context) {
		if err := rc.Get(c.Request.Context(), "k").Err(); err != nil {
			Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{})
	})
	e.GET("/slow", func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), time.Millisecond)
		defer cancel()
		<-ctx.Done()
		Fail(c, ctx.Err())
	})
	addr := serveEngine(t, e, time.Second)
	for _, path := range []string{"/thing", "/slow"} {
		status, body, h := rawRequest(t, addr, "GET "+path+" HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n\r\n", "", 0, false)
		if status != http.StatusServiceUnavailable || body.Error.Code != CodeUnavailable || h.Get("Retry-After") == "" {
			t.Errorf("%s: %d %+v Retry-After %q, want 503 %s with a Retry-After", path, status, body, h.Get("Retry-After"), CodeUnavailable)
		}
	}
}

// An id holding a slash, sent escaped, is one path parameter.
func TestEscapedSlashStaysInItsParameter(t *testing.T) {
	e := NewEngine(zerolog.Nop(), nil)
	e.POST("/v1/orders/:store/:order_id/actions", func(c *gin.Context) {
		c.String(http.StatusOK, c.Param("store")+"|"+c.Param("order_id"))
	})
	w := httptest.NewRecorder()
	e.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/orders/acme-fr/A%2FB%201/actions", nil))
	if w.Code != http.StatusOK || w.Body.String() != "acme-fr|A/B 1" {
		t.Errorf("%d %q, want the order id A/B 1", w.Code, w.Body.String())
	}
}
