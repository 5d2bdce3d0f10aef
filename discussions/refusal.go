package discussions

import (
	"fmt"
	"strings"
)

// refusalKind is why a reply did not go out, in the terms an agent acts on.
type refusalKind int

const (
	refusedTooShort refusalKind = iota
	refusedTooLong
	refusedFilesTooLarge
	refusedNoLink
	refusedFileHost
	refusedByMarketplace
	refusedNoInvoices
	refusedInvoiceNoOrder
	refusedInvoiceNoFiles
	refusedInvoiceFailed
	refusedInvoiceTooLarge
)

// refusal is a reply that did not go out: what the agent reads, and the
// technical detail for whoever looks further.
type refusal struct {
	kind     refusalKind
	got, max int // lengths, for too short and too long
	detail   string
}

// refusalText holds one language's wording. Each reason is a sentence with
// the marketplace's name (and lengths) to fill in, then what to do.
type refusalText struct {
	title, why, todo, detail string
	reasons                  map[refusalKind][2]string
}

var refusalTexts = map[string]refusalText{
	"en": {
		title:  "This reply was NOT sent to %s.",
		why:    "Why: ",
		todo:   "What you can do: ",
		detail: "Technical detail: ",
		reasons: map[refusalKind][2]string{
			refusedTooShort:        {"the text is too short for %s (%d characters; it needs at least %d).", "write a longer reply and send it again."},
			refusedTooLong:         {"the text is too long for %s (%d characters; it takes at most %d).", "shorten the reply, or split it into several, and send it again."},
			refusedFilesTooLarge:   {"%s refused the attached files as too large.", "send smaller files, or fewer at once, and send the reply again."},
			refusedNoLink:          {"a file is too large for %s and the bridge cannot offer it as a download link.", "send a smaller file, or ask your administrator to set the bridge's public URL."},
			refusedFileHost:        {"an attached file was not sent to %s: its link points to a host this helpdesk account does not serve files from.", "attach the file again from your computer, or ask your administrator to add its host to the account's file_hosts."},
			refusedByMarketplace:   {"%s refused this reply.", "check the text and the files (a thread or an order may have reached the marketplace's limit), then send it again, or answer in the %s back office."},
			refusedNoInvoices:      {"the reply asks for the invoice (\"Invoice: attach\"), but invoices are not configured for this store, so nothing was sent to %s.", "ask your administrator to set up invoices, or send the reply again without the \"Invoice: attach\" line."},
			refusedInvoiceNoOrder:  {"the reply asks for the invoice (\"Invoice: attach\"), but this %s discussion is not about an order.", "attach the invoice from the order's own discussion, or send the reply again without the \"Invoice: attach\" line."},
			refusedInvoiceNoFiles:  {"the reply asks for the invoice (\"Invoice: attach\"), but %s takes no files in its messages.", "send the reply again without the \"Invoice: attach\" line, and give the invoice in the %s back office."},
			refusedInvoiceFailed:   {"the reply asks for the invoice (\"Invoice: attach\"), but the invoice of this order could not be made, so nothing was sent to %s.", "check the order and the store's invoice settings (see the technical detail), then send the reply again."},
			refusedInvoiceTooLarge: {"the invoice is too large for %s to take as a file.", "send the reply again without the \"Invoice: attach\" line, and give the invoice in the %s back office."},
		},
	},
	"fr": {
		title:  "Cette réponse n'a PAS été envoyée à %s.",
		why:    "Pourquoi : ",
		todo:   "Que faire : ",
		detail: "Détail technique : ",
		reasons: map[refusalKind][2]string{
			refusedTooShort:        {"le texte est trop court pour %s (%d caractères ; il en faut au moins %d).", "écrivez une réponse plus longue et envoyez-la de nouveau."},
			refusedTooLong:         {"le texte est trop long pour %s (%d caractères ; au plus %d).", "raccourcissez la réponse, ou découpez-la en plusieurs, et envoyez-la de nouveau."},
			refusedFilesTooLarge:   {"%s a refusé les fichiers joints, trop volumineux.", "joignez des fichiers plus petits, ou moins à la fois, et envoyez de nouveau la réponse."},
			refusedNoLink:          {"un fichier est trop volumineux pour %s et le pont ne peut pas le proposer en lien de téléchargement.", "joignez un fichier plus petit, ou demandez à votre administrateur de configurer l'URL publique du pont."},
			refusedFileHost:        {"un fichier joint n'a pas été envoyé à %s : son lien pointe vers un hôte qui ne sert pas les fichiers de ce compte du helpdesk.", "joignez de nouveau le fichier depuis votre ordinateur, ou demandez à votre administrateur d'ajouter son hôte aux file_hosts du compte."},
			refusedByMarketplace:   {"%s a refusé cette réponse.", "vérifiez le texte et les fichiers (la discussion ou la commande a peut-être atteint une limite de la marketplace), puis envoyez-la de nouveau, ou répondez depuis le back-office %s."},
			refusedNoInvoices:      {"la réponse demande la facture (« Facture : joindre »), mais les factures ne sont pas configurées pour cette boutique : rien n'a été envoyé à %s.", "demandez à votre administrateur de configurer les factures, ou envoyez de nouveau la réponse sans la ligne « Facture : joindre »."},
			refusedInvoiceNoOrder:  {"la réponse demande la facture (« Facture : joindre »), mais cette discussion %s ne porte pas sur une commande.", "joignez la facture depuis la discussion de la commande, ou envoyez de nouveau la réponse sans la ligne « Facture : joindre »."},
			refusedInvoiceNoFiles:  {"la réponse demande la facture (« Facture : joindre »), mais %s n'accepte pas de fichiers dans ses messages.", "envoyez de nouveau la réponse sans la ligne « Facture : joindre », et fournissez la facture depuis le back-office %s."},
			refusedInvoiceFailed:   {"la réponse demande la facture (« Facture : joindre »), mais la facture de cette commande n'a pas pu être établie : rien n'a été envoyé à %s.", "vérifiez la commande et les paramètres de facturation de la boutique (voir le détail technique), puis envoyez de nouveau la réponse."},
			refusedInvoiceTooLarge: {"la facture est trop volumineuse pour que %s la prenne en fichier.", "envoyez de nouveau la réponse sans la ligne « Facture : joindre », et fournissez la facture depuis le back-office %s."},
		},
	},
}

// reason is the refusal in plain words, without the technical detail: what
// the discussion API shows.
func (r refusal) reason(language, marketplace string) string {
	t, ok := refusalTexts[language]
	if !ok {
		t = refusalTexts["en"]
	}
	why := t.reasons[r.kind][0]
	switch r.kind {
	case refusedTooShort, refusedTooLong:
		return fmt.Sprintf(why, marketplace, r.got, r.max)
	default:
		return fmt.Sprintf(why, marketplace)
	}
}

// note is the internal note the agent reads: what was refused, why, what
// to do, and the technical detail last.
func (r refusal) note(language, marketplace string) string {
	t, ok := refusalTexts[language]
	if !ok {
		t = refusalTexts["en"]
	}
	todo := t.reasons[r.kind][1]
	if strings.Count(todo, "%s") == 1 {
		todo = fmt.Sprintf(todo, marketplace)
	}
	var b strings.Builder
	fmt.Fprintf(&b, t.title+"\n\n", marketplace)
	b.WriteString(t.why + r.reason(language, marketplace) + "\n")
	b.WriteString(t.todo + todo)
	if r.detail != "" {
		b.WriteString("\n\n" + t.detail + r.detail)
	}
	return b.String()
}
