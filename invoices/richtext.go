package invoices

import (
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/helpdesk-bridge/bridge/invoices/settings"
)

// The header and footer are HTML from the merchant's editor, restricted to
// what the PDF renders faithfully: paragraphs, line breaks, bold, italic,
// underline and three heading levels, without attributes. Sanitize keeps
// exactly that (bluemonday drops every other element, keeping its text,
// and drops scripts and styles with their content); the renderer below
// maps each kept element to the PDF and ignores anything else, should an
// unsanitised string reach it.

// Sanitize returns html restricted to the subset (settings.Sanitize).
func Sanitize(s string) string { return settings.Sanitize(s) }

// richText draws sanitised HTML at the current position, between the left
// and right margins, with lineH mm lines at size pt (headings larger).
func richText(pdf *fpdf.Fpdf, src string, size float64) {
	if src == "" {
		return
	}
	nodes, err := html.ParseFragment(strings.NewReader(src), &html.Node{Type: html.ElementNode, DataAtom: atom.Body, Data: "body"})
	if err != nil {
		return // a fragment of sanitised HTML parses; never mind otherwise
	}
	r := &rich{pdf: pdf, base: size}
	for _, n := range nodes {
		r.node(n, "", size)
	}
	r.endBlock()
}

type rich struct {
	pdf  *fpdf.Fpdf
	base float64
	// inLine says whether text was written since the last line end;
	// space whether the last written character was a space, so that
	// white space collapses across elements as in a browser.
	inLine, space bool
}

func (r *rich) lineH(size float64) float64 { return size * 0.45 }

func (r *rich) endBlock() {
	if r.inLine {
		r.pdf.Ln(-1)
		r.inLine, r.space = false, false
	}
}

func (r *rich) node(n *html.Node, style string, size float64) {
	switch n.Type {
	case html.TextNode:
		t := strings.Join(strings.Fields(n.Data), " ")
		if t == "" {
			if n.Data != "" && r.inLine {
				r.space = true
			}
			return
		}
		lead := n.Data[0] == ' ' || n.Data[0] == '\n' || n.Data[0] == '\t' || n.Data[0] == '\r'
		if (lead || r.space) && r.inLine {
			t = " " + t
		}
		last := n.Data[len(n.Data)-1]
		r.space = last == ' ' || last == '\n' || last == '\t' || last == '\r'
		r.pdf.SetFont(fontFamily, style, size)
		r.pdf.Write(r.lineH(size), t)
		r.inLine = true
		return
	case html.ElementNode:
	default:
		return
	}
	block := false
	switch n.DataAtom {
	case atom.Br:
		r.pdf.SetFont(fontFamily, style, size)
		r.pdf.Ln(r.lineH(size))
		r.inLine, r.space = false, false
		return
	case atom.B, atom.Strong:
		style = addStyle(style, "B")
	case atom.I, atom.Em:
		style = addStyle(style, "I")
	case atom.U:
		style = addStyle(style, "U")
	case atom.P:
		block = true
	case atom.H1, atom.H2, atom.H3:
		block = true
		style = addStyle(style, "B")
		size = r.base + map[atom.Atom]float64{atom.H1: 6, atom.H2: 4, atom.H3: 2}[n.DataAtom]
	case atom.Script, atom.Style:
		return
	}
	if block {
		r.endBlock()
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		r.node(c, style, size)
	}
	if block {
		r.endBlock()
		r.pdf.Ln(r.lineH(r.base) / 3)
	}
}

// addStyle adds one of fpdf's style letters, in its canonical order.
func addStyle(style, s string) string {
	if strings.Contains(style, s) {
		return style
	}
	out := ""
	for _, c := range "BIU" {
		if strings.ContainsRune(style, c) || string(c) == s {
			out += string(c)
		}
	}
	return out
}
