// Package zendeskfake is a faithful in-memory fake of one Zendesk Support
// account (one subdomain), for the connector's tests and for the
// `bridge demo` command. It serves the part of the Ticketing API the bridge
// uses and enforces the rules a real account enforces, so that a connector
// that passes against it does not meet them for the first time in
// production.
//
// What it relies on (developer.zendesk.com unless said otherwise):
//   - Auth: Basic auth as {email}/token:{api_token}; a refusal is 401
//     {"error":"Couldn't authenticate you"}.
//   - Requests: JSON only; Content-Type: application/json on bodies; 201
//     with a Location header on create, 200 on show and update, 204 on
//     delete; paths work with and without the ".json" suffix.
//   - Errors: {"error","description","details"} with details keyed by field
//     ("base" for the whole record); 422 RecordInvalid for validation,
//     404 RecordNotFound for an unknown record, 404 InvalidEndpoint for an
//     unknown route.
//   - Tickets: POST /api/v2/tickets with {"ticket":{...}} and an inline
//     requester (found by email, or created) or a requester_id, not both;
//     the first comment becomes the description, and a create without a
//     comment body is refused ("Description: cannot be blank").
//     GET /api/v2/tickets?external_id= lists every match: external ids are
//     not unique. Deleted tickets are neither listed nor shown.
//   - The author of a new ticket's first comment is the authenticated user
//     (the API agent) unless comment.author_id names another ("Creating and
//     updating tickets": "By default, the first comment author is the
//     authenticated user making the API request"), even when the requester
//     is someone else.
//   - Create Or Update User (POST /api/v2/users/create_or_update, {"user":
//     {"name", "email"}}) finds the user by email and sets the name sent
//     (200), or creates an end user (201); a new user needs a name (422).
//   - Comments are added with PUT /api/v2/tickets/{id} {"ticket":{"comment":
//     {...}}}; public=false is an internal note; when public is absent the
//     value set at creation carries over; author_id sets the author; a
//     ticket holds at most 5000 comments, then 422. A closed ticket cannot
//     be updated (422 "Status: closed prevents ticket update").
//   - Status is one of new, open, pending, hold, solved, closed; priority
//     one of urgent, high, normal, low; type one of problem, incident,
//     question, task (each else 422 RecordInvalid naming it).
//   - Tags: GET lists, POST sets (replaces), PUT adds, DELETE removes
//     (/api/v2/tickets/{id}/tags; the official OpenAPI names POST
//     SetTagsTicket); they refuse closed tickets.
//   - Side-loading: ?include=users adds the requesters as "users".
//   - Rate limits: X-Rate-Limit and X-Rate-Limit-Remaining on responses,
//     429 with Retry-After in seconds when over. Per minute per account:
//     Team 200, Growth and Professional 400, Enterprise 700, High Volume
//     2500; Update Ticket on its own 100 per minute per account.
//   - Idempotency-Key on ticket creation answers x-idempotency-lookup:
//     miss on first use and hit on a replay, which returns the first
//     answer and creates nothing; the same key with other parameters is a
//     400 IdempotentRequestError "Request parameters don't match the given
//     idempotency key" (error name and status as the official
//     zendesk-java-client handles them; the 2-hour key lifetime comes from
//     secondary summaries of the docs).
//   - Upload Files (Attachments reference; "Adding ticket attachments with
//     the API"): POST /api/v2/uploads?filename=[&token=], the file's bytes
//     as the body and its type as Content-Type, 201 with {"upload":
//     {"token", "attachment", "attachments"}}; a token given adds the file
//     to that upload; a comment attaches the files of the tokens in its
//     uploads; a token lives 60 minutes (Zendesk's help article). Each
//     attachment has a content_url on the account's host, in Zendesk's
//     /attachments/token/{token}/?name= form.
//   - Ticket metadata (Tickets reference, write only) lands in the custom
//     metadata of the update's audit; GET /api/v2/tickets/{id}/audits lists
//     audits with their metadata and Comment events (id = comment id).
//   - List Comments side-loads the authors with ?include=users, and shows
//     each comment's attachments.
//   - Webhooks (Webhooks reference, "Verifying"): a call carries
//     X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp +
//     body)), X-Zendesk-Webhook-Signature-Timestamp (RFC 3339, as in the
//     examples), X-Zendesk-Webhook-Id and X-Zendesk-Webhook-Invocation-Id.
//     Options.Webhooks stand for webhooks called by the bridge's trigger
//     (zendesk.Trigger): they fire when an agent adds a public comment
//     other than through the API, which only the fake-only route POST
//     /_fake/tickets/{id}/agent-reply does (comment, files, status as
//     "submit as solved"); triggers run after the update, so the body's
//     placeholders ({{ticket.id}}, {{ticket.status}} as its display name,
//     {{ticket.external_id}}, {{ticket.title}}, {{current_user.name}},
//     {{current_user.email}}) render the new state. Webhook.Twice or the
//     reply's deliver_twice delivers an invocation twice, same invocation
//     id, as Zendesk may.
//
// UNVERIFIED, and the stricter choice made here:
//   - The rate-limit algorithm: a sliding 60-second window. Retry-After is
//     the whole seconds until the oldest counted request leaves it.
//   - Whether failed attempts count against the limit: refused requests
//     (401, 429) do not count, everything admitted does.
//   - Which requests count against Update Ticket's own limit: only
//     PUT /api/v2/tickets/{id}, the endpoint the docs name; the Tags
//     endpoints count against the account's limit only.
//   - How an idempotency key compares bodies: byte for byte. Whether error
//     answers are kept under a key: they are (a 422 replays as a 422).
//   - The order of List Tickets: newest first, so that a client taking
//     the first match instead of the oldest is caught.
//   - A deleted ticket: Show Ticket answers 404, and Tickets() reports it
//     with status "deleted" as the incremental export does.
//   - Set Tags with an empty or missing list is refused (400); clear tags
//     with Update Ticket instead.
//   - The request size limit (1 MiB by default, then 413) and a comment
//     without a body on update (422).
//   - The wording of the answers the fake makes up: the 400s for a
//     malformed body, a missing envelope or another Content-Type; the 429
//     body; the descriptions of the 5000-comment, requester-and-
//     requester_id and external_id-length refusals.
//   - Whether html_body or body wins when both are sent: both are stored as
//     sent; plain_body is the body, or the HTML with its tags stripped.
//   - Attachments need the agent's credentials by default (as with private
//     attachments on); Options.PublicAttachments serves them to anyone
//     with the URL. Downloads are not rate-limited.
//   - The upload limit (50 MB from secondary sources, configurable), an
//     empty file (422), a missing filename (400), an unknown token on
//     upload (404), and a comment naming an unknown, used or expired token
//     (422 on uploads; Zendesk may instead ignore it). A token is used once.
//   - Whether List Comments shows the audit's custom metadata on comments:
//     the fake does not, so that a client relying on it fails here.
//   - The audits the fake lists: one per comment-adding update only.
//   - Unknown placeholders render empty; placeholders are pasted into the
//     body unescaped.
//   - Each delivery attempt is signed with a fresh timestamp.
package zendeskfake
