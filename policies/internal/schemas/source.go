package schemas

// Source says whose attributes a validation error is about. The values match
// the cerbos.schema.v1.ValidationError.Source protobuf enum.
type Source int

const (
	// SourceUnspecified is the zero value; it is never reported by Validate.
	SourceUnspecified Source = iota
	// SourcePrincipal marks errors in the principal's attributes.
	SourcePrincipal
	// SourceResource marks errors in the resource's attributes.
	SourceResource
)

// String returns the protobuf enum name, e.g. "SOURCE_PRINCIPAL".
func (s Source) String() string {
	switch s {
	case SourcePrincipal:
		return "SOURCE_PRINCIPAL"
	case SourceResource:
		return "SOURCE_RESOURCE"
	default:
		return "SOURCE_UNSPECIFIED"
	}
}

// noun is the word Cerbos uses for the source in load-failure messages.
func (s Source) noun() string {
	switch s {
	case SourcePrincipal:
		return "principal"
	case SourceResource:
		return "resource"
	default:
		return "unspecified"
	}
}
