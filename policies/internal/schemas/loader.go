package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/url"
	"strings"
)

// cerbosScheme is the URL scheme of documents inside the registry.
const cerbosScheme = "cerbos"

// document is one parsed schema document, or why it could not be read.
type document struct {
	value any
	err   error
}

// load returns the parsed document at rawURL (which has no fragment). Results,
// failures included, are cached. The caller holds r.mu.
func (r *Registry) load(rawURL string) (any, error) {
	if d, ok := r.docs[rawURL]; ok {
		return d.value, d.err
	}
	v, err := r.read(rawURL)
	r.docs[rawURL] = document{value: v, err: err}
	return v, err
}

// read fetches and parses a document. Only cerbos URLs are ever read.
func (r *Registry) read(rawURL string) (any, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case cerbosScheme:
		name := strings.TrimPrefix(u.Path, "/")
		if !fs.ValidPath(name) || name == "." {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
		}
		if r.fsys == nil {
			return nil, &missingError{display: "_schemas/" + name}
		}
		data, err := fs.ReadFile(r.fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &missingError{display: "_schemas/" + name}
		}
		if err != nil {
			return nil, err
		}
		return parseDocument(rawURL, data)
	case "file":
		return nil, &missingError{display: u.Path, external: true}
	case "http", "https":
		return nil, &missingError{display: rawURL, external: true}
	case "":
		return nil, &missingError{display: rawURL, external: true}
	default:
		return nil, &unsupportedSchemeError{url: rawURL}
	}
}

// parseDocument decodes the first JSON value of data, keeping numbers as
// json.Number so that their text survives into error messages. Anything after
// the first value is ignored, as Cerbos does.
func parseDocument(rawURL string, data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, &invalidJSONError{url: rawURL, err: err}
	}
	return v, nil
}

// compileLoader feeds documents to one jsonschema compilation and remembers
// the ones it handed out, so that error messages can consult their text.
type compileLoader struct {
	r    *Registry
	used map[string]any
}

// Load implements jsonschema.URLLoader.
func (l *compileLoader) Load(rawURL string) (any, error) {
	v, err := l.r.load(rawURL)
	if err != nil {
		return nil, err
	}
	l.used[rawURL] = v
	return v, nil
}

// splitFragment splits a URL or reference at its first '#'.
func splitFragment(s string) (base, fragment string) {
	base, fragment, _ = strings.Cut(s, "#")
	return base, fragment
}
