package discussions

import (
	"testing"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors"
)

// A thread listed again unchanged gets its mirror task's id again (the
// enqueue is a no-op), but a new message makes another one, even when the
// marketplace dates it to the same minute as the last (Rakuten): the
// previous version's task, kept done, must not swallow it.
func TestMirrorTaskIDNamesTheThreadsVersion(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 10, 5, 0, 0, time.UTC)
	thread := func(ids ...string) connectors.Thread {
		th := connectors.Thread{ID: "item-1/buyer", UpdatedAt: at}
		for _, id := range ids {
			th.Messages = append(th.Messages, connectors.ThreadMessage{ID: id})
		}
		return th
	}
	id := func(th connectors.Thread) string {
		return mirrorTaskID(MirrorPayload{Merchant: "acme", Account: "rakuten-fr", Thread: th})
	}
	one, again, two := id(thread("m1")), id(thread("m1")), id(thread("m1", "m2"))
	if one != again {
		t.Errorf("the same version of a thread got two task ids: %s, %s", one, again)
	}
	if one == two {
		t.Error("a new message dated to the same minute got the previous version's task id")
	}
}
