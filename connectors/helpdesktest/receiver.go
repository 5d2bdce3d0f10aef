package helpdesktest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// Receiver stands for the bridge's webhook endpoint in a harness: it
// records every call a fake makes and answers 200, as the bridge
// acknowledges every authentic call.
type Receiver struct {
	URL    string
	Client *http.Client

	mu    sync.Mutex
	calls []Delivery
}

// NewReceiver starts a receiver that stops when t ends.
func NewReceiver(t *testing.T) *Receiver {
	t.Helper()
	rec := &Receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		rec.mu.Lock()
		rec.calls = append(rec.calls, Delivery{Header: r.Header.Clone(), Body: body, At: time.Now()})
		rec.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	rec.URL, rec.Client = srv.URL, srv.Client()
	return rec
}

// Len is the number of calls received so far.
func (rec *Receiver) Len() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.calls)
}

// Since returns the calls received after the first n.
func (rec *Receiver) Since(n int) []Delivery {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if n > len(rec.calls) {
		return nil
	}
	return append([]Delivery(nil), rec.calls[n:]...)
}
