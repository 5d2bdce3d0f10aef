package orders

// Exported for the external tests, which also use orderstest (a package
// that imports this one).
var (
	MarshalDoc         = marshalDoc
	UnmarshalDoc       = func(form []byte) (*Document, error) { return unmarshalDoc(form, docPacked3) }
	IngestLikeDocument = ingestLikeDocument
)
