package fnac_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/connectors/fnac"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/api"
	"github.com/helpdesk-bridge/bridge/connectors/fnac/fnacfake"
)

// clock is a settable clock shared by the fake and the client.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func seedClient(t *testing.T, h *fakeHarness, order string) string {
	t.Helper()
	return h.AddThread(t, marketplaceSeed(order))
}

func TestTokenRenewedBeforeItsValidity(t *testing.T) {
	t.Parallel()
	clk := &clock{now: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	h := startFake(t, setup{
		fake:   fnacfake.Options{TokenTTL: 10 * time.Minute, Now: clk.Now},
		client: func(o *fnac.Options) { o.Now = clk.Now },
	})
	ctx := t.Context()
	list := func() {
		t.Helper()
		if _, err := h.mp.ListThreads(ctx, connectors.ThreadQuery{}); err != nil {
			t.Fatalf("ListThreads: %v", err)
		}
	}
	list()
	list()
	if n := h.fake.Auths(); n != 1 {
		t.Errorf("%d auths for two calls within the validity, want 1", n)
	}
	// Within the last minute of its validity, the token is renewed
	// before use: no call is refused.
	clk.Add(9*time.Minute + 30*time.Second)
	list()
	if n := h.fake.Auths(); n != 2 {
		t.Errorf("%d auths after nearing the validity, want 2", n)
	}
}

func TestExpiredTokenReauthenticatesOnce(t *testing.T) {
	t.Parallel()
	h := startFake(t, setup{})
	id := seedClient(t, h, "ORDER00000001")
	if _, err := h.mp.GetThread(t.Context(), id); err != nil {
		t.Fatal(err)
	}
	h.fake.ExpireTokens()
	if _, err := h.mp.GetThread(t.Context(), id); err != nil {
		t.Fatalf("GetThread with an expired token: %v", err)
	}
	if n := h.fake.Auths(); n != 2 {
		t.Errorf("%d auths, want 2", n)
	}
}

// A root error that is not the session's is not worth a new token: the
// request is refused as it stands.
func TestValidationErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	var calls int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		if strings.HasSuffix(r.URL.Path, "/auth") {
			_, _ = w.Write([]byte(`<auth_response xmlns="` + api.Namespace + `" status="OK"><token>61DF8A84-4465-7D36-20A4-00F941207026</token><validity>2999-01-01T00:00:00+02:00</validity></auth_response>`))
			return
		}
		_, _ = w.Write([]byte(`<messages_query_response xmlns="` + api.Namespace + `" status="FATAL"><error severity="FATAL" code="ERR_096">XML Validation failed: Element messages_query: Missing child element(s)</error></messages_query_response>`))
	}))
	defer srv.Close()
	c, err := fnac.New(fnac.Options{BaseURL: srv.URL, PartnerID: partnerID, ShopID: fnacShop, Key: fnacKey})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListThreads(t.Context(), connectors.ThreadQuery{})
	if !errors.Is(err, connectors.ErrInvalid) || !strings.Contains(err.Error(), "ERR_096") {
		t.Errorf("err = %v, want ErrInvalid with ERR_096", err)
	}
	if calls != 2 {
		t.Errorf("%d calls, want auth and one query", calls)
	}
}

// A token refused again right after a new one is not tried a third time.
func TestRefusedTokenStopsAfterOneRenewal(t *testing.T) {
	t.Parallel()
	var auths, queries int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/xml")
		if strings.HasSuffix(r.URL.Path, "/auth") {
			auths++
			_, _ = w.Write([]byte(`<auth_response xmlns="` + api.Namespace + `" status="OK"><token>61DF8A84-4465-7D36-20A4-00F941207026</token><validity>2999-01-01T00:00:00+02:00</validity></auth_response>`))
			return
		}
		queries++
		_, _ = w.Write([]byte(`<messages_query_response xmlns="` + api.Namespace + `" status="FATAL"><error severity="FATAL" code="ERR_001">Invalid token</error></messages_query_response>`))
	}))
	defer srv.Close()
	c, _ := fnac.New(fnac.Options{BaseURL: srv.URL, PartnerID: partnerID, ShopID: fnacShop, Key: fnacKey})
	if _, err := c.ListThreads(t.Context(), connectors.ThreadQuery{}); err == nil || connectors.IsRetryable(err) {
		t.Errorf("err = %v, want a permanent refusal", err)
	}
	if auths != 2 || queries != 2 {
		t.Errorf("%d auths and %d queries, want 2 and 2", auths, queries)
	}
}

func TestUnsafeAnswers(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"doctype":   `<?xml version="1.0"?><!DOCTYPE auth_response [<!ENTITY x "y">]><auth_response xmlns="` + api.Namespace + `" status="OK"><token>&x;</token></auth_response>`,
		"too large": `<auth_response xmlns="` + api.Namespace + `" status="OK"><version>` + strings.Repeat("9", api.MaxAnswerBytes) + `</version></auth_response>`,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write([]byte(body))
		}))
		c, _ := fnac.New(fnac.Options{BaseURL: srv.URL, PartnerID: partnerID, ShopID: fnacShop, Key: fnacKey})
		_, err := c.ListThreads(t.Context(), connectors.ThreadQuery{})
		srv.Close()
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if name == "too large" && (!errors.Is(err, api.ErrUnsafe) || !strings.Contains(err.Error(), "larger than")) {
			t.Errorf("%s: err = %v, want a clear size error", name, err)
		}
	}
}
