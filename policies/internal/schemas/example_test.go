package schemas_test

import (
	"fmt"
	"testing/fstest"

	"github.com/gatehouse/gatehouse/policies/internal/schemas"
)

func Example() {
	reg := schemas.NewRegistry(fstest.MapFS{
		"principal.json": {Data: []byte(`{
			"type": "object",
			"required": ["team"],
			"properties": {"department": {"enum": ["marketing", "engineering"]}}
		}`)},
	})
	s, err := reg.Compile("cerbos:///principal.json")
	if err != nil {
		panic(err)
	}
	for _, e := range s.Validate(map[string]any{"department": "accounting"}, schemas.SourcePrincipal) {
		fmt.Printf("%s %s: %s\n", e.Source, e.Path, e.Message)
	}

	_, err = reg.Compile("cerbos:///resources/leave_request.json")
	fmt.Println(schemas.LoadFailure("cerbos:///resources/leave_request.json", schemas.SourceResource, err).Message)
	// Output:
	// SOURCE_PRINCIPAL /: missing properties: 'team'
	// SOURCE_PRINCIPAL /department: value must be one of "marketing", "engineering"
	// Failed to load resource schema "cerbos:///resources/leave_request.json": schema _schemas/resources/leave_request.json doesn't exist
}
