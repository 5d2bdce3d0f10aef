package main

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/helpdesk-bridge/bridge/bridge/events"
)

func TestClassifyMonitorLine(t *testing.T) {
	for _, c := range []struct {
		line, family, tag string
	}{
		{`1712345678.123456 [0 127.0.0.1:50312] "evalsha" "1f0e3d" "2" "asynq:{alerts-2}:t:abc" "asynq:{alerts-2}:pending" "x"`, "asynq:{…}:t", "asynq:{alerts-2}"},
		{`1712345678.123456 [0 lua] "RPOPLPUSH" "asynq:{widgets}:pending" "asynq:{widgets}:active"`, "asynq:{…}:pending", "asynq:{widgets}"},
		{`1712345678.123456 [0 127.0.0.1:50312] "get" "w:{merchant-03}:o:merchant-03-fr:FR-1"`, "w:{…}:o", "w:{merchant-03}"},
		{`1712345678.123456 [0 127.0.0.1:50312] "set" "event:merchant-03:evt-1" "d" "PX" "100"`, "event:…", ""},
		{`1712345678.123456 [0 127.0.0.1:50312] "zadd" "asynq:servers" "1" "x"`, "asynq:servers", "asynq:servers"},
		{`1712345678.123456 [0 127.0.0.1:50312] "eval" "return 1" "0"`, "EVAL", ""},
		{`1712345678.123456 [0 127.0.0.1:50312] "wait" "1" "1000"`, "WAIT", ""},
		{`1712345678.123456 [0 127.0.0.1:50312] "MEMORY" "USAGE" "asynq:{default}:t:1"`, "asynq:{…}:t", "asynq:{default}"},
		{`1712345678.123456 [0 127.0.0.1:50312] "get" "ratelimit:{acme \"x\"}:served"`, "ratelimit:{…}:served", `ratelimit:{acme "x"}`},
		{`1712345678.123456 [0 127.0.0.1:50312] "get" "\xe9t\xe9:{a}"`, "\xe9t\xe9:{…}", "\xe9t\xe9:{a}"},
	} {
		family, tag, ok := classifyMonitorLine(c.line)
		if !ok || family != c.family || tag != c.tag {
			t.Errorf("%s: family %q, tag %q, %v; want %q, %q", c.line, family, tag, ok, c.family, c.tag)
		}
	}
	for _, line := range []string{"", "+OK", `1712345678.123456 [0 127.0.0.1:50312]`} {
		if _, _, ok := classifyMonitorLine(line); ok {
			t.Errorf("%q was classified", line)
		}
	}
}

// weave keeps each stream's order and spreads every stream over the whole.
func TestWeave(t *testing.T) {
	ev := func(s string) signedEvent { return signedEvent{body: []byte(s)} }
	long := []signedEvent{ev("a1"), ev("a2"), ev("a3"), ev("a4")}
	short := []signedEvent{ev("b1"), ev("b2")}
	var got []string
	for _, e := range weave([][]signedEvent{long, short}) {
		got = append(got, string(e.body))
	}
	if want := []string{"a1", "b1", "a2", "a3", "b2", "a4"}; !slices.Equal(got, want) {
		t.Errorf("woven %q, want %q", got, want)
	}
}

// forMerchant moves an event to another merchant's store, signed again.
func TestForMerchant(t *testing.T) {
	ev := newEvents("x", 1, "s1")[0]
	moved, err := forMerchant(ev, "merchant-02", "merchant-02-fr", "s2")
	if err != nil {
		t.Fatal(err)
	}
	var env events.Event
	var data map[string]any
	if err := json.Unmarshal(moved.body, &env); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(env.Data, &data); err != nil {
		t.Fatal(err)
	}
	if moved.merchant != "merchant-02" || data["store"] != "merchant-02-fr" || env.ID != "evt-x-0" {
		t.Errorf("moved to %q, store %v, id %q", moved.merchant, data["store"], env.ID)
	}
	if moved.signature != events.SignatureHeader("s2", moved.timestamp, moved.body) {
		t.Error("not signed with the merchant's secret")
	}
}
