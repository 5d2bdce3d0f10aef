package miraklfake

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/helpdesk-bridge/bridge/connectors/mirakl/api"
)

// msgNoEvaluation answers OR51 for an order that has no evaluation.
const msgNoEvaluation = "The order has no evaluation"

// EvaluationSeed is a customer's evaluation of an order, which the seller
// API cannot write: tests and the demo seed it.
type EvaluationSeed struct {
	// Grade is from api.MinGrade to api.MaxGrade.
	Grade   int
	Comment string
	// Assessments are the customer's answers to the operator's questions;
	// nil means none.
	Assessments []api.Assessment
	// Hidden makes it not visible (moderated).
	Hidden bool
	// Reply is the shop's or the operator's reply, if any.
	Reply *api.EvaluationReply
	// At is when the customer gave it; zero means now. Evaluating an order
	// again changes its evaluation: the date given first stays, and At
	// (or now) becomes its last update.
	At time.Time
}

// PutEvaluation gives one of a shop's orders ("" for the first shop) its
// customer's evaluation, as OR51 will answer it, with the customer's id
// and name from the order. Only an order its customer may have evaluated
// takes one (api.EvaluableStates). The order itself is left as it is:
// whether Mirakl moves its last update is UNVERIFIED, and a client must
// not rely on it.
func (s *Server) PutEvaluation(shopID, orderID string, seed EvaluationSeed) (api.Evaluation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	shop, err := s.shopLocked(shopID)
	if err != nil {
		return api.Evaluation{}, err
	}
	o, ok := s.orders[shop][orderID]
	switch {
	case !ok:
		return api.Evaluation{}, fmt.Errorf("miraklfake: no order %s", orderID)
	case !slices.Contains(api.EvaluableStates, o.OrderState):
		return api.Evaluation{}, fmt.Errorf("miraklfake: order %s is %s: its customer cannot evaluate it yet", orderID, o.OrderState)
	case seed.Grade < api.MinGrade || seed.Grade > api.MaxGrade:
		return api.Evaluation{}, fmt.Errorf("miraklfake: grade %d is not from %d to %d", seed.Grade, api.MinGrade, api.MaxGrade)
	}
	at := api.NewTime(cmp.Or(seed.At, s.opts.Now()))
	e := api.Evaluation{
		Assessments: slices.Clone(seed.Assessments), Comment: seed.Comment,
		CustomerID: o.Customer.CustomerID, Firstname: o.Customer.Firstname, Lastname: o.Customer.Lastname,
		Date: at, LastUpdatedDate: at, Grade: seed.Grade, Reply: clonePtr(seed.Reply), Visible: !seed.Hidden,
	}
	if e.Assessments == nil {
		e.Assessments = []api.Assessment{}
	}
	if old := s.evaluations[shop][orderID]; old != nil {
		e.Date = old.Date
	}
	if s.evaluations[shop] == nil {
		s.evaluations[shop] = map[string]*api.Evaluation{}
	}
	s.evaluations[shop][orderID] = &e
	return cloneEvaluation(e), nil
}

// Evaluation returns a copy of an order's evaluation ("" for the first
// shop).
func (s *Server) Evaluation(shopID, orderID string) (api.Evaluation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	shop, err := s.shopLocked(shopID)
	if err != nil {
		return api.Evaluation{}, false
	}
	e, ok := s.evaluations[shop][orderID]
	if !ok {
		return api.Evaluation{}, false
	}
	return cloneEvaluation(*e), true
}

// OR51: the evaluation of one of the shop's orders. Another shop's order
// does not exist for this one; an order without an evaluation answers 404
// too (UNVERIFIED, see the package doc).
func (s *Server) getEvaluation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orderFromPath(w, r)
	if o == nil {
		return
	}
	e, ok := s.evaluations[shopOf(r)][o.OrderID]
	if !ok {
		writeError(w, http.StatusNotFound, msgNoEvaluation)
		return
	}
	writeJSON(w, http.StatusOK, cloneEvaluation(*e))
}

func cloneEvaluation(e api.Evaluation) api.Evaluation {
	c := e
	c.Assessments = slices.Clone(e.Assessments)
	c.Reply = clonePtr(e.Reply)
	return c
}
