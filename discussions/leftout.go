package discussions

import (
	"fmt"
	"strings"
)

// leftOutKind is why a marketplace file was not copied into the ticket.
type leftOutKind int

const (
	leftOutEmpty    leftOutKind = iota // no content: helpdesks refuse empty files
	leftOutTooLarge                    // over what the helpdesk takes, known before the upload
	leftOutRefused                     // the helpdesk answered that it is too large
)

// leftOut is a file of a marketplace message that the ticket's message
// does not carry. One such file never holds back the message, its other
// files or the rest of the thread: the agent reads where to find it.
type leftOut struct {
	name string
	size int64 // -1 when unknown
	kind leftOutKind
}

var leftOutTexts = map[string]struct {
	intro string
	why   map[leftOutKind]string
	todo  string
}{
	"en": {
		intro: "File not copied into this ticket: ",
		why: map[leftOutKind]string{
			leftOutEmpty:    "it is empty.",
			leftOutTooLarge: "it is larger than this helpdesk takes (%s).",
			leftOutRefused:  "the helpdesk refused it as too large.",
		},
		todo: "Open it in the %s back office.",
	},
	"fr": {
		intro: "Fichier non copié dans ce ticket : ",
		why: map[leftOutKind]string{
			leftOutEmpty:    "il est vide.",
			leftOutTooLarge: "il dépasse la taille que ce helpdesk accepte (%s).",
			leftOutRefused:  "le helpdesk l'a refusé, trop volumineux.",
		},
		todo: "Ouvrez-le dans le back-office %s.",
	},
}

// leftOutNote is what the agent reads, at the end of the message, about
// the files left out of it: one paragraph a file.
func leftOutNote(language, marketplace string, limit int64, files []leftOut) string {
	t, ok := leftOutTexts[language]
	if !ok {
		t, language = leftOutTexts["en"], "en"
	}
	var b strings.Builder
	for _, f := range files {
		b.WriteString("\n\n" + t.intro + f.name)
		if f.size >= 0 {
			b.WriteString(" (" + humanSize(language, f.size) + ")")
		}
		b.WriteString(" — ")
		why := t.why[f.kind]
		if strings.Contains(why, "%s") {
			why = fmt.Sprintf(why, humanSize(language, limit))
		}
		b.WriteString(why + " " + fmt.Sprintf(t.todo, marketplace))
	}
	return b.String()
}

// humanSize is a size as agents read it: bytes, KiB or MiB, in the
// helpdesk account's language.
func humanSize(language string, n int64) string {
	unit, bytes := []string{"KiB", "MiB"}, "bytes"
	if language == "fr" {
		unit, bytes = []string{"Kio", "Mio"}, "octets"
		if n <= 1 {
			bytes = "octet"
		}
	} else if n == 1 {
		bytes = "byte"
	}
	if n < 1<<10 {
		return fmt.Sprintf("%d %s", n, bytes)
	}
	v, u := float64(n)/(1<<10), unit[0]
	if n >= 1<<20 {
		v, u = float64(n)/(1<<20), unit[1]
	}
	s := strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0")
	if language == "fr" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + " " + u
}
