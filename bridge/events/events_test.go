package events_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
)

type onePlanner struct{}

func (onePlanner) Plan(_ context.Context, ev events.Event) ([]*asynq.Task, error) {
	return []*asynq.Task{asynq.NewTask("t", nil, asynq.TaskID("t:"+ev.ID))}, nil
}

// While a secret rotates, events signed with the old or the new one are
// accepted, and so is a header carrying both signatures.
func TestSignatureDuringSecretRotation(t *testing.T) {
	rdb := rdbtest.Client(t, 3)
	cfg := &config.Config{
		Worker: config.Worker{TaskRetention: time.Hour, MaxRetry: 3},
		Events: config.Events{ReplayWindow: 5 * time.Minute, DedupeTTL: time.Hour},
		Merchants: []config.Merchant{{ID: "acme", EventSecrets: []config.Secret{
			config.NewSecret("new-secret"), config.NewSecret("old-secret"),
		}}},
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	in := events.New(events.Options{
		Config: cfg, Queue: asynq.NewClientFromRedisClient(rdb), Redis: rdb,
		Now: func() time.Time { return now }, Planners: map[string]events.Planner{"k": onePlanner{}},
	})
	ts := strconv.FormatInt(now.Unix(), 10)
	body := func(id string) []byte {
		return []byte(`{"id":"` + id + `","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":{}}`)
	}
	cases := []struct {
		name, id, sig string
		wantCode      string
	}{
		{"new secret", "e1", events.SignatureHeader("new-secret", ts, body("e1")), ""},
		{"old secret", "e2", events.SignatureHeader("old-secret", ts, body("e2")), ""},
		{"both, sender rotating", "e3", events.SignatureHeader("old-secret", ts, body("e3")) + ", " + events.SignatureHeader("new-secret", ts, body("e3")), ""},
		{"retired secret", "e4", events.SignatureHeader("retired", ts, body("e4")), events.CodeInvalidSignature},
		{"signature of another body", "e5", events.SignatureHeader("new-secret", ts, body("e1")), events.CodeInvalidSignature},
		{"not hex", "e6", "sha256=zz", events.CodeInvalidSignature},
		{"truncated", "e7", events.SignatureHeader("new-secret", ts, body("e7"))[:20], events.CodeInvalidSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := in.Receive(context.Background(), events.Signed{Merchant: "acme", Timestamp: ts, Signature: tc.sig}, body(tc.id))
			if tc.wantCode == "" {
				if err != nil || res.Status != "accepted" || res.Enqueued != 1 {
					t.Fatalf("Receive = %+v, %v; want accepted with one task", res, err)
				}
				return
			}
			var apiErr *httpapi.Error
			if !errors.As(err, &apiErr) || apiErr.Code != tc.wantCode || apiErr.Status != http.StatusUnauthorized {
				t.Fatalf("Receive error = %v, want 401 %s", err, tc.wantCode)
			}
		})
	}
}
