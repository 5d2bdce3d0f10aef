package mailparse

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// HTMLToText turns an HTML body into plain text for a helpdesk: text only,
// no markup, no script or style content, links written as "text <url>"
// when the URL differs from the text. Block elements become line breaks,
// list items get "- ", <pre> keeps its spacing (Amazon puts the buyer's
// text in one <pre> block, per the reference).
func HTMLToText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	var b strings.Builder
	skip := 0 // depth inside script/style/head/title
	pre := 0
	var href string
	var linkText strings.Builder
	inLink := false
	write := func(t string) {
		if inLink {
			linkText.WriteString(t)
		}
		b.WriteString(t)
	}
	newline := func() {
		str := b.String()
		if len(str) == 0 || strings.HasSuffix(str, "\n") {
			return
		}
		b.WriteByte('\n')
	}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			return tidyLines(b.String())
		case html.TextToken:
			if skip > 0 {
				continue
			}
			t := string(z.Text())
			if pre == 0 {
				t = collapseSpace(t)
				if strings.HasSuffix(b.String(), "\n") || b.Len() == 0 {
					t = strings.TrimLeft(t, " ")
				}
			}
			write(t)
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			a := atom.Lookup(name)
			switch a {
			case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript, atom.Template:
				if tt == html.StartTagToken {
					skip++
				}
			case atom.Br:
				b.WriteByte('\n')
			case atom.P, atom.Div, atom.Tr, atom.Table, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
				atom.Blockquote, atom.Ul, atom.Ol, atom.Section, atom.Article, atom.Header, atom.Footer, atom.Hr:
				newline()
			case atom.Li:
				newline()
				b.WriteString("- ")
			case atom.Td, atom.Th:
				if !strings.HasSuffix(b.String(), "\n") && b.Len() > 0 {
					b.WriteByte(' ')
				}
			case atom.Pre:
				newline()
				pre++
			case atom.A:
				href = ""
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "href" {
						href = strings.TrimSpace(string(v))
					}
				}
				inLink = tt == html.StartTagToken
				linkText.Reset()
			case atom.Img:
				for hasAttr {
					var k, v []byte
					k, v, hasAttr = z.TagAttr()
					if string(k) == "alt" && len(v) > 0 && skip == 0 {
						write("[" + collapseSpace(string(v)) + "]")
					}
				}
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			switch a := atom.Lookup(name); a {
			case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript, atom.Template:
				if skip > 0 {
					skip--
				}
			case atom.P, atom.Div, atom.Tr, atom.Table, atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6,
				atom.Blockquote, atom.Ul, atom.Ol, atom.Li, atom.Section, atom.Article, atom.Header, atom.Footer:
				newline()
			case atom.Pre:
				if pre > 0 {
					pre--
				}
				newline()
			case atom.A:
				if inLink && isWebLink(href) && strings.TrimSpace(linkText.String()) != href {
					b.WriteString(" <" + href + ">")
				}
				inLink = false
			}
		}
	}
}

// isWebLink keeps only http(s) and mailto links: javascript: and data:
// URLs never reach an agent.
func isWebLink(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://") || strings.HasPrefix(l, "mailto:")
}

func collapseSpace(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '\f', '\u00a0':
			if !space {
				b.WriteByte(' ')
			}
			space = true
		default:
			b.WriteRune(r)
			space = false
		}
	}
	return b.String()
}

// tidyLines trims trailing spaces and keeps at most one empty line in a
// row.
func tidyLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimRight(l, " \t\u00a0")
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}
