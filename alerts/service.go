package alerts

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/config"
	"github.com/helpdesk-bridge/bridge/connectors"
)

// Helpdesk is what the alerts need of a helpdesk account.
type Helpdesk interface {
	CreateTicket(ctx context.Context, t connectors.NewTicket) (connectors.Ticket, bool, error)
	AddMessage(ctx context.Context, ticketID string, m connectors.Message) error
	SetStatus(ctx context.Context, ticketID string, s connectors.Status) error
}

// ErrUnknownAccount: the task names a helpdesk account, or for a rating
// sync a marketplace account that can list evaluations, that the
// configuration no longer has. Retrying cannot help.
var ErrUnknownAccount = errors.New("alerts: unknown account")

// Service raises and resolves alert tickets.
type Service struct {
	cfg       *config.Config
	helpdesks map[string]Helpdesk // by account id
	rdb       redis.UniversalClient
	now       func() time.Time
	// markerTTL is how long a resolution is remembered, to cancel alerts
	// whose task runs after it (retries can delay them by days).
	markerTTL time.Duration
}

// NewService returns the alert service over the given accounts.
func NewService(cfg *config.Config, helpdesks map[string]Helpdesk, rdb redis.UniversalClient, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	ttl := cfg.Events.DedupeTTL
	if ttl < 7*24*time.Hour {
		ttl = 7 * 24 * time.Hour
	}
	return &Service{cfg: cfg, helpdesks: helpdesks, rdb: rdb, now: now, markerTTL: ttl}
}

func (s *Service) account(merchant, account string) (*config.Merchant, *config.Helpdesk, Helpdesk, error) {
	m, ok := s.cfg.Merchant(merchant)
	if !ok {
		return nil, nil, nil, fmt.Errorf("%w: merchant %s", ErrUnknownAccount, merchant)
	}
	for i := range m.Helpdesks {
		if m.Helpdesks[i].ID == account {
			if hd, ok := s.helpdesks[account]; ok {
				return m, &m.Helpdesks[i], hd, nil
			}
		}
	}
	return nil, nil, nil, fmt.Errorf("%w: %s", ErrUnknownAccount, account)
}

// Redis keys. The hash tag keeps one order's keys in one Cluster slot.
func (s *Service) orderTag(merchant, store, order string) string {
	return s.cfg.Redis.KeyPrefix + "alerts:{" + merchant + ":" + store + ":" + order + "}"
}
func (s *Service) resolvedKey(merchant, store, order string) string {
	return s.orderTag(merchant, store, order) + ":resolved"
}
func (s *Service) openKey(merchant, account, store, order string) string {
	return s.orderTag(merchant, store, order) + ":open:" + account
}
func (s *Service) notedKey(merchant, account, store, order string) string {
	return s.orderTag(merchant, store, order) + ":noted:" + account
}

// Raise creates the alert ticket for p, once. Running it again (a retry, a
// crash before the task was acknowledged) finds the same ticket by its
// external id instead of creating another.
func (s *Service) Raise(ctx context.Context, p RaisePayload) error {
	m, acct, hd, err := s.account(p.Merchant, p.Account)
	if err != nil {
		return err
	}
	log := zerolog.Ctx(ctx).With().Str("merchant", p.Merchant).Str("account", p.Account).Str("alert", p.Kind).Str("event_id", p.EventID).Logger()
	if p.Kind == config.AlertActionRequired {
		resolved, err := s.resolvedSince(ctx, p)
		if err != nil {
			return err
		}
		if resolved {
			log.Info().Msg("alert not raised: the order was resolved after this event")
			return nil
		}
	}
	store, _ := m.Store(p.Store)
	subject, body, err := render(acct.Language, p, store)
	if err != nil {
		return err
	}
	ticket, created, err := hd.CreateTicket(ctx, connectors.NewTicket{
		ExternalID: p.ExternalID(),
		Subject:    subject,
		Requester:  connectors.Person{Email: p.Buyer.Email, Name: p.Buyer.Name},
		Tags:       []string{acct.TagPrefix + p.Kind, acct.TagPrefix + config.AlertMarker},
		Language:   acct.Language,
		Message:    connectors.Message{BodyText: body, Internal: true},
	})
	if err != nil {
		return fmt.Errorf("alerts: raise %s in %s: %w", p.Kind, p.Account, err)
	}
	log.Info().Str("ticket_id", ticket.ID).Bool("created", created).Msg("alert ticket raised")
	if p.Kind != config.AlertActionRequired {
		return nil
	}
	if err := s.addToSet(ctx, s.openKey(p.Merchant, p.Account, p.Store, p.OrderID), ticket.ID, 90*24*time.Hour); err != nil {
		return err
	}
	// A resolution that ran while we were creating found no ticket to
	// close; close it ourselves.
	resolved, err := s.resolvedSince(ctx, p)
	if err != nil {
		return err
	}
	if resolved {
		rp, err := s.resolution(ctx, p)
		if err != nil {
			return err
		}
		return s.Resolve(ctx, rp)
	}
	return nil
}

type resolutionMark struct {
	at      time.Time
	eventID string
	details string
}

func (s *Service) resolvedSince(ctx context.Context, p RaisePayload) (bool, error) {
	mark, ok, err := s.readResolution(ctx, p.Merchant, p.Store, p.OrderID)
	if err != nil || !ok {
		return false, err
	}
	return !mark.at.Before(p.OccurredAt), nil
}

func (s *Service) readResolution(ctx context.Context, merchant, store, order string) (resolutionMark, bool, error) {
	vals, err := s.rdb.HGetAll(ctx, s.resolvedKey(merchant, store, order)).Result()
	if err != nil {
		return resolutionMark{}, false, err
	}
	ms, err := strconv.ParseInt(vals["at"], 10, 64)
	if err != nil {
		return resolutionMark{}, false, nil
	}
	return resolutionMark{at: time.UnixMilli(ms), eventID: vals["event_id"], details: vals["details"]}, true, nil
}

func (s *Service) resolution(ctx context.Context, p RaisePayload) (ResolvePayload, error) {
	mark, _, err := s.readResolution(ctx, p.Merchant, p.Store, p.OrderID)
	if err != nil {
		return ResolvePayload{}, err
	}
	return ResolvePayload{Merchant: p.Merchant, Account: p.Account, EventID: mark.eventID, OccurredAt: mark.at, OrderID: p.OrderID, Store: p.Store, Details: mark.details}, nil
}

// Resolve closes the open action-required alerts of the order in one
// account: an internal note saying it was resolved, then the helpdesk's
// closed/solved status. Each step is recorded so that a rerun neither
// repeats the note nor misses the close.
func (s *Service) Resolve(ctx context.Context, p ResolvePayload) error {
	_, acct, hd, err := s.account(p.Merchant, p.Account)
	if err != nil {
		return err
	}
	if err := s.markResolved(ctx, p); err != nil {
		return err
	}
	openKey := s.openKey(p.Merchant, p.Account, p.Store, p.OrderID)
	notedKey := s.notedKey(p.Merchant, p.Account, p.Store, p.OrderID)
	tickets, err := s.rdb.SMembers(ctx, openKey).Result()
	if err != nil {
		return err
	}
	note, err := renderResolved(acct.Language, p)
	if err != nil {
		return err
	}
	for _, id := range tickets {
		noted, err := s.rdb.SIsMember(ctx, notedKey, id).Result()
		if err != nil {
			return err
		}
		if !noted {
			// With an external id, a note whose append got no answer is
			// found on the retry instead of being written twice.
			sum := sha256.Sum256([]byte(p.EventID + "\x00" + id))
			msg := connectors.Message{BodyText: note, Internal: true, ExternalID: "bridge-resolved-" + hex.EncodeToString(sum[:12])}
			if err := hd.AddMessage(ctx, id, msg); err != nil && !errors.Is(err, connectors.ErrNotFound) {
				return fmt.Errorf("alerts: resolve note on %s: %w", id, err)
			}
			if err := s.addToSet(ctx, notedKey, id, s.markerTTL); err != nil {
				return err
			}
		}
		// A ticket an agent deleted meanwhile has nothing left to close.
		if err := hd.SetStatus(ctx, id, connectors.StatusSolved); err != nil && !errors.Is(err, connectors.ErrNotFound) {
			return fmt.Errorf("alerts: close %s: %w", id, err)
		}
		if err := s.rdb.SRem(ctx, openKey, id).Err(); err != nil {
			return err
		}
		zerolog.Ctx(ctx).Info().Str("account", p.Account).Str("ticket_id", id).Msg("alert ticket resolved and closed")
	}
	return nil
}

// markResolved remembers the latest resolution of the order, so that an
// alert task that runs late (retries) is not raised for a fixed problem.
func (s *Service) markResolved(ctx context.Context, p ResolvePayload) error {
	key := s.resolvedKey(p.Merchant, p.Store, p.OrderID)
	mark, ok, err := s.readResolution(ctx, p.Merchant, p.Store, p.OrderID)
	if err != nil {
		return err
	}
	if !ok || mark.at.Before(p.OccurredAt) {
		if err := s.rdb.HSet(ctx, key, "at", p.OccurredAt.UnixMilli(), "event_id", p.EventID, "details", p.Details).Err(); err != nil {
			return err
		}
	}
	return s.rdb.Expire(ctx, key, s.markerTTL).Err()
}

// addToSet adds member to the set at key and renews its expiry, in one
// round trip.
func (s *Service) addToSet(ctx context.Context, key, member string, ttl time.Duration) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, key, member)
		p.Expire(ctx, key, ttl)
		return nil
	})
	return err
}
