// Package bridge is the service core that the features (alerts, widgets,
// discussion mirroring) plug into. Its subpackages each hold one idea: the
// Redis connection (rdb), the shared rate limiter (ratelimit), metrics
// (telemetry), the HTTP shell and its error shape (httpapi), the signed
// event intake (events), the Asynq worker plumbing and scheduler (jobs) and
// the durable dead-letter list (deadletter).
package bridge
