// Package connectors holds the ports the bridge's features use to talk to
// external systems (helpdesks now, marketplaces later), the error vocabulary
// every connector maps its vendor's failures to, and the HTTP plumbing they
// share (rate limiting and call accounting).
//
// Each external system has one package below this one, holding its client,
// its wire types and its faithful fake. Every connector of a kind passes the
// same contract suite (helpdesktest for helpdesks).
package connectors
