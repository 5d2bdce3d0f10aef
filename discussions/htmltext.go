package discussions

import (
	"strings"

	"golang.org/x/net/html"
)

// PlainText turns a message's HTML into readable plain text: paragraphs
// and line breaks kept, list items bulleted, links kept as "text (url)",
// every tag and script dropped. Text without tags comes back as it is.
func PlainText(s string) string {
	if !strings.ContainsAny(s, "<&") {
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
		b.WriteString(strings.Join(strings.Fields(n.Data), " "))
		if strings.HasSuffix(n.Data, " ") || strings.HasSuffix(n.Data, "\n") {
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
		case "p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table":
			b.WriteString("\n\n")
		}
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
