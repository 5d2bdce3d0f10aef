// Package amazonfake is a fake of the parts of Amazon's Selling Partner API
// (SP-API) that the bridge's Amazon orders connector calls: the Login with
// Amazon (LWA) token endpoint, the Tokens API's createRestrictedDataToken,
// and the Orders API v0's getOrders, getOrder and getOrderItems, for one
// selling partner (one seller account) in one region.
//
// Every rule it enforces, with its source. "Spec" is Amazon's own Swagger
// model, models/orders-api-model/ordersV0.json (and
// models/tokens-api-model/tokens_2021-03-01.json) in
// amzn/selling-partner-api-models; "docs" is developer-docs.amazon.com/sp-api.
// A rule marked UNVERIFIED is not stated by those sources: the fake takes
// the stricter reading, so that a client that passes against it also
// passes against Amazon.
//
// LWA (POST /auth/o2/token):
//   - grant_type=refresh_token with refresh_token, client_id and
//     client_secret, form-encoded (Amazon's JavaScript and Python
//     selling-partner-api-aa clients) or as JSON (the Java client). Answers
//     {access_token, token_type:"bearer", expires_in, refresh_token}.
//   - Errors are {error, error_description} with OAuth 2's codes (the same
//     clients): a missing field is 400 invalid_request, an unknown client
//     or a wrong secret is 401 invalid_client (RFC 6749 §5.2), an unknown
//     or revoked refresh token is 400 invalid_grant, another grant type is
//     400 unsupported_grant_type. Status codes: UNVERIFIED (RFC 6749's).
//   - Access tokens live Options.AccessTokenTTL (default 3600 s: the
//     clients' own default when expires_in is absent is 1800 s, Python;
//     Amazon answers 3600, UNVERIFIED here) and look like "Atza|…".
//
// Authentication of SP-API calls:
//   - The token travels in x-amz-access-token (docs, "Connecting to the
//     SP-API"). A missing, unknown or expired token is 403 with code
//     "Unauthorized", message "Access to requested resource is denied."
//     (spec: 403 "Access Denied, Unauthorized, Expired Token"; body and
//     details as quoted in amzn/selling-partner-api-docs issues #2147 and
//     #2336, and models issue #4122 for 403 rather than 401). The details
//     for an expired token ("The access token you provided has expired.")
//     are UNVERIFIED.
//   - A 403 carries x-amzn-RequestId but no x-amzn-RateLimit-Limit, and
//     costs no rate token (spec's response headers: 403 has none).
//
// Restricted data (Tokens API, POST /tokens/2021-03-01/restrictedDataToken):
//   - Body {restrictedResources:[{method, path, dataElements}]}, at most 50
//     (spec). Answers {restrictedDataToken:"Atz.sprdt|…", expiresIn:3600}.
//   - An RDT is used in place of the access token (spec) and covers only
//     the method and path it names: "/orders/v0/orders" for getOrders,
//     "/orders/v0/orders/{id}" with a real id for getOrder (spec's path
//     examples). Using it elsewhere is 403: UNVERIFIED, strict.
//   - buyerInfo needs a restricted role (Tax Invoicing or Tax Remittance,
//     per Amazon's developer support in models issue #4536). Without
//     Options.RestrictedRole the request is refused with "Application does
//     not have access to one or more requested data elements" (models
//     issue #1723); its status (403 here) is UNVERIFIED.
//   - BuyerInfo (BuyerEmail, BuyerName) is in getOrders and getOrder
//     answers only when the call was made with an RDT covering buyerInfo
//     (spec: "BuyerInfo contains restricted data. Use the Restricted Data
//     Token"; models issues #170, #4536). Otherwise the fake omits
//     BuyerInfo entirely: whether Amazon sends an empty object is
//     UNVERIFIED, and a client must cope with both. BuyerEmail is given
//     only for Unshipped, PartiallyShipped and Shipped orders (#4536;
//     InvoiceUnconfirmed, all shipped, is included too: UNVERIFIED).
//
// getOrders (GET /orders/v0/orders), from the spec:
//   - MarketplaceIds is required, at most 50 (comma-separated as the SDKs
//     send arrays; repeated parameters are accepted too), and must be
//     among the seller's marketplaces (UNVERIFIED: 400 InvalidInput).
//   - Exactly one of CreatedAfter or LastUpdatedAfter; CreatedBefore only
//     with CreatedAfter, LastUpdatedBefore only with LastUpdatedAfter; a
//     "Before" is at or after its "After" and at least two minutes before
//     now. Dates are ISO 8601 (the fake takes RFC 3339, with or without
//     fractional seconds, and a Z or an offset).
//   - MaxResultsPerPage is 1–100, default 100.
//   - Errors are {"errors":[{code, message, details}]} with code
//     "InvalidInput" (400), as in the spec's examples.
//   - NextToken pages through: with it, MarketplaceIds is still required
//     and the filters are the first request's ("NextToken doesn't affect
//     any filters"); dates sent again must be the same ones, else 400
//     (UNVERIFIED, strict). A token is bound to the listing it came from;
//     an unknown one is 400 InvalidInput (UNVERIFIED).
//   - Without a "Before", the listing stops Options.ListingDelay before now
//     (default two minutes, UNVERIFIED: mirrors the two-minute rule) and
//     says so in the payload's LastUpdatedBefore or CreatedBefore.
//   - Order within a listing is undocumented: the fake sorts by the
//     filtered date, then id, and a listing is a snapshot of the ids that
//     matched at its first page (UNVERIFIED); pages show the orders as they
//     are when read.
//
// getOrder and getOrderItems: unknown order is 404 with code "NotFound"
// (UNVERIFIED code). getOrderItems pages with NextToken
// (Options.ItemsPageSize, default 100: UNVERIFIED) and, for a Pending
// order, leaves out prices and taxes (spec, getOrderItems note).
//
// Rate limits (spec's usage-plan tables; docs "Usage Plans and Rate
// Limits": token bucket, refilled at the rate up to the burst, one token
// per request): getOrders 0.0167/s burst 20, getOrder 0.5/s burst 30,
// getOrderItems 0.5/s burst 30, createRestrictedDataToken 1/s burst 10.
// Over it, 429 with {"errors":[{"code":"QuotaExceeded","message":"You
// exceeded your quota for the requested resource.","details":""}]} (models
// issues #418, #1176) and x-amzn-RequestId only: the spec lists no
// x-amzn-RateLimit-Limit on a 429, and nothing documents Retry-After.
// 200, 400 and 404 answers carry x-amzn-RateLimit-Limit with the rate
// (spec's headers), so 400s and 404s cost a token too. Options.Rates
// overrides a plan (a seller with a higher plan, or a test).
//
// Fault injection uses connectors/fault, behind authentication and the
// rate limit, so that an injected failure looks like Amazon failing on a
// request it had accepted. Orders are seeded with PutOrder and moved with
// SetStatus; nothing is sent to the fake over HTTP but what Amazon takes.
package amazonfake
