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

// A copied file is labelled with the type its content shows when helpdesks
// preview that type safely, else left application/octet-stream.
func TestCopiedType(t *testing.T) {
	for name, tt := range map[string]struct {
		data []byte
		want string
	}{
		"png":        {[]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "image/png"},
		"jpeg":       {[]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), "image/jpeg"},
		"gif":        {[]byte("GIF89a\x01\x00\x01\x00"), "image/gif"},
		"pdf":        {[]byte("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), "application/pdf"},
		"text":       {[]byte("Order 1001: the mug arrived broken."), "text/plain; charset=utf-8"},
		"html":       {[]byte("<!DOCTYPE html><html><script>alert(1)</script>"), ""},
		"svg-as-xml": {[]byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>`), ""},
		"zip":        {[]byte("PK\x03\x04\x14\x00\x00\x00"), ""},
		"binary":     {[]byte{0x00, 0x01, 0x02, 0x03, 0xfe}, ""},
	} {
		if got := copiedType(tt.data); got != tt.want {
			t.Errorf("%s: %q, want %q", name, got, tt.want)
		}
	}
}
