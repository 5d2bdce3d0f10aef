// Package mailparse turns one raw e-mail into what the e-mail marketplace
// connector needs, with no I/O of its own: the transport (IMAP in, SMTP
// out) hands it bytes and acts on what it returns.
//
// It has three parts:
//   - Parse reads real-world MIME (go-message underneath) into a Message:
//     addresses, decoded subject, threading headers, the plain text (HTML
//     converted when there is no text part), that text with quoted history
//     and signatures stripped, the attachments and inline images, and the
//     raw bytes so that the connector can attach the whole original. Every
//     dimension of the work is bounded by Options; a mail past a bound is a
//     *LimitError, never a panic or unbounded memory.
//   - Classify applies a Profile, the rules of one marketplace relay kept
//     as data (Amazon, CDON, or a merchant's generic relay), and says what
//     the mail is: a buyer message with its thread key, a delivery failure
//     pointing at the thread it refers to, a mail that needs no response,
//     or unmatched (never a ticket).
//   - CheckAmazonReply says, in English and French, what in an outgoing
//     reply Amazon's relay would refuse, so that the outbound side turns a
//     refused attachment into a note instead of a bounce.
//
// Facts come from the shared marketplace reference; what it does not
// confirm is marked UNVERIFIED where it is used, with the conservative
// choice made.
package mailparse
