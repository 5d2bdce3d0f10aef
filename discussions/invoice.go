package discussions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/invoices"
)

// Invoicer issues an order's invoice, or returns the one it has: the same
// invoice and number however often it is asked, and its PDF.
type Invoicer interface {
	Invoice(ctx context.Context, merchant, store, orderID string, opt invoices.Options) (*invoices.Invoice, []byte, error)
}

// invoiceUploader is a marketplace that keeps documents on its orders,
// where the buyer sees the invoice (Mirakl: OR72 and OR74).
type invoiceUploader interface {
	// HasInvoice tells whether the order carries an invoice already.
	HasInvoice(ctx context.Context, orderID string) (bool, error)
	// UploadInvoice attaches the PDF to the order. It fails with
	// connectors.ErrUncertain when the upload may have happened.
	UploadInvoice(ctx context.Context, orderID, fileName string, pdf []byte) error
}

// invoiceLine is the documented way for an agent to send the thread's
// order's invoice with a reply: a line "Invoice: attach" (or, for
// French-speaking teams, "Facture : joindre") at the start, before or
// after a "To:" line (see leadingCommands), removed from the text sent.
var invoiceLine = regexp.MustCompile(`(?i)^\s*(?:invoice\s*:\s*attach|facture\s*:\s*joindre)\s*$`)

// invoiceFile issues (or reuses) the thread's order's invoice and returns
// it as a file for the reply, or why it cannot go with it.
func (s *Service) invoiceFile(ctx context.Context, a *account, d *Discussion, caps connectors.MarketplaceCapabilities) (connectors.ReplyFile, *invoices.Invoice, *refusal, error) {
	switch {
	case s.o.Invoicer == nil:
		return connectors.ReplyFile{}, nil, &refusal{kind: refusedNoInvoices}, nil
	case d.Type != connectors.EntityOrder || d.EntityID == "":
		return connectors.ReplyFile{}, nil, &refusal{kind: refusedInvoiceNoOrder}, nil
	case !caps.Attachments:
		return connectors.ReplyFile{}, nil, &refusal{kind: refusedInvoiceNoFiles}, nil
	}
	inv, pdf, err := s.o.Invoicer.Invoice(ctx, d.Merchant, a.cfg.Store, d.EntityID, invoices.Options{})
	if err != nil {
		if retryableInvoiceError(err) {
			return connectors.ReplyFile{}, nil, nil, fmt.Errorf("discussions: the invoice of order %s: %w", d.EntityID, err)
		}
		return connectors.ReplyFile{}, nil, &refusal{kind: refusedInvoiceFailed, detail: err.Error()}, nil
	}
	if limit := cmp.Or(caps.MaxFileBytes, s.o.MaxReplyFile); int64(len(pdf)) > limit {
		return connectors.ReplyFile{}, nil, &refusal{kind: refusedInvoiceTooLarge,
			detail: fmt.Sprintf("the invoice %s is %d bytes; the marketplace takes files of at most %d", inv.Number, len(pdf), limit)}, nil
	}
	return connectors.ReplyFile{Name: invoiceFileName(inv), ContentType: "application/pdf", Content: pdf}, inv, nil, nil
}

// retryableInvoiceError tells an invoice that could not be made now (Redis
// or the network failing, a busy series) from one that cannot be made
// (an unknown order, invalid settings): the first retries the task, the
// second is explained to the agent.
func retryableInvoiceError(err error) bool {
	var netErr net.Error
	var redisErr redis.Error
	switch {
	case errors.Is(err, invoices.ErrBusy), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, redis.ErrClosed),
		connectors.IsRetryable(err), errors.As(err, &netErr), errors.As(err, &redisErr):
		return true
	}
	return false
}

// invoiceFileName names the invoice's file in US-ASCII, as Mirakl's OR74
// wants: the document's word in its language and its number.
func invoiceFileName(inv *invoices.Invoice) string {
	word := "invoice"
	if inv.Language == "fr" {
		word = "facture"
	}
	number := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '-'
	}, inv.Number)
	return word + "-" + number + ".pdf"
}

// An order's invoice upload is claimed in Redis, at invup:{account}:{order},
// so that one order gets one upload however many replies, tasks and
// replicas attach its invoice:
//
//	up <ms> <number>    an upload started (or was found uncertain) at ms
//	done <number>       the order carries the invoice
//	refused <number>    the marketplace refused it; the agent was told
//
// An "up" claim older than the account's settle delay belongs to an
// upload that crashed or got no answer: the order's documents are read
// (OR72) before anyone uploads again, and only one taker replaces it.
const invoiceClaimTTL = 90 * 24 * time.Hour

// claimScript takes the claim when nobody holds it, and returns what is
// there.
var claimScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then return cur end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ''
`)

// swapScript replaces the claim only if it is still what the caller read
// ("" as the new value deletes it).
var swapScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`)

func (s *Service) invoiceClaimKey(merchant, account, orderID string) string {
	return s.o.Store.key(merchant, "invup", account, orderID)
}

// swapClaim replaces the claim from old to new, reporting whether it still
// held old.
func (s *Service) swapClaim(ctx context.Context, key, old, new string) (bool, error) {
	n, err := swapScript.Run(ctx, s.o.Store.rdb, []string{key}, old, new, invoiceClaimTTL.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("discussions: the invoice upload's claim: %w", err)
	}
	return n == 1, nil
}

// uploadInvoice attaches the invoice to its order on the marketplace,
// where it keeps order documents, once per order. A refusal is noted on
// the ticket and does not hold the reply back.
func (s *Service) uploadInvoice(ctx context.Context, a *account, d *Discussion, m connectors.TicketMessage, inv *invoices.Invoice, pdf []byte) error {
	up, ok := a.mp.(invoiceUploader)
	if !ok {
		return nil
	}
	key := s.invoiceClaimKey(d.Merchant, d.Account, d.EntityID)
	now := s.o.Now()
	mine := "up " + strconv.FormatInt(now.UnixMilli(), 10) + " " + inv.Number
	held, err := claimScript.Run(ctx, s.o.Store.rdb, []string{key}, mine, invoiceClaimTTL.Milliseconds()).Text()
	if err != nil {
		return fmt.Errorf("discussions: claim the invoice upload of order %s: %w", d.EntityID, err)
	}
	if held != "" {
		f := strings.Fields(held)
		if len(f) != 3 || f[0] != "up" {
			return nil // done or refused already
		}
		ms, _ := strconv.ParseInt(f[1], 10, 64)
		if left := time.UnixMilli(ms).Add(a.cfg.SettleDelay).Sub(now); left > 0 {
			// Another task uploads, or an upload may still land: come
			// back once it had time to.
			return &connectors.SettleError{RetryAfter: left}
		}
		// Settled, its outcome unknown: only the one that replaces the
		// claim looks and uploads.
		if ok, err := s.swapClaim(ctx, key, held, mine); err != nil || !ok {
			if err == nil {
				err = &connectors.SettleError{RetryAfter: a.cfg.SettleDelay}
			}
			return err
		}
	}
	// Claimed. The order may carry the invoice already: a lost answer, a
	// claim lost to a failover, or an upload from the back office.
	has, err := up.HasInvoice(ctx, d.EntityID)
	if err != nil {
		// Nothing uploaded yet: free the claim for the retry.
		_, _ = s.swapClaim(context.WithoutCancel(ctx), key, mine, "")
		return fmt.Errorf("discussions: read the documents of order %s: %w", d.EntityID, err)
	}
	if has {
		_, err := s.swapClaim(ctx, key, mine, "done "+inv.Number)
		return err
	}
	err = up.UploadInvoice(ctx, d.EntityID, invoiceFileName(inv), pdf)
	switch {
	case err == nil:
		if _, err := s.swapClaim(ctx, key, mine, "done "+inv.Number); err != nil {
			return err
		}
		zerolog.Ctx(ctx).Info().Str("account", d.Account).Str("thread", d.ThreadID).Msg("invoice uploaded to the order")
		return nil
	case errors.Is(err, connectors.ErrUncertain):
		// It may land later: the claim dates from now, and the retry
		// looks once it settled.
		later := "up " + strconv.FormatInt(s.o.Now().UnixMilli(), 10) + " " + inv.Number
		if _, cerr := s.swapClaim(context.WithoutCancel(ctx), key, mine, later); cerr != nil {
			return errors.Join(err, cerr)
		}
		return &connectors.SettleError{RetryAfter: a.cfg.SettleDelay, Err: fmt.Errorf("discussions: upload the invoice of order %s: %w", d.EntityID, err)}
	case connectors.IsPermanent(err):
		if _, cerr := s.swapClaim(ctx, key, mine, "refused "+inv.Number); cerr != nil {
			return cerr
		}
		note := connectors.Message{
			Internal: true, ExternalID: "bridge-invoice-upload-" + m.ID,
			BodyText: uploadNote(a.helpdesk.Language, a.cfg.Name, inv.Number, d.EntityID, err.Error()),
		}
		if nerr := a.hd.AddMessage(ctx, d.TicketID, note); nerr != nil {
			return fmt.Errorf("discussions: note a refused invoice upload on ticket %s: %w", d.TicketID, nerr)
		}
		zerolog.Ctx(ctx).Warn().Str("account", d.Account).Str("thread", d.ThreadID).Msg("invoice upload refused by the marketplace; noted on the ticket")
		return nil
	default:
		// Refused for now (a rate limit): nothing was uploaded.
		_, _ = s.swapClaim(context.WithoutCancel(ctx), key, mine, "")
		return fmt.Errorf("discussions: upload the invoice of order %s: %w", d.EntityID, err)
	}
}

// uploadNote tells the agent that the invoice went with the reply but not
// onto the order.
func uploadNote(language, marketplace, number, orderID, detail string) string {
	if language == "fr" {
		return fmt.Sprintf("La facture %s est jointe à la réponse, mais %s ne l'a PAS ajoutée aux documents de la commande %s.\n\n"+
			"Que faire : ajoutez-la depuis le back-office %s si l'acheteur doit l'y trouver.\n\nDétail technique : %s",
			number, marketplace, orderID, marketplace, detail)
	}
	return fmt.Sprintf("The invoice %s goes with the reply, but %s did NOT add it to the documents of order %s.\n\n"+
		"What you can do: upload it in the %s back office if the buyer should find it there.\n\nTechnical detail: %s",
		number, marketplace, orderID, marketplace, detail)
}
