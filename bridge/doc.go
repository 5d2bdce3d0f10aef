// Package bridge is the service core that the features (alerts, widgets,
// discussion mirroring) plug into. Its subpackages each hold one idea: the
// Redis connection (rdb), the shared rate limiter (ratelimit), metrics
// (telemetry), the HTTP shell and its error shape (httpapi), the signed
// event intake (events), the Asynq worker plumbing and scheduler (jobs),
// the durable dead-letter list (deadletter), the uncertain-write ledger
// (settle) and where the features' syncs of external accounts got to
// (syncstate).
package bridge
