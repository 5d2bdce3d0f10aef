package mailparse

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

// ReplyLimits are what a relay accepts in a merchant's reply. Each field
// names its source; UNVERIFIED ones are the conservative choice.
type ReplyLimits struct {
	// MaxAttachmentBytes bounds the attachments of one message, together.
	MaxAttachmentBytes int64
	// AllowedExtensions (lower case, with the dot) and AllowedTypes (media
	// types) are the attachment kinds sent; others become a note. An
	// attachment needs an allowed extension, and an allowed media type
	// unless it has none or application/octet-stream.
	AllowedExtensions []string
	AllowedTypes      []string
	// RefuseHTML refuses a text with HTML markup: replies go as plain
	// text.
	RefuseHTML bool
	// AllowedLinkDomains are the only domains (and their subdomains) a
	// link may point to; nil refuses every link.
	AllowedLinkDomains []string
	// RefuseEmailAddresses refuses a text that contains an e-mail address.
	RefuseEmailAddresses bool
	// Sources cites, per rule, where it comes from.
	Sources map[string]string
}

// AmazonReplyLimits are Amazon's buyer-seller messaging rules as far as
// the shared reference gives them.
var AmazonReplyLimits = ReplyLimits{
	// "one or more attachments (up to 10 MB) in a message": taken as 10
	// million bytes for all attachments of a message together.
	MaxAttachmentBytes: 10_000_000,
	// UNVERIFIED: the list of formats did not render in the retrieved
	// help pages. Only common document and image kinds are sent.
	AllowedExtensions: []string{".pdf", ".jpg", ".jpeg", ".png", ".gif", ".txt"},
	AllowedTypes:      []string{"application/pdf", "image/jpeg", "image/png", "image/gif", "text/plain"},
	RefuseHTML:        true,
	// UNVERIFIED which links Amazon lets through; third-party summaries
	// say links are blocked. Links to Amazon's own sites are kept (they
	// are how a buyer reaches an order or a return).
	AllowedLinkDomains: []string{
		"amazon.com", "amazon.co.uk", "amazon.de", "amazon.fr", "amazon.it", "amazon.es", "amazon.nl",
		"amazon.se", "amazon.pl", "amazon.com.be", "amazon.ie", "amazon.ca", "amazon.com.mx", "amazon.com.br",
		"amazon.co.jp", "amazon.com.au", "amazon.com.tr", "amazon.ae", "amazon.sa", "amazon.sg", "amazon.in", "amazon.eg",
	},
	// UNVERIFIED for the relay: the Messaging API refuses e-mail
	// addresses in its texts (marketplaces.md §2), and the relay is for
	// order matters only; applied here as the conservative choice.
	RefuseEmailAddresses: true,
	Sources: map[string]string{
		"attachment_size": "Seller Central help 200389080: attachments up to 10 MB in a message",
		"attachment_type": "UNVERIFIED: supported formats not retrieved",
		"html":            "secondary (plnmw.com, valorebooks): plain text only; Messaging API: no HTML",
		"link":            "secondary: links blocked; UNVERIFIED which are allowed",
		"email_address":   "Messaging API (messaging.json): no e-mail addresses; UNVERIFIED for the relay",
	},
}

// OutgoingAttachment describes a file an agent attached to a reply.
type OutgoingAttachment struct {
	Filename    string
	ContentType string
	Size        int64
}

// Refusal is one thing a relay would refuse, in plain words for a note.
type Refusal struct {
	// Code is one of "empty", "html", "link", "email_address",
	// "attachment_type", "attachment_size".
	Code string
	// Attachment is the file's name for an attachment refusal; empty when
	// the text is refused.
	Attachment string
	English    string
	French     string
}

// ReplyCheck is the verdict on one reply.
type ReplyCheck struct {
	// Text lists why the text cannot be sent as it is; empty when it can.
	Text []Refusal
	// Attachments lists the refused attachments; Send holds the indexes
	// (into the attachments given) of those to send.
	Attachments []Refusal
	Send        []int
}

// OK says whether the reply can go out whole.
func (c ReplyCheck) OK() bool { return len(c.Text) == 0 && len(c.Attachments) == 0 }

// CheckAmazonReply checks a reply against AmazonReplyLimits.
func CheckAmazonReply(text string, atts []OutgoingAttachment) ReplyCheck {
	return AmazonReplyLimits.Check(text, atts)
}

var (
	htmlTag   = regexp.MustCompile(`(?i)<\s*/?\s*(html|head|body|div|p|br|a|span|table|tr|td|img|b|i|u|strong|em|font|script|style|ul|ol|li|h[1-6])(\s[^>]*)?/?>`)
	webLink   = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>()"']+`)
	emailAddr = regexp.MustCompile(`(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b`)
)

// Check checks a reply's text and attachments against the limits.
func (l ReplyLimits) Check(text string, atts []OutgoingAttachment) ReplyCheck {
	var c ReplyCheck
	if strings.TrimSpace(text) == "" {
		c.Text = append(c.Text, Refusal{Code: "empty",
			English: "The reply has no text; Amazon's relay needs a message.",
			French:  "La réponse n'a pas de texte ; le relais d'Amazon exige un message."})
	}
	if l.RefuseHTML && htmlTag.MatchString(text) {
		c.Text = append(c.Text, Refusal{Code: "html",
			English: "The reply contains HTML markup; Amazon accepts plain text only. Remove the markup and send again.",
			French:  "La réponse contient du HTML ; Amazon n'accepte que du texte brut. Retirez la mise en forme et renvoyez."})
	}
	for _, u := range webLink.FindAllString(text, 20) {
		if !l.linkAllowed(u) {
			c.Text = append(c.Text, Refusal{Code: "link",
				English: fmt.Sprintf("The reply contains a link Amazon does not allow (%s). Remove it and send again.", u),
				French:  fmt.Sprintf("La réponse contient un lien qu'Amazon n'autorise pas (%s). Retirez-le et renvoyez.", u)})
			break
		}
	}
	if l.RefuseEmailAddresses {
		if a := emailAddr.FindString(text); a != "" {
			c.Text = append(c.Text, Refusal{Code: "email_address",
				English: fmt.Sprintf("The reply contains an e-mail address (%s); Amazon does not allow them in buyer messages. Remove it and send again.", a),
				French:  fmt.Sprintf("La réponse contient une adresse e-mail (%s) ; Amazon ne les autorise pas dans les messages aux acheteurs. Retirez-la et renvoyez.", a)})
		}
	}

	var total int64
	for i, a := range atts {
		name := a.Filename
		if name == "" {
			name = "(sans nom / unnamed)"
		}
		if !l.typeAllowed(a) {
			c.Attachments = append(c.Attachments, Refusal{Code: "attachment_type", Attachment: a.Filename,
				English: fmt.Sprintf("The attachment %s was not sent: Amazon accepts only %s files.", name, l.extList()),
				French:  fmt.Sprintf("La pièce jointe %s n'a pas été envoyée : Amazon n'accepte que les fichiers %s.", name, l.extList())})
			continue
		}
		if l.MaxAttachmentBytes > 0 && total+a.Size > l.MaxAttachmentBytes {
			mb := float64(l.MaxAttachmentBytes) / 1e6
			c.Attachments = append(c.Attachments, Refusal{Code: "attachment_size", Attachment: a.Filename,
				English: fmt.Sprintf("The attachment %s was not sent: Amazon accepts at most %.0f MB of attachments per message.", name, mb),
				French:  fmt.Sprintf("La pièce jointe %s n'a pas été envoyée : Amazon accepte au plus %.0f Mo de pièces jointes par message.", name, mb)})
			continue
		}
		total += a.Size
		c.Send = append(c.Send, i)
	}
	return c
}

func (l ReplyLimits) linkAllowed(u string) bool {
	if strings.HasPrefix(strings.ToLower(u), "www.") {
		u = "http://" + u
	}
	pu, err := url.Parse(u)
	if err != nil || pu.Hostname() == "" || pu.User != nil {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(pu.Hostname(), "."))
	for _, d := range l.AllowedLinkDomains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

func (l ReplyLimits) typeAllowed(a OutgoingAttachment) bool {
	ext := strings.ToLower(path.Ext(a.Filename))
	okExt := false
	for _, e := range l.AllowedExtensions {
		if ext == e {
			okExt = true
		}
	}
	if !okExt {
		return false
	}
	ct := strings.ToLower(strings.TrimSpace(a.ContentType))
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = strings.TrimSpace(ct[:i])
	}
	if ct == "" || ct == "application/octet-stream" {
		return true
	}
	for _, t := range l.AllowedTypes {
		if ct == t {
			return true
		}
	}
	return false
}

func (l ReplyLimits) extList() string {
	var names []string
	for _, e := range l.AllowedExtensions {
		names = append(names, strings.ToUpper(strings.TrimPrefix(e, ".")))
	}
	return strings.Join(names, ", ")
}
