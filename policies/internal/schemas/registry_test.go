package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/fstest"
)

var teamSchema = fstest.MapFS{
	"principal.json": {Data: []byte(`{
		"type": "object",
		"required": ["team"],
		"properties": {
			"team": {"type": "string"},
			"level": {"type": "integer", "maximum": 10},
			"tags": {"type": "array", "items": {"type": "string"}}
		}
	}`)},
}

func TestNilFileSystemHoldsNoSchemas(t *testing.T) {
	_, err := NewRegistry(nil).Compile("cerbos:///principal.json")
	if err == nil || err.Error() != "schema _schemas/principal.json doesn't exist" {
		t.Fatalf("got %v", err)
	}
	if !errors.Is(err, ErrSchemaNotFound) {
		t.Errorf("errors.Is(err, ErrSchemaNotFound) = false")
	}
}

func TestCompileCachesResults(t *testing.T) {
	reg := NewRegistry(teamSchema)
	s1, err := reg.Compile("cerbos:///principal.json")
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := reg.Compile("cerbos:///principal.json")
	if s1 != s2 {
		t.Error("second Compile returned a different schema")
	}
	if s1.Ref() != "cerbos:///principal.json" {
		t.Errorf("Ref() = %q", s1.Ref())
	}
	_, err1 := reg.Compile("cerbos:///nope.json")
	_, err2 := reg.Compile("cerbos:///nope.json")
	if err1 == nil || err1 != err2 {
		t.Errorf("failures are not cached: %v, %v", err1, err2)
	}
}

func TestValidateInputs(t *testing.T) {
	s, err := NewRegistry(teamSchema).Compile("cerbos:///principal.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		attrs map[string]any
		src   Source
		want  []ValidationError
	}{
		{
			name:  "valid",
			attrs: map[string]any{"team": "design", "level": 3.0},
			src:   SourcePrincipal,
		},
		{
			name: "nil attributes are an empty object",
			src:  SourcePrincipal,
			want: []ValidationError{{Path: "/", Message: "missing properties: 'team'", Source: SourcePrincipal}},
		},
		{
			name:  "json.Number prints like the float64 Cerbos decodes",
			attrs: map[string]any{"team": "x", "level": json.Number("100000000")},
			src:   SourceResource,
			want:  []ValidationError{{Path: "/level", Message: "must be <= 10 but found 1e+08", Source: SourceResource}},
		},
		{
			name:  "Go integers",
			attrs: map[string]any{"team": 7, "level": int64(11), "tags": []any{uint8(1)}},
			src:   SourceResource,
			want: []ValidationError{
				{Path: "/level", Message: "must be <= 10 but found 11", Source: SourceResource},
				{Path: "/tags/0", Message: "expected string, but got number", Source: SourceResource},
				{Path: "/team", Message: "expected string, but got number", Source: SourceResource},
			},
		},
		{
			name:  "integer-valued json.Number is an integer",
			attrs: map[string]any{"team": "x", "level": json.Number("2.0")},
			src:   SourcePrincipal,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := s.Validate(tt.attrs, tt.src)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestValidateDoesNotModifyAttributes(t *testing.T) {
	s, err := NewRegistry(teamSchema).Compile("cerbos:///principal.json")
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]any{"team": "x", "level": json.Number("12"), "tags": []any{json.Number("1")}}
	s.Validate(attrs, SourcePrincipal)
	if attrs["level"] != json.Number("12") || attrs["tags"].([]any)[0] != json.Number("1") {
		t.Errorf("attributes were modified: %v", attrs)
	}
}

func TestSourceString(t *testing.T) {
	for src, want := range map[Source]string{
		SourcePrincipal:   "SOURCE_PRINCIPAL",
		SourceResource:    "SOURCE_RESOURCE",
		SourceUnspecified: "SOURCE_UNSPECIFIED",
	} {
		if got := src.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", src, got, want)
		}
	}
}

func TestLoadFailure(t *testing.T) {
	_, err := NewRegistry(nil).Compile("cerbos:///blah.json")
	got := LoadFailure("cerbos:///blah.json", SourceResource, err)
	want := ValidationError{
		Message: `Failed to load resource schema "cerbos:///blah.json": schema _schemas/blah.json doesn't exist`,
		Source:  SourceResource,
	}
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestConcurrentUse compiles and validates from many goroutines; run with
// -race.
func TestConcurrentUse(t *testing.T) {
	fsys := fstest.MapFS{}
	for i := range 4 {
		fsys[fmt.Sprintf("s%d.json", i)] = &fstest.MapFile{Data: []byte(
			`{"properties": {"a": {"$ref": "cerbos:///shared.json"}}, "required": ["b"]}`)}
	}
	fsys["shared.json"] = &fstest.MapFile{Data: []byte(`{"type": "string", "enum": ["x"], "minLength": 3}`)}
	reg := NewRegistry(fsys)
	want := []ValidationError{
		{Path: "/", Message: "missing properties: 'b'", Source: SourceResource},
		{Path: "/a", Message: "length must be >= 3, but got 1", Source: SourceResource},
		{Path: "/a", Message: `value must be "x"`, Source: SourceResource},
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 20 {
				s, err := reg.Compile(fmt.Sprintf("cerbos:///s%d.json", (g+i)%4))
				if err != nil {
					t.Error(err)
					return
				}
				if got := s.Validate(map[string]any{"a": "y"}, SourceResource); !slices.Equal(got, want) {
					t.Errorf("got %q", got)
					return
				}
			}
		})
	}
	wg.Wait()
}
