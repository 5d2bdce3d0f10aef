package mailparse

import (
	"regexp"
	"strings"
)

// StripRules say how to find the new text of a reply. Each pattern
// matches one trimmed line.
type StripRules struct {
	// BodyStart and BodyEnd bracket the sender's own words in a
	// marketplace's relay template. When a start marker is found, only
	// what lies between it and the next end marker (or the end) is kept.
	BodyStart, BodyEnd []*regexp.Regexp
	// QuoteHeaders start quoted history ("On … wrote:", "-----Original
	// Message-----", …): everything from the matching line on is cut. A
	// header may be wrapped over two lines; both are tried.
	QuoteHeaders []*regexp.Regexp
	// ForwardedHeaderStart and ForwardedHeaderNext detect an Outlook-style
	// header block: a "From:" line followed, within three lines, by a
	// "Sent:"/"Date:" line.
	ForwardedHeaderStart, ForwardedHeaderNext *regexp.Regexp
	// Signatures start a signature: cut from the matching line on.
	Signatures []*regexp.Regexp
}

func res(exprs ...string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(exprs))
	for i, e := range exprs {
		out[i] = regexp.MustCompile(e)
	}
	return out
}

// DefaultStripRules are the common forms in English, French, German,
// Italian, Spanish, Dutch, Swedish, and Amazon's relay templates.
var DefaultStripRules = &StripRules{
	// Amazon's relay templates (reference marketplaces-2.md §c, secondary
	// sources): old "------------- Begin message -------------" (CA
	// bilingual "Begin message / Début du message") … "------------- End
	// message -------------"; current "------------- Message: -------------"
	// … "End message", PT "Mensagem:" / "Encerrar mensagem", ES
	// "Finalizar mensaje". UNVERIFIED: the ES start label, and every FR,
	// DE, IT, NL, SV label ("Message :", "Nachricht:", "Fin du message",
	// …); they are guesses that only ever narrow the text to a block
	// bracketed by two dash rulers.
	//
	// CDON's relay: "Kunds meddelande:" then the customer's text
	// (marketplaces-2.md §d); "Kundens meddelande:" is UNVERIFIED.
	BodyStart: res(`(?i)^kund(?:s|ens) meddelande\s*:$`, `(?i)^-{5,}\s*(begin message(\s*/\s*d[ée]but du message)?|message\s*:|mensagem\s*:|mensaje\s*:|nachricht\s*:|messaggio\s*:|bericht\s*:|meddelande\s*:|wiadomo[śs][ćc]\s*:)\s*-{5,}$`),
	BodyEnd:   res(`(?i)^-{5,}\s*(end message(\s*/\s*fin du message)?|encerrar mensagem|finalizar mensaje|fin du message|ende der nachricht|nachricht beenden|fine del messaggio|einde bericht|slut på meddelandet|koniec wiadomo[śs]ci)\s*-{5,}$`),
	QuoteHeaders: res(
		`(?i)^on\b.{0,200}\bwrote\s*:$`,
		`(?i)^le\b.{0,200}\ba [ée]crit\s*:$`,
		`(?i)^am\b.{0,200}\bschrieb\b.{0,100}:$`,
		`(?i)^il\b.{0,200}\bha scritto\s*:$`,
		`(?i)^el\b.{0,200}\bescribi[óo]\s*:$`,
		`(?i)^op\b.{0,200}\bschreef\b.{0,100}:$`,
		`(?i)^den\b.{0,200}\bskrev\b.{0,100}:$`,
		`(?i)^-{2,}\s*(original message|message d'origine|ursprüngliche nachricht|messaggio originale|mensaje original|oorspronkelijk bericht|ursprungligt meddelande|forwarded message|message transféré|weitergeleitete nachricht)\s*-{2,}$`,
		`^_{20,}$`,
	),
	ForwardedHeaderStart: regexp.MustCompile(`(?i)^\*?(from|de|von|da|van|från|od)\s*:\*?\s`),
	ForwardedHeaderNext:  regexp.MustCompile(`(?i)^\*?(sent|date|envoyé|gesendet|datum|inviato|data|enviado|fecha|verzonden|skickat|wysłano)\s*:`),
	Signatures: res(
		`^--\s?$`,
		`(?i)^(sent from my|envoyé de mon|von meinem .{1,30} gesendet|inviato da|enviado desde mi|verzonden vanaf mijn|skickat från min)\b.{0,40}$`,
	),
}

// maxStripBytes bounds the text Strip looks at: StrippedText is at most
// this long (helpdesk messages are far shorter; Mirakl caps them at 50,000
// characters).
const maxStripBytes = 1 << 20

// Strip applies the default rules.
func Strip(text string) string { return DefaultStripRules.Strip(text) }

// Strip returns text without the relay template around it, quoted
// history, ">" lines and signatures. It never returns an empty string
// for a text that had words: when stripping would leave nothing (a reply
// that starts with the quote), it keeps the text without ">" lines.
func (r *StripRules) Strip(text string) string {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	if len(text) > maxStripBytes {
		// Bound the line-by-line work; a message that long is read in
		// Text or the original anyway.
		text = text[:maxStripBytes]
		if i := strings.LastIndexByte(text, '\n'); i > 0 {
			text = text[:i]
		}
		text = strings.ToValidUTF8(text, "")
	}
	lines := strings.Split(text, "\n")
	lines = r.bodyBlock(lines)

	var out []string
	cut := false
	for i := 0; i < len(lines) && !cut; i++ {
		t := strings.TrimSpace(lines[i])
		switch {
		case r.quoteHeaderAt(lines, i), r.forwardedHeaderAt(lines, i), anyMatch(r.Signatures, strings.TrimRight(lines[i], " \t")) || anyMatch(r.Signatures, t):
			cut = true
		case strings.HasPrefix(t, ">"):
			// quoted line: drop it, keep interleaved answers
		default:
			out = append(out, strings.TrimRight(lines[i], " \t"))
		}
	}
	s := tidyLines(strings.Join(out, "\n"))
	if s == "" {
		var keep []string
		for _, l := range lines {
			if !strings.HasPrefix(strings.TrimSpace(l), ">") {
				keep = append(keep, l)
			}
		}
		s = tidyLines(strings.Join(keep, "\n"))
	}
	return s
}

func (r *StripRules) bodyBlock(lines []string) []string {
	for i, l := range lines {
		if !anyMatch(r.BodyStart, strings.TrimSpace(l)) {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if anyMatch(r.BodyEnd, strings.TrimSpace(lines[j])) {
				return lines[i+1 : j]
			}
		}
		return lines[i+1:]
	}
	return lines
}

func (r *StripRules) quoteHeaderAt(lines []string, i int) bool {
	t := strings.TrimSpace(lines[i])
	if t == "" {
		return false
	}
	if anyMatch(r.QuoteHeaders, t) {
		// A line of underscores alone is Outlook's separator only when a
		// header block follows.
		if strings.HasPrefix(t, "___") {
			return i+1 < len(lines) && r.forwardedHeaderAt(lines, i+1)
		}
		return true
	}
	if i+1 < len(lines) {
		two := t + " " + strings.TrimSpace(lines[i+1])
		if !strings.HasPrefix(t, "___") && anyMatch(r.QuoteHeaders, two) {
			return true
		}
	}
	return false
}

func (r *StripRules) forwardedHeaderAt(lines []string, i int) bool {
	if r.ForwardedHeaderStart == nil || r.ForwardedHeaderNext == nil {
		return false
	}
	if !r.ForwardedHeaderStart.MatchString(strings.TrimSpace(lines[i])) {
		return false
	}
	for j := i + 1; j < len(lines) && j <= i+3; j++ {
		if r.ForwardedHeaderNext.MatchString(strings.TrimSpace(lines[j])) {
			return true
		}
	}
	return false
}

func anyMatch(rs []*regexp.Regexp, s string) bool {
	for _, r := range rs {
		if r.MatchString(s) {
			return true
		}
	}
	return false
}
