package orders

// Exported for the external tests, which also use orderstest (a package
// that imports this one).
var (
	MarshalDoc         = marshalDoc
	UnmarshalDoc       = unmarshalDoc
	IngestLikeDocument = ingestLikeDocument
)
