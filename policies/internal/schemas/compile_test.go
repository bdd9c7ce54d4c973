package schemas

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
)

// compileCases is testdata/compile_cerbos055.json: a _schemas tree and, per
// reference, the load error Cerbos 0.55.0 reported for it ("" when it
// compiled), without the `Failed to load resource schema "ref": ` prefix.
type compileCases struct {
	Files map[string]string `json:"files"`
	Cases []struct {
		Name      string `json:"name"`
		Ref       string `json:"ref"`
		WantError string `json:"wantError"`
	} `json:"cases"`
}

func TestCompileErrorsMatchCerbos(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "compile_cerbos055.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden compileCases
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	fsys := fstest.MapFS{}
	for name, text := range golden.Files {
		fsys[name] = &fstest.MapFile{Data: []byte(text)}
	}
	reg := NewRegistry(fsys)
	for _, c := range golden.Cases {
		t.Run(c.Name, func(t *testing.T) {
			s, err := reg.Compile(c.Ref)
			if c.WantError == "" {
				if err != nil || s == nil {
					t.Fatalf("Compile(%q) = %v, want success", c.Ref, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Compile(%q) succeeded, want %q", c.Ref, c.WantError)
			}
			if s != nil {
				t.Errorf("Compile(%q) returned a schema with its error", c.Ref)
			}
			if got := err.Error(); got != c.WantError {
				t.Errorf("Compile(%q) error\n got: %s\nwant: %s", c.Ref, got, c.WantError)
			}
			var ce *CompileError
			if !errors.As(err, &ce) || ce.Ref != c.Ref {
				t.Errorf("error %T is not a *CompileError for %q", err, c.Ref)
			}
		})
	}
}

// TestExternalRefsAreNeverRead checks that references Cerbos would resolve on
// the local disk, the network or its working directory are reported as
// missing, with errors that say why.
func TestExternalRefsAreNeverRead(t *testing.T) {
	fsys := fstest.MapFS{
		"principal.json": {Data: []byte(`{"type": "object"}`)},
		"uses_file.json": {Data: []byte(`{"properties": {"a": {"$ref": "file:///etc/hostname"}}}`)},
		"uses_http.json": {Data: []byte(`{"properties": {"a": {"$ref": "https://example.com/s.json#/x"}}}`)},
		"uses_meta.json": {Data: []byte(`{"$schema": "https://example.com/meta", "type": "object"}`)},
	}
	tests := []struct {
		ref, want string
	}{
		{"principal.json", "schema principal.json doesn't exist"},
		{"file:///etc/hostname", "schema /etc/hostname doesn't exist"},
		{"https://example.com/s.json", "schema https://example.com/s.json doesn't exist"},
		{"cerbos:///uses_file.json", "schema /etc/hostname referenced by cerbos:///uses_file.json doesn't exist"},
		{"cerbos:///uses_http.json", "schema https://example.com/s.json referenced by cerbos:///uses_http.json doesn't exist"},
		{"cerbos:///uses_meta.json", "schema https://example.com/meta referenced by cerbos:///uses_meta.json doesn't exist"},
	}
	reg := NewRegistry(fsys)
	for _, tt := range tests {
		_, err := reg.Compile(tt.ref)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Compile(%q) = %v, want %q", tt.ref, err, tt.want)
			continue
		}
		if !errors.Is(err, ErrExternalRef) || !errors.Is(err, ErrSchemaNotFound) {
			t.Errorf("Compile(%q): errors.Is(ErrExternalRef, ErrSchemaNotFound) = %v, %v",
				tt.ref, errors.Is(err, ErrExternalRef), errors.Is(err, ErrSchemaNotFound))
		}
	}

	_, err := reg.Compile("cerbos:///missing.json")
	if !errors.Is(err, ErrSchemaNotFound) || errors.Is(err, ErrExternalRef) {
		t.Errorf("missing repository file: got %v, want ErrSchemaNotFound only", err)
	}
	if !errors.Is(err, ErrSchemaNotFound) {
		t.Errorf("missing repository file is not fs.ErrNotExist-like: %v", err)
	}
	_ = fs.ErrNotExist
}
