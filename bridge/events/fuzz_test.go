package events_test

import (
	"context"
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

// noPlanner accepts every event and plans nothing, so that fuzzing
// enqueues no task.
type noPlanner struct{}

func (noPlanner) Plan(context.Context, events.Event) ([]*asynq.Task, error) { return nil, nil }

// FuzzReceive: whatever the headers and the body, the intake answers a
// client error (401 unless signed with the merchant's secret, then 400,
// 409, 413 or 422) or accepts; it accepts only signed events, and never
// panics.
func FuzzReceive(f *testing.F) {
	rdb := rdbtest.Client(f, 3)
	cfg := &config.Config{
		Worker:    config.Worker{TaskRetention: time.Hour, MaxRetry: 3},
		Events:    config.Events{ReplayWindow: 5 * time.Minute, DedupeTTL: time.Minute},
		Merchants: []config.Merchant{{ID: "acme", EventSecrets: []config.Secret{config.NewSecret("fuzz-event-secret-0123456789")}}},
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	in := events.New(events.Options{
		Config: cfg, Queue: asynq.NewClientFromRedisClient(rdb), Redis: rdb,
		Now: func() time.Time { return now }, Planners: map[string]events.Planner{"k": noPlanner{}},
	})
	for _, body := range []string{
		`{"id":"e1","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":{}}`,
		`{"id":"e2","kind":"unknown","occurred_at":"2026-11-23T11:59:00Z","data":{}}`,
		`{"id":"","kind":"k","data":null}`,
		`{"id":"e3","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":{"a":[1,2,{"b":"c"}]},"extra":1}`,
		`{`, ``, `[]`,
	} {
		f.Add("acme", int64(0), []byte(body), true, "")
		f.Add("acme", int64(0), []byte(body), false, "sha256=00")
	}
	f.Add("acme", int64(-600), []byte(`{}`), true, "")
	f.Add("", int64(0), []byte(`{}`), true, "")
	f.Fuzz(func(t *testing.T, merchant string, skew int64, body []byte, sign bool, sig string) {
		ts := strconv.FormatInt(now.Unix()+skew, 10)
		if sign {
			sig = events.SignatureHeader("fuzz-event-secret-0123456789", ts, body)
		}
		res, err := in.Receive(context.Background(), events.Signed{Merchant: merchant, Timestamp: ts, Signature: sig}, body)
		if err == nil {
			if merchant != "acme" || !sign && sig != events.SignatureHeader("fuzz-event-secret-0123456789", ts, body) {
				t.Fatalf("accepted an event not signed with the merchant's secret: %+v", res)
			}
			if res.Status != "accepted" && res.Status != "duplicate" {
				t.Fatalf("result %+v", res)
			}
			return
		}
		// What the HTTP layer answers for it.
		apiErr := httpapi.AsError(err)
		switch apiErr.Status {
		case http.StatusUnauthorized, http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("Receive answered %d %s: %v", apiErr.Status, apiErr.Code, err)
		}
		if apiErr.Code == "" {
			t.Fatalf("an error without a code: %v", err)
		}
	})
}
