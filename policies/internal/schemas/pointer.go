package schemas

import (
	"net/url"
	"strconv"
	"strings"
)

// escapeToken encodes one JSON pointer reference token the way Cerbos prints
// instance locations: "~" and "/" escaped per RFC 6901, then the token
// percent-encoded as a URL path segment.
func escapeToken(tok string) string {
	tok = strings.ReplaceAll(tok, "~", "~0")
	tok = strings.ReplaceAll(tok, "/", "~1")
	return url.PathEscape(tok)
}

// documentPointer renders instance location tokens as a pointer, "" for the root.
func documentPointer(tokens []string) string {
	var sb strings.Builder
	for _, tok := range tokens {
		sb.WriteByte('/')
		sb.WriteString(escapeToken(tok))
	}
	return sb.String()
}

// instancePath renders the Path of a validation error: documentPointer, but
// "/" for the root.
func instancePath(tokens []string) string {
	if len(tokens) == 0 {
		return "/"
	}
	return documentPointer(tokens)
}

// decodeFragment splits a schema location fragment ("/properties/a%20b")
// into unescaped reference tokens. An empty fragment is the root.
func decodeFragment(frag string) []string {
	if frag == "" {
		return nil
	}
	parts := strings.Split(strings.TrimPrefix(frag, "/"), "/")
	for i, p := range parts {
		if u, err := url.PathUnescape(p); err == nil {
			p = u
		}
		p = strings.ReplaceAll(p, "~1", "/")
		parts[i] = strings.ReplaceAll(p, "~0", "~")
	}
	return parts
}

// lookup returns the value at the location tokens inside v.
func lookup(v any, tokens []string) (any, bool) {
	for _, tok := range tokens {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// rawSchema returns the JSON object of the schema at location ("url#fragment")
// among docs, or nil when it is not there (metaschemas, boolean schemas).
func rawSchema(docs map[string]any, location string) map[string]any {
	base, frag := splitFragment(location)
	doc, ok := docs[base]
	if !ok {
		return nil
	}
	v, ok := lookup(doc, decodeFragment(frag))
	if !ok {
		return nil
	}
	obj, _ := v.(map[string]any)
	return obj
}
