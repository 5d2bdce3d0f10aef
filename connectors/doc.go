// Package connectors holds the ports the bridge's features use to talk to
// external systems (helpdesks and marketplaces), the error vocabulary
// every connector maps its vendor's failures to, and the HTTP plumbing they
// share (rate limiting, call accounting, bounded downloads, webhook
// payloads).
//
// Each external system has one package below this one, holding its client,
// its wire types and its faithful fake. Every connector of a kind passes the
// same contract suite: helpdesktest for helpdesks, marketplacetest for
// marketplaces.
package connectors
