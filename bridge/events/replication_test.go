package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/events"
	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/bridge/rdb"
	"github.com/helpdesk-bridge/bridge/bridge/rdb/rdbtest"
	"github.com/helpdesk-bridge/bridge/config"
)

// TestEventIsAcceptedOnlyOnceOnAReplica: with a replica, 202 means the
// event's id and task are on the replica; a replica that does not answer
// (frozen) makes the intake answer 503 not_replicated with Retry-After
// within the timeout, and the sender's retry is answered 202 duplicate
// only once the first copy reached the replica, never before.
func TestEventIsAcceptedOnlyOnceOnAReplica(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, replica, mc, rc := rdbtest.StartPair(t)

	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	cfg := &config.Config{
		Redis:  config.Redis{KeyPrefix: "b:"},
		Worker: config.Worker{TaskRetention: time.Hour, MaxRetry: 3},
		Events: config.Events{ReplayWindow: 5 * time.Minute, DedupeTTL: time.Hour},
		Merchants: []config.Merchant{{ID: "acme", EventSecrets: []config.Secret{
			config.NewSecret("new-secret"),
		}}},
	}
	const timeout = 1500 * time.Millisecond // a live replica acknowledges in time on a busy machine
	in := events.New(events.Options{
		Config: cfg, Queue: asynq.NewClientFromRedisClient(mc), Redis: mc,
		Now: func() time.Time { return now }, Planners: map[string]events.Planner{"k": onePlanner{}},
		Replicas: rdb.NewReplication(mc, "b:", 0, timeout, nil, zerolog.Nop()),
		Queues:   []string{"default"},
	})
	engine := httpapi.NewEngine(zerolog.Nop(), func(c *gin.Context) { c.Next() })
	in.Register(engine)
	ts := strconv.FormatInt(now.Unix(), 10)
	post := func(id string) (int, map[string]any, http.Header) {
		b := []byte(`{"id":"` + id + `","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":{}}`)
		req := httptest.NewRequest(http.MethodPost, "/v1/events", bytes.NewReader(b))
		req.Header.Set(events.HeaderMerchant, "acme")
		req.Header.Set(events.HeaderTimestamp, ts)
		req.Header.Set(events.HeaderSignature, events.SignatureHeader("new-secret", ts, b))
		w := httptest.NewRecorder()
		engine.ServeHTTP(w, req)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out, w.Header()
	}
	onReplica := func(id string) (idKey, task bool) {
		return rc.Exists(ctx, "b:event:acme:"+id).Val() == 1, rc.Exists(ctx, "asynq:{default}:t:t:"+id).Val() == 1
	}

	// A live replica: 202 once both are there.
	if code, out, _ := post("e1"); code != http.StatusAccepted || out["status"] != "accepted" {
		t.Fatalf("e1 with a live replica = %d %v, want 202 accepted", code, out)
	}
	if idKey, task := onReplica("e1"); !idKey || !task {
		t.Fatalf("after 202, the replica has the id: %v, the task: %v; want both", idKey, task)
	}

	// A frozen replica: refused on time, the retries too.
	replica.Signal(t, syscall.SIGSTOP)
	for i := range 2 {
		start := time.Now()
		code, out, h := post("e2")
		e, _ := out["error"].(map[string]any)
		if code != http.StatusServiceUnavailable || e["code"] != events.CodeNotReplicated || h.Get("Retry-After") == "" {
			t.Fatalf("delivery %d of e2 with a frozen replica = %d %v (Retry-After %q), want 503 %s with Retry-After", i+1, code, out, h.Get("Retry-After"), events.CodeNotReplicated)
		}
		if took := time.Since(start); took > timeout+time.Second {
			t.Errorf("the 503 took %s, the timeout is %s", took, timeout)
		}
	}
	// The master has it; a duplicate answer would have been a lie.
	if mc.Exists(ctx, "b:event:acme:e2").Val() != 1 {
		t.Fatal("the master lacks e2's id")
	}

	replica.Signal(t, syscall.SIGCONT)
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, out, _ := post("e2")
		if code == http.StatusAccepted {
			if out["status"] != "duplicate" {
				t.Fatalf("the retry once the replica is back = %v, want duplicate", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retry is still refused 10 s after the replica came back: %d %v", code, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if idKey, task := onReplica("e2"); !idKey || !task {
		t.Fatalf("after the duplicate 202, the replica has the id: %v, the task: %v; want both", idKey, task)
	}
	if n := mc.LLen(ctx, "asynq:{default}:pending").Val(); n != 2 {
		t.Errorf("%d tasks pending, want 2: e1's and e2's, once each", n)
	}
}

// BenchmarkAcceptWithReplica measures what waiting for a replica adds to
// an accepted event, on loopback: go test -run '^$' -bench AcceptWith.
func BenchmarkAcceptWithReplica(b *testing.B) {
	master := rdbtest.Start(b)
	rdbtest.StartReplica(b, master)
	mc := redis.NewClient(&redis.Options{Addr: master.Addr})
	defer mc.Close()
	now := time.Now()
	cfg := &config.Config{
		Worker: config.Worker{TaskRetention: time.Hour, MaxRetry: 3},
		Events: config.Events{ReplayWindow: 5 * time.Minute, DedupeTTL: time.Hour},
		Merchants: []config.Merchant{{ID: "acme", EventSecrets: []config.Secret{
			config.NewSecret("new-secret"),
		}}},
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	for _, wait := range []bool{false, true} {
		opts := events.Options{
			Config: cfg, Queue: asynq.NewClientFromRedisClient(mc), Redis: mc,
			Now: func() time.Time { return now }, Planners: map[string]events.Planner{"k": onePlanner{}},
		}
		name := "master only"
		if wait {
			opts.Replicas = rdb.NewReplication(mc, "", 0, time.Second, nil, zerolog.Nop())
			name = "wait for replica"
		}
		in := events.New(opts)
		b.Run(name, func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				body := []byte(`{"id":"` + name + strconv.Itoa(i) + `","kind":"k","occurred_at":"2026-11-23T11:59:00Z","data":{}}`)
				if _, err := in.Receive(context.Background(), events.Signed{Merchant: "acme", Timestamp: ts, Signature: events.SignatureHeader("new-secret", ts, body)}, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
