package widgets

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/gin-gonic/gin"
	"github.com/rs/zerolog"

	"github.com/helpdesk-bridge/bridge/bridge/httpapi"
	"github.com/helpdesk-bridge/bridge/connectors"
	"github.com/helpdesk-bridge/bridge/orders"
)

// Gorgias commands: an agent acts on an order from a Gorgias ticket by
// writing an internal note whose first line is a command, for example
//
//	Order: ship CRF-70001-A carrier=UPS tracking=1Z999AA10123456784
//
// A second HTTP integration of the Gorgias sidebar (trigger "Ticket
// message created") posts each new message to CommandsPath with the
// sidebar's token. The message must be an agent's internal note: a
// customer's message, or a public reply, never acts on anything. The
// order and the action's state then show in the sidebar's widget.
//
// UNVERIFIED: the template variables message.body_text, message.public
// and message.from_agent are used by public integration code, not in
// Gorgias's reference; if Gorgias did not render them, no command would
// ever pass, which is the safe way to fail.

// CommandsPath is where Gorgias posts new messages.
const CommandsPath = "/v1/widgets/gorgias/commands"

// MaxCommandBody bounds a posted message: Gorgias sends the whole
// message's text, of which only the first line is read.
const MaxCommandBody = 256 << 10

// Limits of a command line.
const (
	maxCommandLine  = 2000
	maxCommandWords = 520 // an action, an order id, and up to 500 lines
)

// CommandPrefix starts a command line, in any case.
const CommandPrefix = "order:"

// commandBody is what the integration posts, as JSON or a form.
type commandBody struct {
	TicketID  connectors.FlexString `json:"ticket_id"`
	MessageID connectors.FlexString `json:"message_id"`
	FromAgent connectors.FlexString `json:"from_agent"`
	Public    connectors.FlexString `json:"public"`
	Body      connectors.FlexString `json:"body"`
	Agent     connectors.FlexString `json:"agent"`
}

// CommandAnswer is the integration's answer. Gorgias disables an
// integration after 100 failed calls in a row, and every message of
// every ticket calls it: a message that is no command, or a command
// refused, is answered 200 with what happened, and only a caller's own
// mistakes (no token, a body that is not one) are errors.
type CommandAnswer struct {
	// Status is ignored (not a command for the bridge), requested (the
	// action waits for the marketplace, or was asked before), or
	// refused.
	Status string `json:"status"`
	// Reason says why a message was ignored.
	Reason string         `json:"reason,omitempty"`
	Action *orders.Action `json:"action,omitempty"`
	// Error is why a command was refused, as the API's errors say it.
	Error *httpapi.Error `json:"error,omitempty"`
}

func (s *Service) command(c *gin.Context) {
	v, err := s.Authenticate(bearer(c.GetHeader("Authorization")))
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	if v.Sidebar.Kind != "gorgias" {
		httpapi.Fail(c, httpapi.Errorf(http.StatusForbidden, orders.CodeActionForbidden, "Authorization", "Authorization: commands come from a Gorgias sidebar's integration; this token is a %s sidebar's", v.Sidebar.Kind))
		return
	}
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	body, err := decodeCommandBody(c.GetHeader("Content-Type"), raw)
	if err != nil {
		httpapi.Fail(c, err)
		return
	}
	answer := s.runCommand(c, v, body)
	c.JSON(http.StatusOK, answer)
}

// runCommand reads and performs the command of one message.
func (s *Service) runCommand(c *gin.Context, v *View, body commandBody) CommandAnswer {
	line := firstLine(string(body.Body))
	if !strings.HasPrefix(strings.ToLower(line), CommandPrefix) {
		return CommandAnswer{Status: "ignored", Reason: "the message does not start with " + "Order:"}
	}
	if !isTrue(string(body.FromAgent)) || !isFalse(string(body.Public)) {
		return CommandAnswer{Status: "ignored", Reason: "only an agent's internal note carries commands"}
	}
	refuse := func(err error) CommandAnswer {
		e := httpapi.AsError(err)
		if e.Status >= 500 {
			zerolog.Ctx(c.Request.Context()).Error().Err(err).Msg("gorgias command failed")
		}
		return CommandAnswer{Status: "refused", Error: e}
	}
	if s.actions == nil {
		return refuse(errNoActions)
	}
	cmd, err := parseCommand(line[len(CommandPrefix):])
	if err != nil {
		return refuse(err)
	}
	if !v.Sidebar.Allows(cmd.kind) {
		return refuse(httpapi.Errorf(http.StatusForbidden, orders.CodeActionForbidden, "action", "action: sidebar %s may not %s orders (its actions: %s)", v.Sidebar.ID, cmd.kind, strings.Join(v.Sidebar.Actions, ", ")))
	}
	store, err := s.commandStore(c, v, cmd)
	if err != nil {
		return refuse(err)
	}
	agent := strings.TrimSpace(string(body.Agent))
	if len([]rune(agent)) > maxAgent || strings.IndexFunc(agent, unicode.IsControl) >= 0 || strings.Contains(agent, "{{") {
		agent = "" // not rendered, or not a name
	}
	if agent == "" && body.TicketID != "" && len(body.TicketID) <= 30 {
		agent = "Gorgias ticket " + string(body.TicketID)
	}
	a, err := s.actions.Request(c.Request.Context(), orders.ActionRequest{
		Merchant: v.Merchant, Store: store, OrderID: cmd.orderID, Kind: cmd.kind, Args: cmd.args,
		By: orders.Actor{Source: v.Sidebar.Kind, ID: v.Sidebar.ID, Agent: agent},
	})
	if err != nil {
		return refuse(err)
	}
	return CommandAnswer{Status: "requested", Action: &a}
}

// commandStore is the store of the command's order: the one it names,
// or the one of the sidebar's stores that has the order.
func (s *Service) commandStore(c *gin.Context, v *View, cmd command) (string, error) {
	if cmd.store != "" {
		if !v.Sidebar.TargetsStore(cmd.store) {
			return "", httpapi.Errorf(http.StatusForbidden, CodeStoreNotAllowed, "store", "store: sidebar %s does not show store %s", v.Sidebar.ID, cmd.store)
		}
		return cmd.store, nil
	}
	var found []string
	for _, st := range v.Sidebar.Stores {
		_, err := s.actions.Order(c.Request.Context(), v.Merchant, st, cmd.orderID)
		switch e := httpapi.AsError(err); {
		case err == nil:
			found = append(found, st)
		case e.Code != orders.CodeOrderNotFound:
			return "", err
		}
	}
	switch len(found) {
	case 0:
		return "", httpapi.Errorf(http.StatusNotFound, orders.CodeOrderNotFound, "order_id", "order_id: no store of sidebar %s has order %s", v.Sidebar.ID, cmd.orderID)
	case 1:
		return found[0], nil
	}
	return "", httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, "store", "store: stores %s all have an order %s; add store=<id> to the command", strings.Join(found, ", "), cmd.orderID)
}

// command is one parsed command line.
type command struct {
	kind    string
	orderID string
	store   string
	args    orders.ActionArgs
}

// commandKeys maps a command's key=value words to the action's
// arguments; refuse and line may repeat.
var commandKeys = []string{"store", "carrier", "carrier_name", "method", "tracking", "url", "reason", "refuse", "line"}

// parseCommand reads "<action> <order id> [key=value ...]"; a value may
// be quoted ("Colis Privé"). The orders service checks the values.
func parseCommand(s string) (command, error) {
	invalid := func(field, format string, a ...any) error {
		return httpapi.Errorf(http.StatusUnprocessableEntity, httpapi.CodeInvalidField, field, format, a...)
	}
	if len(s) > maxCommandLine {
		return command{}, invalid("body", "body: a command line has at most %d characters", maxCommandLine)
	}
	words, err := splitWords(s)
	if err != nil {
		return command{}, invalid("body", "body: %v", err)
	}
	if len(words) > maxCommandWords {
		return command{}, invalid("body", "body: a command has at most %d words", maxCommandWords)
	}
	if len(words) < 2 {
		return command{}, invalid("body", "body: write Order: <action> <order id> [key=value ...], the action one of %s", strings.Join(orders.ActionKinds, ", "))
	}
	cmd := command{kind: strings.ToLower(words[0]), orderID: words[1]}
	if strings.TrimSpace(cmd.orderID) == "" || len(cmd.orderID) > 100 {
		return command{}, invalid("order_id", "order_id: an order id of 1 to 100 characters follows the action")
	}
	if !slices.Contains(orders.ActionKinds, cmd.kind) {
		return command{}, invalid("action", "action: %q is not one of %s", words[0], strings.Join(orders.ActionKinds, ", "))
	}
	a := &cmd.args
	for _, w := range words[2:] {
		key, val, ok := strings.Cut(w, "=")
		key = strings.ToLower(key)
		if !ok || !slices.Contains(commandKeys, key) {
			return command{}, invalid("body", "body: %q is not key=value with a key among %s", w, strings.Join(commandKeys, ", "))
		}
		switch key {
		case "store":
			cmd.store = val
		case "carrier":
			a.CarrierCode = val
		case "carrier_name":
			a.CarrierName = val
		case "method":
			a.ShippingMethod = val
		case "tracking":
			a.TrackingNumber = val
		case "url":
			a.TrackingURL = val
		case "reason":
			a.Reason = val
		case "refuse":
			a.RefuseLines = append(a.RefuseLines, orders.LineRef{SKU: val})
		case "line":
			sku, qty, hasQty := strings.Cut(val, ":")
			ref := orders.LineRef{SKU: sku}
			if hasQty {
				n, err := strconv.Atoi(qty)
				if err != nil || n < 0 {
					return command{}, invalid("lines", "lines: %q: the quantity after the colon is not a number", val)
				}
				ref.Quantity = n
			}
			a.Lines = append(a.Lines, ref)
		}
	}
	return cmd, nil
}

// splitWords splits on spaces, keeping double-quoted values whole.
func splitWords(s string) ([]string, error) {
	var words []string
	var b strings.Builder
	quoted, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			quoted, inWord = !quoted, true
		case unicode.IsSpace(r) && !quoted:
			if inWord {
				words = append(words, b.String())
				b.Reset()
				inWord = false
			}
		default:
			b.WriteRune(r)
			inWord = true
		}
	}
	if quoted {
		return nil, errors.New("a quote is not closed")
	}
	if inWord {
		words = append(words, b.String())
	}
	return words, nil
}

// firstLine is the message's first line with text, trimmed.
func firstLine(body string) string {
	for line := range strings.SplitSeq(body, "\n") {
		if line = strings.TrimSpace(line); line != "" {
			return line
		}
	}
	return ""
}

// Gorgias renders booleans as Python does (True, False); JSON ones are
// read too.
func isTrue(s string) bool  { return strings.EqualFold(strings.TrimSpace(s), "true") }
func isFalse(s string) bool { return strings.EqualFold(strings.TrimSpace(s), "false") }

// decodeCommandBody reads the posted message, JSON or form-encoded as
// the integration's request content type says.
func decodeCommandBody(contentType string, raw []byte) (commandBody, error) {
	var b commandBody
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(raw))
		if err != nil || len(form) > maxFormFields {
			return b, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformedBody, "", "the body is not a form of at most %d fields", maxFormFields)
		}
		b = commandBody{
			TicketID: connectors.FlexString(form.Get("ticket_id")), MessageID: connectors.FlexString(form.Get("message_id")),
			FromAgent: connectors.FlexString(form.Get("from_agent")), Public: connectors.FlexString(form.Get("public")),
			Body: connectors.FlexString(form.Get("body")), Agent: connectors.FlexString(form.Get("agent")),
		}
		return b, nil
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		return b, httpapi.Errorf(http.StatusBadRequest, httpapi.CodeMalformedBody, "", "the body is neither JSON nor a form: %v", err)
	}
	return b, nil
}
