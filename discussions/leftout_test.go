package discussions

import (
	"strings"
	"testing"
)

func TestLeftOutNoteSpeaksTheAccountsLanguage(t *testing.T) {
	files := []leftOut{{name: "empty.txt", size: 0, kind: leftOutEmpty}, {name: "video.mp4", size: 12 << 20, kind: leftOutTooLarge}, {name: "scan.pdf", size: 1536, kind: leftOutRefused}}
	for lang, want := range map[string][]string{
		"en": {"File not copied into this ticket: empty.txt (0 bytes) — it is empty. Open it in the carrefour back office.",
			"video.mp4 (12 MiB) — it is larger than this helpdesk takes (10 MiB). Open it in the carrefour back office.",
			"scan.pdf (1.5 KiB) — the helpdesk refused it as too large."},
		"fr": {"Fichier non copié dans ce ticket : empty.txt (0 octet) — il est vide. Ouvrez-le dans le back-office carrefour.",
			"video.mp4 (12 Mio) — il dépasse la taille que ce helpdesk accepte (10 Mio).",
			"scan.pdf (1,5 Kio) — le helpdesk l'a refusé, trop volumineux."},
		"de": {"File not copied into this ticket: empty.txt (0 bytes)"},
	} {
		got := leftOutNote(lang, "carrefour", 10<<20, files)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q does not say %q", lang, got, w)
			}
		}
	}
	if got := leftOutNote("en", "carrefour", 10<<20, nil); got != "" {
		t.Errorf("no file left out, note %q", got)
	}
}
