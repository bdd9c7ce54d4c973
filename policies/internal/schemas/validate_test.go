package schemas

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"
)

// validateCase is one entry of testdata/validate_cerbos055.json: a schema,
// extra schema files, an attributes object, and the validation errors the
// Cerbos 0.55.0 binary reported for them (additionalProperties lists sorted).
type validateCase struct {
	Name     string            `json:"name"`
	Schema   string            `json:"schema"`
	Files    map[string]string `json:"files"`
	Instance json.RawMessage   `json:"instance"`
	Want     []struct {
		Path    string `json:"path"`
		Message string `json:"message"`
	} `json:"want"`
}

func loadValidateCases(t testing.TB) []validateCase {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "validate_cerbos055.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []validateCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatal(err)
	}
	return cases
}

func (c validateCase) registry() *Registry {
	fsys := fstest.MapFS{"case.json": {Data: []byte(c.Schema)}}
	for name, text := range c.Files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	return NewRegistry(fsys)
}

// TestValidateMatchesCerbos replays the errors the Cerbos binary reported,
// once with float64 numbers and once with json.Number.
func TestValidateMatchesCerbos(t *testing.T) {
	for _, c := range loadValidateCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			s, err := c.registry().Compile("cerbos:///case.json")
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			want := make([]ValidationError, len(c.Want))
			for i, w := range c.Want {
				want[i] = ValidationError{Path: w.Path, Message: w.Message, Source: SourceResource}
			}
			sortValidationErrors(want)

			for _, useNumber := range []bool{false, true} {
				dec := json.NewDecoder(bytes.NewReader(c.Instance))
				if useNumber {
					dec.UseNumber()
				}
				var attrs map[string]any
				if err := dec.Decode(&attrs); err != nil {
					t.Fatal(err)
				}
				got := s.Validate(attrs, SourceResource)
				if !slices.Equal(got, want) {
					t.Errorf("useNumber=%v\n got: %q\nwant: %q", useNumber, got, want)
				}
			}
		})
	}
}
