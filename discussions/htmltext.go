package discussions

import (
	"regexp"
	"strings"
	"unicode"

	"golang.org/x/net/html"
)

// PlainText turns a message's HTML into readable plain text: paragraphs
// and line breaks kept, list items bulleted, links kept as "text (url)",
// every tag and script dropped. Text without HTML tags comes back as it
// is, its line breaks, "<" and "&" included: a buyer's plain text that
// mentions "<3" or "A & B" is no markup.
func PlainText(s string) string {
	if !htmlTag.MatchString(s) {
		// Entities alone ("Fish &amp; chips") are unescaped, the rest kept.
		if htmlEntity.MatchString(s) {
			return html.UnescapeString(s)
		}
		return s
	}
	root, err := html.Parse(strings.NewReader(s))
	if err != nil {
		return s
	}
	var b strings.Builder
	walk(&b, root)
	return tidy(b.String())
}

func walk(b *strings.Builder, n *html.Node) {
	switch n.Type {
	case html.TextNode:
		words := strings.Fields(n.Data)
		if len(words) == 0 {
			if n.Data != "" {
				space(b)
			}
			return
		}
		// The space around a text, where an inline tag meets it ("the
		// <b>mug</b> is"), separates words.
		if unicode.IsSpace(rune(n.Data[0])) {
			space(b)
		}
		b.WriteString(strings.Join(words, " "))
		if unicode.IsSpace(rune(n.Data[len(n.Data)-1])) {
			b.WriteByte(' ')
		}
		return
	case html.ElementNode:
		switch n.Data {
		case "script", "style", "head", "title":
			return
		case "br":
			b.WriteByte('\n')
			return
		case "li":
			b.WriteString("\n- ")
		case "p", "div", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "blockquote", "table":
			b.WriteString("\n\n")
		case "td", "th":
			b.WriteString(" ")
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(b, c)
	}
	if n.Type == html.ElementNode {
		switch n.Data {
		case "a":
			if href := attr(n, "href"); href != "" && (strings.HasPrefix(href, "http://") || strings.HasPrefix(href, "https://") || strings.HasPrefix(href, "mailto:")) {
				if text := strings.TrimSpace(textOf(n)); text != href && text != strings.TrimPrefix(href, "mailto:") {
					b.WriteString(" (" + href + ")")
				}
			}
		case "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul", "ol":
			b.WriteString("\n\n")
		}
	}
}

// htmlTag finds an HTML element a message's markup would use; text
// without one is plain.
var htmlTag = regexp.MustCompile(`(?i)</?(p|br|div|span|b|i|u|s|strong|em|a|ul|ol|li|table|thead|tbody|tr|td|th|h[1-6]|blockquote|img|font|hr|pre|code|small|sup|sub|center|html|body|head|style|script)(\s[^<>]*)?/?>`)

var htmlEntity = regexp.MustCompile(`&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});`)

// space writes one space unless the text so far ends with a space or a
// line break.
func space(b *strings.Builder) {
	if s := b.String(); s != "" && !strings.HasSuffix(s, " ") && !strings.HasSuffix(s, "\n") {
		b.WriteByte(' ')
	}
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	var f func(*html.Node)
	f = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			f(c)
		}
	}
	f(n)
	return b.String()
}

// tidy trims each line and keeps at most one blank line in a row.
func tidy(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	blank := false
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			if !blank && len(out) > 0 {
				out = append(out, "")
			}
			blank = true
			continue
		}
		blank = false
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
