package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/helpdesk-bridge/bridge/alerts"
	"github.com/helpdesk-bridge/bridge/bridge/events"
)

// signedEvent is a body and its headers, prepared before the clock starts
// so that the senders measure the bridge and not themselves.
type signedEvent struct {
	body      []byte
	timestamp string
	signature string
	merchant  string // the merchant it is posted as; empty for the bench's one
}

// newEvents returns n order.action_required events with distinct ids and
// orders, signed with secret.
func newEvents(prefix string, n int, secret string) []signedEvent {
	now := time.Now()
	stamp := strconv.FormatInt(now.Unix(), 10)
	out := make([]signedEvent, n)
	for i := range out {
		data, _ := json.Marshal(alerts.ActionRequired{
			OrderID: fmt.Sprintf("ORD-%s-%d", prefix, i),
			Store:   benchStore,
			Buyer:   alerts.Buyer{Name: "Bench Buyer", Email: "buyer@bench.example"},
			Reason:  alerts.ReasonInvalidAddress,
			Details: "The postcode 7500 does not exist",
			Order: &alerts.OrderDetails{Marketplace: "carrefour", Total: "49.90", Currency: "EUR",
				Lines: []alerts.OrderLine{{SKU: "MUG-01", Name: "Blue mug", Quantity: 2}}},
		})
		body, _ := json.Marshal(events.Event{
			ID: fmt.Sprintf("evt-%s-%d", prefix, i), Kind: alerts.KindActionRequired, OccurredAt: now.UTC(), Data: data,
		})
		out[i] = signedEvent{body: body, timestamp: stamp, signature: events.SignatureHeader(secret, stamp, body)}
	}
	return out
}

// postResult is when posting began and ended, and each POST's latency.
type postResult struct {
	start, end time.Time
	latencies  []time.Duration
}

// postAll posts every event with the given number of senders and stops at
// the first refusal: a refused event would never become a ticket.
func postAll(ctx context.Context, baseURL string, evs []signedEvent, senders int) (postResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: senders, MaxConnsPerHost: senders},
	}
	defer client.CloseIdleConnections()

	next := make(chan int)
	latencies := make([]time.Duration, len(evs))
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	res := postResult{start: time.Now()}
	for range senders {
		wg.Go(func() {
			for i := range next {
				d, err := post(ctx, client, baseURL, evs[i])
				if err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
				latencies[i] = d
			}
		})
	}
feed:
	for i := range evs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	res.end = time.Now()
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.latencies = latencies
	return res, nil
}

func post(ctx context.Context, client *http.Client, baseURL string, ev signedEvent) (time.Duration, error) {
	req, err := eventRequest(ctx, baseURL, ev)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("POST /v1/events: %w", err)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	elapsed := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("POST /v1/events: %w", err)
	}
	var res events.Result
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal(raw, &res) != nil || res.Status != "accepted" || res.Enqueued != 1 {
		return 0, fmt.Errorf("POST /v1/events: %d %s, want 202 accepted with one task enqueued", resp.StatusCode, bytes.TrimSpace(raw))
	}
	return elapsed, nil
}

// eventRequest is the signed POST of one event.
func eventRequest(ctx context.Context, baseURL string, ev signedEvent) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/events", bytes.NewReader(ev.body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(events.HeaderMerchant, cmp.Or(ev.merchant, benchMerchant))
	req.Header.Set(events.HeaderTimestamp, ev.timestamp)
	req.Header.Set(events.HeaderSignature, ev.signature)
	return req, nil
}

// signEvent wraps data in an event envelope and signs it with secret.
func signEvent(id, kind string, occurred time.Time, data any, secret string) (signedEvent, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return signedEvent{}, fmt.Errorf("event %s: %w", id, err)
	}
	body, err := json.Marshal(events.Event{ID: id, Kind: kind, OccurredAt: occurred.UTC(), Data: raw})
	if err != nil {
		return signedEvent{}, fmt.Errorf("event %s: %w", id, err)
	}
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	return signedEvent{body: body, timestamp: stamp, signature: events.SignatureHeader(secret, stamp, body)}, nil
}
