// Package pdftest reads a PDF's text for tests, with poppler's pdftotext,
// as a reader of the invoice would see it.
package pdftest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Text is pdf's text as pdftotext lays it out. Without pdftotext the test
// is skipped, except in CI (CI set), where .ci/run installs it.
func Text(t testing.TB, pdf []byte) string {
	t.Helper()
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext is missing (poppler-utils)")
		}
		t.Skip("pdftotext is not installed (poppler-utils)")
	}
	p := filepath.Join(t.TempDir(), "document.pdf")
	if err := os.WriteFile(p, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-layout", "-enc", "UTF-8", p, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}
