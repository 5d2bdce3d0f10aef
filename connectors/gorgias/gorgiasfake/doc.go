// Package gorgiasfake is a faithful, in-memory fake of the part of the
// Gorgias REST API the bridge uses. It is an http.Handler, so it runs under
// httptest in tests and as a real server in the demo, and it refuses what
// the real API refuses so that a connector passing against it has a good
// chance of passing against Gorgias.
//
// What it relies on (developers.gorgias.com, read as archived copies):
//   - Auth: HTTP Basic with a user's email and API key; 401 otherwise.
//   - Rate limits (reference/limitations): a leaky bucket per account, 40
//     requests per 20 s for API keys (Enterprise: a 10 s window); a 429
//     past it; every answer carries X-Gorgias-Account-Api-Call-Limit
//     ("used/capacity") and, on 429, Retry-After in seconds.
//   - Create a ticket: messages required, 1 to 500 items, each with
//     channel, via and from_agent; via from a fixed set; external_id at
//     most 255 characters on tickets and messages.
//   - Create a message: sent_datetime set means imported, not sent;
//     internal-note is never sent; an incoming message has from_agent
//     false, a customer sender and no receiver.
//   - List tickets: filters external_id and trashed (default TRUE: trashed
//     tickets are listed unless trashed=false), limit default 30 and at
//     most 100, order_by default created_datetime:desc, cursor pagination
//     answering {data, meta:{prev_cursor, next_cursor}}.
//   - Errors: 400 for missing, invalid or unknown parameters ("read the
//     error attribute"), 404 for an unknown resource, 409 for an
//     identifier already in use, 413 for a payload too large.
//   - Tags: PUT /api/tickets/{id}/tags replaces a ticket's tags by id
//     (public integration code sends ids); GET and POST /api/tags list and
//     create tags, names being case sensitive and at most 256 characters.
//   - Datetimes are written naive, in UTC, with microseconds.
//   - Upload files (reference/upload-files, secondary copy): POST
//     /api/upload, multipart/form-data, one file a part (a part without a
//     file name is labelled by its field name), type attachment (private,
//     the default), public_attachment, profile_picture or widget_picture;
//     201 with a list of file objects {url, name, size, content_type}.
//   - List messages (reference/list-messages): GET /api/messages with
//     ticket_id, cursor, limit (1 to 100, default 30) and order_by
//     (default created_datetime:desc); the message object carries public
//     (false on internal notes) as in Gorgias's own webhook example.
//   - HTTP integrations: the fake calls each integration subscribed to
//     ticket-message-created (either spelling of the trigger) whenever a
//     message is added to an existing ticket, through the API (in the
//     background, as Gorgias does) or by an agent through the fake-only
//     route POST /_fake/tickets/{id}/agent-reply (before it answers). The
//     URL and each form value are rendered with {{...}} variables
//     (ticket.id, ticket.status, ticket.external_id, ticket.channel,
//     ticket.customer.*, message.id, message.channel, message.via,
//     message.from_agent, message.public, message.external_id,
//     event.type), booleans as Python's True/False, and sent as JSON or
//     form-encoded per request_content_type, with the integration's
//     headers. Options.DuplicateDeliveries (or the reply's deliver_twice)
//     sends every call twice, as a Gorgias retry would.
//
// UNVERIFIED, and where the fake is therefore stricter than Gorgias may be:
//   - The error body's shape: the fake answers {"error":{"msg","data"}}.
//   - Replacing tags by name: the fake accepts only ids on PUT tags.
//   - Creating a tag whose name exists: the fake answers 409.
//   - A sender on every message, and an internal note's sender being one of
//     the account's users.
//   - A top-level via on ticket creation (one secondary source marks it
//     required).
//   - A body (text, HTML or attachments) on every message.
//   - trashed and other booleans: only "true" and "false" are accepted.
//   - The request size limit (1 MiB by default; configurable).
//   - Unknown query parameters and body fields are refused with 400, as the
//     reference says for unknown parameters; public on a created message
//     too (it is in answers, not among a create's fields).
//   - An upload size limit (10 MiB by default; configurable) and a
//     refused empty file.
//   - Where files are served: private ones at {base}/api/attachments/...
//     behind the API's auth, bucket and faults; public ones at
//     {base}/public-files/... to anyone. Real file URLs may be on another
//     host.
//   - Whether ticket creation fires ticket-message-created for its first
//     messages: the fake does not (ticket-created stands for it).
//   - The template variables beyond {{ticket.id}}, the rendering of
//     booleans, unknown variables rendering empty, and the order of an
//     agent's "send & close": the fake applies the status first, so the
//     integration sees the closed ticket.
//   - An agent reply's channel (the ticket's) and via ("helpdesk").
package gorgiasfake
