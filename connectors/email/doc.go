// Package email is the marketplace connector of marketplaces that relay
// buyers' messages by e-mail (Amazon's buyer-seller messaging, CDON's
// cases, or a relay a merchant describes): one account is one mailbox.
//
// Mail comes in through a Mailbox (IMAP), is parsed and classified by the
// account's profile (mailparse), and is kept in Redis as threads: one per
// buyer alias and order, or per case. The connector then serves those
// threads through the marketplace port, so that discussions mirror them
// exactly as they mirror Mirakl's, and sends agents' replies through a
// Sender (SMTP) to the buyer's relay alias, threaded.
//
// Data flows one way: Ingest writes the store from the mailbox, the
// port's reads come from the store, and Reply writes to the Sender, then
// records what it sent in the store.
package email
