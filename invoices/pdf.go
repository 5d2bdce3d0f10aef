package invoices

import (
	"bytes"
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/shopspring/decimal"
)

// The font is DejaVu Sans, embedded (fonts/LICENSE: Bitstream Vera's
// licence, which allows redistribution): it covers French and every other
// Latin script, and the euro sign, which fpdf's core fonts (cp1252) do
// not reliably. The PDF holds only the glyphs it uses.
var (
	//go:embed fonts/DejaVuSans.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSans-Bold.ttf
	fontBold []byte
	//go:embed fonts/DejaVuSans-Oblique.ttf
	fontItalic []byte
	//go:embed fonts/DejaVuSans-BoldOblique.ttf
	fontBoldItalic []byte
)

const (
	fontFamily = "dejavu"
	fontSize   = 9.0
	margin     = 15.0
)

// labels are the document's words in its language.
type labels struct {
	invoice, creditNote, number, date, saleDate, order, seller, buyer,
	siren, siret, vat, buyerVAT, buyerSIREN,
	description, qty, unitExcl, discountIncl, discountExcl, rate, totalExcl,
	shipping, vatRate, base, vatAmount, sumExcl, sumVAT, sumIncl,
	creditOf, reason, page, colon string
	dateFormat string
	decimalSep string
	groupSep   string
}

var langs = map[string]labels{
	"fr": {
		invoice: "Facture", creditNote: "Avoir", number: "n°", date: "Date", saleDate: "Date de la vente",
		order: "Commande", seller: "Vendeur", buyer: "Client",
		siren: "SIREN", siret: "SIRET", vat: "N° TVA intracommunautaire", buyerVAT: "N° TVA", buyerSIREN: "SIREN",
		description: "Désignation", qty: "Qté", unitExcl: "PU HT", discountIncl: "Remise TTC", discountExcl: "Remise HT",
		rate: "TVA", totalExcl: "Total HT", shipping: "Livraison",
		vatRate: "Taux de TVA", base: "Base HT", vatAmount: "Montant TVA",
		sumExcl: "Total HT", sumVAT: "Total TVA", sumIncl: "Total TTC",
		creditOf: "Avoir sur la facture n° %s du %s", reason: "Motif", page: "Page %d/{nb}",
		dateFormat: "02/01/2006", decimalSep: ",", groupSep: " ", colon: " : ",
	},
	"en": {
		invoice: "Invoice", creditNote: "Credit note", number: "No.", date: "Date", saleDate: "Date of sale",
		order: "Order", seller: "Seller", buyer: "Bill to",
		siren: "SIREN", siret: "SIRET", vat: "VAT number", buyerVAT: "VAT number", buyerSIREN: "SIREN",
		description: "Description", qty: "Qty", unitExcl: "Unit price excl. VAT", discountIncl: "Discount incl. VAT", discountExcl: "Discount excl. VAT",
		rate: "VAT", totalExcl: "Total excl. VAT", shipping: "Shipping",
		vatRate: "VAT rate", base: "Base excl. VAT", vatAmount: "VAT amount",
		sumExcl: "Total excl. VAT", sumVAT: "Total VAT", sumIncl: "Total incl. VAT",
		creditOf: "Credit note for invoice %s of %s", reason: "Reason", page: "Page %d/{nb}",
		dateFormat: "2 January 2006", decimalSep: ".", groupSep: ",", colon: ": ",
	},
}

// Render draws an issued document. The same record gives the same bytes:
// the PDF's dates are the issue date, its catalogs sorted, and nothing else
// in it varies.
func Render(inv *Invoice) ([]byte, error) {
	l, ok := langs[inv.Language]
	if !ok {
		l = langs["fr"]
	}
	issued, err := time.Parse(time.DateOnly, inv.Date)
	if err != nil {
		return nil, fmt.Errorf("invoices: %s: issue date %q: %w", inv.Number, inv.Date, err)
	}
	italic := usesItalic(inv.HeaderHTML) || usesItalic(inv.FooterHTML)
	pdf := newDoc(italic)
	pdf.SetCreationDate(issued)
	pdf.SetModificationDate(issued)
	title := l.invoice
	if inv.Kind == KindCreditNote {
		title = l.creditNote
	}
	pdf.SetTitle(title+" "+inv.Number, true)
	pdf.SetAuthor(inv.Seller.Name, true)

	// The footer sits at the bottom of every page: measure it first, then
	// keep the page's text above it.
	footerH := 0.0
	if inv.FooterHTML != "" {
		footerH = footerHeight(inv.FooterHTML, italic)
	}
	_, pageH := pdf.GetPageSize()
	pdf.SetAutoPageBreak(true, margin+footerH+5)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(pageH - margin - footerH - 5)
		richText(pdf, inv.FooterHTML, fontSize-1)
		pdf.SetY(pageH - margin - 4)
		pdf.SetFont(fontFamily, "", fontSize-2)
		pdf.CellFormat(0, 4, fmt.Sprintf(l.page, pdf.PageNo()), "", 0, "R", false, 0, "")
	})
	pdf.AddPage()
	richText(pdf, inv.HeaderHTML, fontSize)
	pdf.Ln(2)

	// Title, number, dates.
	pdf.SetFont(fontFamily, "B", 16)
	pdf.CellFormat(0, 8, title+" "+l.number+" "+inv.Number, "", 1, "L", false, 0, "")
	pdf.SetFont(fontFamily, "", fontSize)
	line := func(s string) { pdf.MultiCell(0, 4.5, s, "", "L", false) }
	line(l.date + l.colon + l.fmtDate(inv.Date))
	if inv.SaleDate != "" && inv.SaleDate != inv.Date {
		line(l.saleDate + l.colon + l.fmtDate(inv.SaleDate))
	}
	if inv.OrderID != "" {
		line(l.order + l.colon + inv.OrderID)
	}
	if inv.Of != nil {
		pdf.SetFont(fontFamily, "B", fontSize)
		line(fmt.Sprintf(l.creditOf, inv.Of.Number, l.fmtDate(inv.Of.Date)))
		pdf.SetFont(fontFamily, "", fontSize)
	}
	if inv.Reason != "" {
		line(l.reason + l.colon + inv.Reason)
	}
	pdf.Ln(4)

	// Seller left, buyer right.
	top := pdf.GetY()
	block := func(x float64, heading string, lines []string) float64 {
		pdf.SetXY(x, top)
		pdf.SetFont(fontFamily, "B", fontSize)
		pdf.CellFormat(85, 5, heading, "", 2, "L", false, 0, "")
		pdf.SetFont(fontFamily, "", fontSize)
		for _, s := range lines {
			pdf.SetX(x)
			pdf.MultiCell(85, 4.5, s, "", "L", false)
		}
		return pdf.GetY()
	}
	s := inv.Seller
	sl := append([]string{s.Name}, splitLines(s.Address)...)
	if s.SIREN != "" {
		sl = append(sl, l.siren+l.colon+s.SIREN)
	}
	if s.SIRET != "" {
		sl = append(sl, l.siret+l.colon+s.SIRET)
	}
	if s.VATNumber != "" {
		sl = append(sl, l.vat+l.colon+s.VATNumber)
	}
	sl = append(sl, splitLines(s.Mentions)...)
	bl := []string{inv.Buyer.Name}
	if a := inv.Buyer.Address; a != nil {
		for _, x := range []string{a.Name, a.Line1, a.Line2, strings.TrimSpace(a.PostalCode + " " + a.City), a.Region, a.Country} {
			if x != "" && x != inv.Buyer.Name {
				bl = append(bl, x)
			}
		}
	}
	if inv.Buyer.VATNumber != "" {
		bl = append(bl, l.buyerVAT+l.colon+inv.Buyer.VATNumber)
	}
	if inv.Buyer.SIREN != "" {
		bl = append(bl, l.buyerSIREN+l.colon+inv.Buyer.SIREN)
	}
	y1 := block(margin, l.seller, sl)
	y2 := block(110, l.buyer, bl)
	pdf.SetXY(margin, max(y1, y2)+6)

	// Lines.
	disc := l.discountIncl
	if inv.PricesExcludeVAT {
		disc = l.discountExcl
	}
	widths := []float64{72, 12, 26, 24, 16, 30}
	aligns := []string{"L", "R", "R", "R", "R", "R"}
	row := func(cells []string, style string, border string) {
		pdf.SetFont(fontFamily, style, fontSize)
		h := 4.5
		n := 1
		for i, c := range cells {
			if k := len(pdf.SplitText(c, widths[i]-2)); k > n {
				n = k
			}
		}
		if pdf.GetY()+float64(n)*h > pageH-(margin+footerH+5) {
			pdf.AddPage()
		}
		x, y := pdf.GetX(), pdf.GetY()
		for i, c := range cells {
			pdf.SetXY(x, y)
			pdf.MultiCell(widths[i], h, c, "", aligns[i], false)
			x += widths[i]
		}
		pdf.SetXY(margin, y+float64(n)*h)
		if border != "" {
			pdf.Line(margin, pdf.GetY(), margin+sum(widths), pdf.GetY())
		}
		pdf.Ln(1)
	}
	row([]string{l.description, l.qty, l.unitExcl, disc, l.rate, l.totalExcl}, "B", "B")
	money := func(s string) string { return l.money(s, inv.Currency) }
	item := func(a Amounts, desc string) {
		d := ""
		if a.Discount != "" {
			d = money(a.Discount)
		}
		row([]string{desc, fmt.Sprint(a.Quantity), money(a.UnitExcl), d, l.pct(a.Rate), money(a.Excl)}, "", "")
	}
	for _, a := range inv.Lines {
		desc := a.Description
		if a.SKU != "" {
			desc += " (" + a.SKU + ")"
		}
		item(a, desc)
	}
	if sh := inv.Shipping; sh != nil {
		desc := l.shipping
		if sh.Description != "" {
			desc += l.colon + sh.Description
		}
		item(*sh, desc)
	}
	pdf.Line(margin, pdf.GetY(), margin+sum(widths), pdf.GetY())
	pdf.Ln(4)

	// VAT per rate, then the totals, on the right.
	x := margin + sum(widths) - 90
	cell := func(w float64, s, style, align string, ln int) {
		pdf.SetFont(fontFamily, style, fontSize)
		pdf.CellFormat(w, 5, s, "", ln, align, false, 0, "")
	}
	pdf.SetX(x)
	cell(30, l.vatRate, "B", "L", 0)
	cell(30, l.base, "B", "R", 0)
	cell(30, l.vatAmount, "B", "R", 1)
	for _, r := range inv.Rates {
		pdf.SetX(x)
		cell(30, l.pct(r.Rate), "", "L", 0)
		cell(30, money(r.Base), "", "R", 0)
		cell(30, money(r.VAT), "", "R", 1)
	}
	pdf.Ln(3)
	for _, t := range [][2]string{{l.sumExcl, inv.Excl}, {l.sumVAT, inv.VAT}, {l.sumIncl, inv.Incl}} {
		style := ""
		if t[1] == inv.Incl && t[0] == l.sumIncl {
			style = "B"
		}
		pdf.SetX(x)
		cell(60, t[0], style, "L", 0)
		cell(30, money(t[1]), style, "R", 1)
	}

	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("invoices: render %s: %w", inv.Number, err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("invoices: render %s: %w", inv.Number, err)
	}
	return buf.Bytes(), nil
}

// newDoc is an A4 page with the fonts and the fixed settings that make the
// output the same from one run to the next.
func newDoc(italic bool) *fpdf.Fpdf {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCatalogSort(true)
	pdf.SetProducer("helpdesk-bridge invoices", true)
	pdf.SetMargins(margin, margin, margin)
	addFonts(pdf, italic)
	pdf.SetFont(fontFamily, "", fontSize)
	return pdf
}

// addFonts adds the regular and bold faces, and the italic ones only when
// the header or footer asks for them: fpdf parses a font each time one is
// added to a document, which was most of a render's time.
func addFonts(pdf *fpdf.Fpdf, italic bool) {
	pdf.AddUTF8FontFromBytes(fontFamily, "", fontRegular)
	pdf.AddUTF8FontFromBytes(fontFamily, "B", fontBold)
	if italic {
		pdf.AddUTF8FontFromBytes(fontFamily, "I", fontItalic)
		pdf.AddUTF8FontFromBytes(fontFamily, "BI", fontBoldItalic)
	}
}

// usesItalic tells whether sanitised HTML has an italic element.
func usesItalic(html string) bool {
	return strings.Contains(html, "<i>") || strings.Contains(html, "<em>")
}

// footerHeights remembers the height of the footers measured lately: a
// store's footer is the same on all its invoices, and measuring it means
// a document of its own, with its fonts parsed again.
var footerHeights struct {
	sync.Mutex
	m map[string]float64
}

// maxFooterHeights bounds footerHeights: a few footers per store.
const maxFooterHeights = 256

func footerHeight(footer string, italic bool) float64 {
	key := strconv.FormatBool(italic) + footer
	footerHeights.Lock()
	h, ok := footerHeights.m[key]
	footerHeights.Unlock()
	if ok {
		return h
	}
	h = measure(italic, func(p *fpdf.Fpdf) { richText(p, footer, fontSize-1) })
	footerHeights.Lock()
	if footerHeights.m == nil || len(footerHeights.m) >= maxFooterHeights {
		footerHeights.m = map[string]float64{}
	}
	footerHeights.m[key] = h
	footerHeights.Unlock()
	return h
}

// measure returns the height draw takes on a page of the document's width.
func measure(italic bool, draw func(*fpdf.Fpdf)) float64 {
	p := fpdf.New("P", "mm", "A4", "")
	p.SetMargins(margin, margin, margin)
	p.SetAutoPageBreak(false, 0)
	addFonts(p, italic)
	p.AddPage()
	y := p.GetY()
	draw(p)
	return p.GetY() - y
}

func sum(xs []float64) float64 {
	t := 0.0
	for _, x := range xs {
		t += x
	}
	return t
}

func splitLines(s string) []string {
	var out []string
	for _, x := range strings.Split(s, "\n") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func (l labels) fmtDate(d string) string {
	t, err := time.Parse(time.DateOnly, d)
	if err != nil {
		return d
	}
	return t.Format(l.dateFormat)
}

// money prints an amount with two decimals, grouped by thousands, with
// the currency: "1 234,56 €" in French, "€1,234.56" in English.
func (l labels) money(amount, currency string) string {
	d, err := decimal.NewFromString(amount)
	if err != nil {
		return amount + " " + currency
	}
	s := d.StringFixed(2)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	ip, fp, _ := strings.Cut(s, ".")
	var g []string
	for len(ip) > 3 {
		g = append([]string{ip[len(ip)-3:]}, g...)
		ip = ip[:len(ip)-3]
	}
	g = append([]string{ip}, g...)
	num := strings.Join(g, l.groupSep) + l.decimalSep + fp
	if neg {
		num = "-" + num
	}
	sym := map[string]string{"EUR": "€", "GBP": "£", "USD": "$"}[currency]
	if l.decimalSep == "," {
		if sym == "" {
			sym = currency
		}
		return num + " " + sym
	}
	if sym == "" {
		return currency + " " + num
	}
	return sym + num
}

// pct prints a rate: "5,5 %" in French, "5.5%" in English.
func (l labels) pct(rate string) string {
	if l.decimalSep == "," {
		return strings.ReplaceAll(rate, ".", ",") + " %"
	}
	return rate + "%"
}
