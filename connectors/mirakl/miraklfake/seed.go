package miraklfake

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// ThreadSeed describes a thread as a customer or the operator opens it on
// the marketplace: the seller API cannot, so tests and the demo seed it.
type ThreadSeed struct {
	// ShopID is the shop the thread is with; "" is the first shop.
	ShopID string
	// EntityType is what the thread is about (api.EntityOrder, ...), with
	// EntityID and EntityLabel (default: the id). "" opens a thread
	// between the shop and the operator, about no entity and without a
	// customer.
	EntityType  string
	EntityID    string
	EntityLabel string
	// Topic is the thread's free-text topic (default "Question").
	Topic string
	// CustomerID and CustomerName are the customer's participant id and
	// display name, for threads about an entity.
	CustomerID   string
	CustomerName string
	// Message opens the thread.
	Message MessageSeed
}

// MessageSeed is a message a customer or the operator writes (or the shop,
// from Mirakl's back office rather than the API).
type MessageSeed struct {
	// From is api.SenderCustomer (the default when the thread has a
	// customer), api.SenderOperator (the default otherwise) or
	// api.SenderShop.
	From string
	// Name is the sender's display name; by default the thread's customer,
	// the operator, or the shop.
	Name string
	Body string
	// To are participant types (api.ParticipantShop, ...); by default the
	// shop, or for the shop's own message the customer, else the operator.
	To          []string
	Attachments []FileSeed
	// At is when the message was written; zero means now.
	At time.Time
}

// FileSeed is a file attached to a seeded message.
type FileSeed struct {
	Name        string
	ContentType string // "" means application/octet-stream
	Content     []byte
}

// AddThread adds a thread opened by seed.Message, and returns it.
func (s *Server) AddThread(seed ThreadSeed) (api.Thread, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	shopID, err := s.shopLocked(seed.ShopID)
	if err != nil {
		return api.Thread{}, err
	}
	shop := s.shops[shopID]
	at := api.NewTime(cmp.Or(seed.Message.At, s.opts.Now()))
	t := &thread{shop: shopID, Thread: api.Thread{
		ID:          newID(),
		Topic:       api.Topic{Type: api.TopicFreeText, Value: cmp.Or(seed.Topic, "Question")},
		Entities:    []api.Entity{},
		DateCreated: at,
		DateUpdated: at,
		AuthorizedParticipants: []api.Participant{
			{DisplayName: shop.Name, ID: shop.ID, Type: api.ParticipantShop},
			{DisplayName: s.opts.OperatorName, Type: api.ParticipantOperator},
		},
		CurrentParticipants: []api.Participant{},
		Messages:            []api.Message{},
	}}
	if seed.EntityType != "" {
		if seed.EntityID == "" {
			return api.Thread{}, errors.New("miraklfake: a thread about an entity needs its id")
		}
		t.Entities = []api.Entity{{ID: seed.EntityID, Label: cmp.Or(seed.EntityLabel, seed.EntityID), Type: seed.EntityType}}
		if seed.EntityType != api.EntitySellerOperator {
			t.AuthorizedParticipants = append(t.AuthorizedParticipants, api.Participant{
				DisplayName: cmp.Or(seed.CustomerName, "Customer"),
				ID:          cmp.Or(seed.CustomerID, "customer-"+seed.EntityID),
				Type:        api.ParticipantCustomer,
			})
		}
	}
	m := seed.Message
	m.At = at.Time
	if _, err := s.addMessageLocked(t, m); err != nil {
		return api.Thread{}, err
	}
	s.seq++
	t.seq = s.seq
	s.threads[t.ID] = t
	return cloneThread(t.Thread, len(t.Messages)), nil
}

// AddMessage adds a message to a thread, as its writer would on the
// marketplace: the thread's date_updated, metadata and participants
// follow. Seeded messages are what the marketplace already holds, so
// M12's limits do not apply to them.
func (s *Server) AddMessage(threadID string, m MessageSeed) (api.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.threads[threadID]
	if !ok {
		return api.Message{}, fmt.Errorf("miraklfake: no thread %s", threadID)
	}
	return s.addMessageLocked(t, m)
}

func (s *Server) addMessageLocked(t *thread, seed MessageSeed) (api.Message, error) {
	if seed.Body == "" {
		return api.Message{}, errors.New("miraklfake: a message needs a body")
	}
	customer := participant(t, api.ParticipantCustomer)
	shop := s.shops[t.shop]
	from := cmp.Or(seed.From, api.SenderOperator)
	if seed.From == "" && customer != nil {
		from = api.SenderCustomer
	}
	var sender api.Sender
	to := seed.To
	switch from {
	case api.SenderCustomer:
		if customer == nil {
			return api.Message{}, errors.New("miraklfake: the thread has no customer")
		}
		sender = api.Sender{DisplayName: cmp.Or(seed.Name, customer.DisplayName), Type: from}
	case api.SenderOperator:
		sender = api.Sender{
			DisplayName:         cmp.Or(seed.Name, s.opts.OperatorName),
			OrganizationDetails: &api.Participant{DisplayName: s.opts.OperatorName, Type: api.ParticipantOperator},
			Type:                from,
		}
	case api.SenderShop:
		sender = shopSender(shop)
		if seed.Name != "" {
			sender.DisplayName = seed.Name
		}
		if len(to) == 0 {
			to = []string{api.ParticipantOperator}
			if customer != nil {
				to = []string{api.ParticipantCustomer}
			}
		}
	default:
		return api.Message{}, fmt.Errorf("miraklfake: unknown sender type %q", from)
	}
	if len(to) == 0 {
		to = []string{api.ParticipantShop}
	}
	var rcpts []api.Recipient
	for _, typ := range to {
		rcpts = append(rcpts, api.Recipient{Type: typ})
	}
	parties, reason := recipients(t, rcpts)
	if reason != "" {
		return api.Message{}, errors.New("miraklfake: " + reason)
	}
	for _, f := range seed.Attachments {
		if f.Name == "" {
			return api.Message{}, errors.New("miraklfake: an attachment needs a name")
		}
	}
	m := api.Message{
		ID:          newID(),
		Body:        seed.Body,
		DateCreated: api.NewTime(cmp.Or(seed.At, s.opts.Now())),
		From:        sender,
		To:          parties,
	}
	for _, f := range seed.Attachments {
		m.Attachments = append(m.Attachments, s.storeFileLocked(t.shop, &File{
			Name:        f.Name,
			ContentType: cmp.Or(f.ContentType, "application/octet-stream"),
			Content:     slices.Clone(f.Content),
			Size:        int64(len(f.Content)),
		}))
	}
	s.appendLocked(t, m)
	if from == api.SenderCustomer {
		s.markCustomerMessageLocked(t)
	}
	return cloneMessage(m), nil
}

// storeFileLocked gives f an id and keeps it for the shop's downloads
// (M13), and returns how a message refers to it.
func (s *Server) storeFileLocked(shop string, f *File) api.Attachment {
	f.ID = newID()
	s.files[f.ID] = &storedFile{shop: shop, File: *f}
	return api.Attachment{ID: f.ID, Name: f.Name, Size: f.Size}
}

// appendLocked adds m to t and updates what Mirakl derives from it: the
// participants, the metadata and date_updated.
func (s *Server) appendLocked(t *thread, m api.Message) {
	t.Messages = append(t.Messages, m)
	joined := slices.Clone(m.To)
	switch m.From.Type {
	case api.SenderCustomer:
		joined = append(joined, *participant(t, api.ParticipantCustomer))
	case api.SenderOperator:
		joined = append(joined, *participant(t, api.ParticipantOperator))
	case api.SenderShop:
		joined = append(joined, *participant(t, api.ParticipantShop))
	}
	for _, p := range joined {
		if !slices.Contains(t.CurrentParticipants, p) {
			t.CurrentParticipants = append(t.CurrentParticipants, p)
		}
	}
	md := &t.Metadata
	md.LastMessageDate = m.DateCreated
	md.LastSender = cloneSender(m.From)
	md.TotalCount = len(t.Messages)
	switch {
	case m.From.Type == api.SenderShop:
		md.ShopReplyNeededSince = nil
	case md.ShopReplyNeededSince == nil && slices.ContainsFunc(m.To, func(p api.Participant) bool { return p.Type == api.ParticipantShop }):
		md.ShopReplyNeededSince = m.DateCreated.Ptr()
	}
	if m.DateCreated.After(t.DateUpdated.Time) {
		t.DateUpdated = m.DateCreated
	}
}

// markCustomerMessageLocked sets has_customer_message on the orders the
// thread is about.
func (s *Server) markCustomerMessageLocked(t *thread) {
	for _, e := range t.Entities {
		if o := s.orders[t.shop][e.ID]; o != nil && e.Type == api.EntityOrder {
			o.HasCustomerMessage = true
		}
	}
}

func participant(t *thread, typ string) *api.Participant {
	i := slices.IndexFunc(t.AuthorizedParticipants, func(p api.Participant) bool { return p.Type == typ })
	if i < 0 {
		return nil
	}
	return &t.AuthorizedParticipants[i]
}

// shopSender is the shop's API user as a message's sender.
func shopSender(shop Shop) api.Sender {
	return api.Sender{
		DisplayName:         shop.Name,
		OrganizationDetails: &api.Participant{DisplayName: shop.Name, ID: shop.ID, Type: api.ParticipantShop},
		Type:                api.SenderShop,
	}
}

// PutOrder adds or replaces one of a shop's orders ("" for the first
// shop). Fields OR11 requires and o leaves empty get plausible values;
// its dates default to now (the creation date of a replaced order is
// kept), and are stored to the millisecond as Mirakl writes them.
func (s *Server) PutOrder(shopID string, o api.Order) (api.Order, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	shop, err := s.shopLocked(shopID)
	if err != nil {
		return api.Order{}, err
	}
	if o.OrderID == "" {
		return api.Order{}, errors.New("miraklfake: an order needs an order_id")
	}
	o = cloneOrder(o)
	now := s.opts.Now()
	if old := s.orders[shop][o.OrderID]; old != nil && o.CreatedDate.IsZero() {
		o.CreatedDate = old.CreatedDate
	}
	o.CreatedDate = api.NewTime(cmp.Or(o.CreatedDate.Time, now))
	o.LastUpdatedDate = api.NewTime(cmp.Or(o.LastUpdatedDate.Time, now))
	fillOrder(&o)
	if s.orders[shop] == nil {
		s.orders[shop] = map[string]*api.Order{}
	}
	stored := cloneOrder(o)
	s.orders[shop][o.OrderID] = &stored
	return cloneOrder(o), nil
}

// fillOrder gives the fields OR11 requires a value when o has none.
func fillOrder(o *api.Order) {
	o.CommercialID = cmp.Or(o.CommercialID, o.OrderID)
	o.OrderState = cmp.Or(o.OrderState, "SHIPPING")
	o.CurrencyISOCode = cmp.Or(o.CurrencyISOCode, "EUR")
	o.OrderTaxMode = cmp.Or(o.OrderTaxMode, "TAX_INCLUDED")
	o.PaymentType = cmp.Or(o.PaymentType, "CREDIT_CARD")
	o.PaymentTypeLegacy = cmp.Or(o.PaymentTypeLegacy, o.PaymentType)
	o.ShippingTypeCode = cmp.Or(o.ShippingTypeCode, "STD")
	o.ShippingTypeLabel = cmp.Or(o.ShippingTypeLabel, "Standard")
	o.ShippingZoneCode = cmp.Or(o.ShippingZoneCode, "FR")
	o.ShippingZoneLabel = cmp.Or(o.ShippingZoneLabel, "France")
	o.Fulfillment.Center.Code = cmp.Or(o.Fulfillment.Center.Code, "DEFAULT")
	// Derived from the state, as touch keeps it.
	o.CanCancel = canCancel(o.OrderState)
	o.Customer.CustomerID = cmp.Or(o.Customer.CustomerID, "customer-"+o.OrderID)
	for _, n := range []*string{(*string)(&o.Price), (*string)(&o.ShippingPrice), (*string)(&o.TotalPrice), (*string)(&o.TotalCommission)} {
		*n = cmp.Or(*n, "0")
	}
	if o.OrderLines == nil {
		o.OrderLines = []api.OrderLine{}
	}
	for i := range o.OrderLines {
		l := &o.OrderLines[i]
		if l.OrderLineIndex == 0 {
			l.OrderLineIndex = i + 1
		}
		l.OrderLineID = cmp.Or(l.OrderLineID, o.OrderID+"-"+strconv.Itoa(l.OrderLineIndex))
		l.OrderLineState = cmp.Or(l.OrderLineState, o.OrderState)
		l.OfferStateCode = cmp.Or(l.OfferStateCode, "11")
		l.Quantity = cmp.Or(l.Quantity, 1)
		for _, n := range []*string{
			(*string)(&l.Price), (*string)(&l.PriceUnit), (*string)(&l.ShippingPrice), (*string)(&l.TotalPrice),
			(*string)(&l.TotalCommission), (*string)(&l.CommissionFee), (*string)(&l.CommissionRateVAT), (*string)(&l.CommissionVAT),
		} {
			*n = cmp.Or(*n, "0")
		}
		if l.CreatedDate.IsZero() {
			l.CreatedDate = o.CreatedDate
		}
		if l.LastUpdatedDate.IsZero() {
			l.LastUpdatedDate = o.LastUpdatedDate
		}
		for _, list := range []*[]api.Empty{&l.Refunds, &l.ProductMedias, &l.OrderLineExtraFields} {
			if *list == nil {
				*list = []api.Empty{}
			}
		}
		if l.Cancelations == nil {
			l.Cancelations = []api.Cancelation{}
		}
	}
}
