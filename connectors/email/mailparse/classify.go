package mailparse

import (
	"strings"
)

// Kind is what a relayed mail is to the connector.
type Kind string

// The kinds of mail.
const (
	// KindBuyerMessage is a message relayed from a buyer: a message on
	// the discussion ThreadKey (created when new).
	KindBuyerMessage Kind = "buyer_message"
	// KindDeliveryFailure is the relay (or a mail server) saying that a
	// reply did not reach the buyer: an internal note on the thread it
	// refers to, never a new discussion.
	KindDeliveryFailure Kind = "delivery_failure"
	// KindNoResponseNeeded belongs to a thread but asks for no answer
	// (Amazon's copy of a reply sent from Seller Central): it must not
	// reopen or create a discussion.
	KindNoResponseNeeded Kind = "no_response_needed"
	// KindUnmatched matches no rule of the profile (newsletters,
	// notifications, spam): never a ticket; counted and kept for an admin.
	KindUnmatched Kind = "unmatched"
)

// Reference is the earlier mail or thread a delivery failure is about, as
// far as it can be recovered.
type Reference struct {
	MessageID  string // Message-ID of the mail that failed, when returned
	BuyerAlias string
	OrderID    string
	ThreadKey  string
}

// Classification is what Classify says about one mail.
type Classification struct {
	Kind        Kind
	Profile     string
	Marketplace string // e.g. "amazon.fr", "cdon"
	// ThreadKey identifies the discussion: "<profile>:<alias>:order:<id>",
	// "<profile>:case:<id>", or "<profile>:<alias>:no-order" for a
	// profile that allows mail without reference. For a delivery failure
	// it is the thread referred to, when known. Empty when unknown.
	ThreadKey string
	OrderID   string
	CaseID    string
	// BuyerAlias is the stable relay address of the buyer, lower case,
	// without a "+tag".
	BuyerAlias string
	// ReplyTo is the address a reply goes to: the From address as
	// relayed, "+tag" kept (a public tool does so, per the reference).
	ReplyTo string
	// NoResponseURL is the relay's "no response needed" link found in a
	// buyer message. It is never fetched here (UNVERIFIED whether it works
	// without a Seller Central session): an agent may open it.
	NoResponseURL string
	// Refers is set for a delivery failure.
	Refers *Reference
	// Reason says in a few words why the mail got its kind, for the
	// admin's view of unmatched mail.
	Reason string
}

// Classify applies a profile's rules to a parsed mail.
func Classify(p *Profile, m *Message) Classification {
	c := Classification{Profile: p.Spec.Name, Marketplace: p.Spec.Marketplace}
	if f, ok := p.deliveryFailure(m); ok {
		c.Kind = KindDeliveryFailure
		c.Refers = f
		c.ThreadKey = f.ThreadKey
		c.OrderID = f.OrderID
		c.BuyerAlias = f.BuyerAlias
		if f.BuyerAlias != "" {
			c.Marketplace = p.marketplaceOf(f.BuyerAlias)
		}
		c.Reason = "delivery failure notice"
		return c
	}
	if p.noResponse(m) {
		c.Kind = KindNoResponseNeeded
		c.OrderID = p.orderID(m.Subject, m.Text)
		c.CaseID = p.caseID(m.Subject, m.Text)
		// The copy is addressed to the merchant: the buyer's alias is
		// not in it, so only a case thread can be named.
		c.ThreadKey = p.threadKey("", c.OrderID, c.CaseID)
		c.Reason = "relay copy that needs no response"
		return c
	}
	from := firstAddress(m.From)
	rm := p.matchRelay(from)
	if rm == nil {
		c.Kind = KindUnmatched
		c.Reason = "sender is not a relay address of " + p.Spec.Name
		return c
	}
	c.BuyerAlias = rm.alias
	c.ReplyTo = from
	c.Marketplace = rm.marketplace
	c.OrderID = p.orderID(m.Subject, m.Text)
	c.CaseID = rm.tag
	if id := p.caseID(m.Subject, m.Text); id != "" {
		c.CaseID = id
	}
	c.ThreadKey = p.threadKey(c.BuyerAlias, c.OrderID, c.CaseID)
	if c.ThreadKey == "" {
		if p.Spec.RequireReference {
			c.Kind = KindUnmatched
			c.Reason = "relay mail without order or case reference"
			return c
		}
		c.ThreadKey = p.Spec.Name + ":" + c.BuyerAlias + ":no-order"
	}
	c.Kind = KindBuyerMessage
	c.NoResponseURL = extract(p.noRespLinks, m.Text, "url")
	if c.NoResponseURL == "" {
		c.NoResponseURL = extract(p.noRespLinks, m.HTML, "url")
		c.NoResponseURL = strings.ReplaceAll(c.NoResponseURL, "&amp;", "&")
	}
	c.Reason = "relayed buyer message"
	return c
}

func firstAddress(as []Address) string {
	if len(as) == 0 {
		return ""
	}
	return strings.TrimSpace(as[0].Address)
}

type relayMatch struct {
	alias       string // lower case, without +tag
	tag         string
	marketplace string
}

func (p *Profile) matchRelay(addr string) *relayMatch {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return nil
	}
	for _, re := range p.relay {
		m := re.FindStringSubmatch(addr)
		if m == nil {
			continue
		}
		lower := strings.ToLower(addr)
		local, domain, _ := strings.Cut(lower, "@")
		r := &relayMatch{marketplace: p.Spec.Marketplace}
		if i := re.SubexpIndex("case"); i > 0 {
			r.tag = m[i]
		}
		local, _, _ = strings.Cut(local, "+")
		if i := re.SubexpIndex("alias"); i > 0 && m[i] != "" {
			local = strings.ToLower(m[i])
		}
		r.alias = local + "@" + domain
		if i := re.SubexpIndex("market"); i > 0 && m[i] != "" {
			r.marketplace = p.Spec.MarketplacePrefix + strings.ToLower(m[i])
		}
		return r
	}
	return nil
}

func (p *Profile) marketplaceOf(alias string) string {
	if r := p.matchRelay(alias); r != nil {
		return r.marketplace
	}
	return p.Spec.Marketplace
}

func (p *Profile) orderID(subject, text string) string {
	if id := extract(p.subjectOrder, subject, "order"); id != "" {
		return id
	}
	return extract(p.bodyOrder, text, "order")
}

func (p *Profile) caseID(subject, text string) string {
	if id := extract(p.subjectCase, subject, "case"); id != "" {
		return id
	}
	return extract(p.bodyCase, text, "case")
}

func (p *Profile) threadKey(alias, order, caseID string) string {
	switch {
	case p.Spec.ThreadByCase && caseID != "":
		return p.Spec.Name + ":case:" + strings.ToLower(caseID)
	case alias != "" && order != "":
		return p.Spec.Name + ":" + alias + ":order:" + order
	}
	return ""
}

// noResponse: mail from the relay's no-response senders carrying the
// no-response headers (each list must match when it is given).
func (p *Profile) noResponse(m *Message) bool {
	if len(p.noRespSenders) == 0 && len(p.noRespHeaders) == 0 {
		return false
	}
	if len(p.noRespSenders) > 0 && !anyMatch(p.noRespSenders, firstAddress(m.From)) {
		return false
	}
	for _, h := range p.noRespHeaders {
		if !h.re.MatchString(strings.TrimSpace(m.Header(h.name))) {
			return false
		}
	}
	return true
}

// deliveryFailure recognises a failure notice about mail to this relay:
// a standard DSN whose failed recipient (or returned To) is a relay
// address, or the relay's own notice (sender and fingerprint).
func (p *Profile) deliveryFailure(m *Message) (*Reference, bool) {
	ref := &Reference{}
	ok := false
	if r := m.Report; r != nil && (r.Action == "failed" || strings.HasPrefix(r.Status, "5")) {
		for _, a := range r.FinalRecipients {
			if rm := p.matchRelay(a); rm != nil {
				ref.BuyerAlias, ok = rm.alias, true
				break
			}
		}
		if o := r.Original; o != nil {
			for _, a := range o.To {
				if rm := p.matchRelay(a.Address); rm != nil {
					if ref.BuyerAlias == "" {
						ref.BuyerAlias = rm.alias
					}
					ok = true
					break
				}
			}
		}
	}
	if !ok && anyMatch(p.failureSenders, firstAddress(m.From)) &&
		(anyMatch(p.failureSubjects, m.Subject) || anyMatch(p.failureBodies, m.Text)) {
		ok = true
	}
	if !ok {
		return nil, false
	}
	// What the notice refers to: the returned headers first, then the
	// notice's own threading headers and text.
	var caseID string
	if r := m.Report; r != nil && r.Original != nil {
		o := r.Original
		ref.MessageID = o.MessageID
		ref.OrderID = p.orderID(o.Subject, "")
		caseID = p.caseID(o.Subject, "")
	}
	if ref.MessageID == "" {
		if n := len(m.InReplyTo); n > 0 {
			ref.MessageID = m.InReplyTo[0]
		} else if n := len(m.References); n > 0 {
			ref.MessageID = m.References[n-1]
		}
	}
	if ref.BuyerAlias == "" {
		ref.BuyerAlias = p.aliasIn(m.Text)
	}
	if ref.OrderID == "" {
		ref.OrderID = p.orderID(m.Subject, m.Text)
	}
	if caseID == "" {
		caseID = p.caseID(m.Subject, m.Text)
	}
	ref.ThreadKey = p.threadKey(ref.BuyerAlias, ref.OrderID, caseID)
	return ref, true
}

// aliasIn finds the first relay address written in a text (Amazon's
// notice may name the recipient).
func (p *Profile) aliasIn(text string) string {
	for _, a := range looseAddr.FindAllString(text, 50) {
		a = strings.Trim(a, ".")
		if rm := p.matchRelay(a); rm != nil {
			return rm.alias
		}
	}
	return ""
}
