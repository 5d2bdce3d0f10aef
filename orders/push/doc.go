// Package push delivers a merchant's order events to the URLs its
// integrators subscribed: each order created or changed, each action
// confirmed or refused, each status change, POSTed as signed JSON.
//
// The guarantees, and how they are kept:
//
//   - Nothing is lost while a subscriber is down. Publish appends the event
//     to an outbox per subscription and order, in Redis, before anything is
//     sent; an event leaves the outbox only once the subscriber answered
//     2xx, or when a full backlog pushes it out (counted as dropped).
//   - Per order, events arrive in the order they were published: one task
//     at a time owns an order's outbox and delivers its head, and the next
//     event goes only after the head was acknowledged. Different orders go
//     in parallel.
//   - Delivery is at least once. A POST that timed out may have been
//     received: it is sent again, with the same X-Bridge-Event-Id, which the
//     receiver dedupes on (as our intake dedupes on the event id).
//   - No worker sleeps. A failed attempt records itself and enqueues its
//     successor at the backoff's delay (asynq's ProcessIn), then ends.
//   - A subscriber that keeps failing is paused, not retried for ever: after
//     failing without a single success for PauseAfter and at least
//     PauseMinAttempts attempts. Its backlog is kept (bounded); resume
//     verifies the URL again, then delivers it.
//   - The URL is someone else's: it must be https, must resolve to public
//     addresses (checked when it is given, and again on the address
//     connected to, so a DNS answer changed later is refused too), redirects
//     are not followed, and bodies both ways are bounded. The configuration
//     switch that allows private addresses for local fakes
//     (server.allow_private_file_hosts) allows them here too, and plain http.
//
// Ownership of an order's outbox is a token in Redis (the "own" hash). A
// task carries the token it was enqueued with; a task whose token is no
// longer the owner's is stale and ends, after enqueuing the owner's task
// (a no-op unless that enqueue was lost). Task ids derive from the token,
// so enqueuing the same step twice is a conflict, not a second task.
//
// Keys: every key of one subscription shares the hash tag
// {<merchant>:<subscription>}, so each script runs in one Cluster slot;
// the merchant's index of subscriptions has the tag {<merchant>}. See
// keys.go.
package push
