package mapping

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// errAmbiguousPath marks a path that the app could route differently from us.
var errAmbiguousPath = errors.New("ambiguous path")

// canonicalPath turns the request target Envoy forwards (":path", query included, not
// decoded) into the path a Flask/Werkzeug app routes on, and the raw query string.
//
// Dot segments written literally are resolved (as browsers and RFC 3986 do), repeated
// slashes are merged (Werkzeug merges them), and percent-escapes are decoded. Forms the
// app and gatehouse could read differently are errors unless allowAmbiguous is set: an
// encoded "/" or "\" (a WSGI server decodes it into a separator), a raw "\", NUL or other
// control characters, invalid escapes or UTF-8, and "." or ".." segments that appear only
// after decoding ("%2e%2e").
func canonicalPath(target string, allowAmbiguous bool) (path, query string, err error) {
	raw, query, _ := strings.Cut(target, "?")
	raw, _, _ = strings.Cut(raw, "#")
	if raw == "" || raw[0] != '/' {
		return "", query, errors.New("path must start with /")
	}
	if !allowAmbiguous {
		if err := checkRawPath(raw); err != nil {
			return "", query, err
		}
	}
	if isPlainPath(raw) {
		return raw, query, nil
	}
	segs := splitSegments(raw)
	segs = removeDotSegments(segs)
	var b strings.Builder
	b.Grow(len(raw))
	for _, s := range segs {
		dec, err := unescapeSegment(s)
		if err != nil {
			return "", query, err
		}
		if !allowAmbiguous && (dec == "." || dec == "..") {
			return "", query, errAmbiguousPath
		}
		b.WriteByte('/')
		b.WriteString(dec)
	}
	path = b.String()
	if path == "" {
		path = "/"
	}
	if !utf8.ValidString(path) {
		return "", query, errors.New("path is not valid UTF-8")
	}
	return path, query, nil
}

// checkRawPath rejects characters and escapes that make a path ambiguous.
func checkRawPath(raw string) error {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c < 0x20 || c == 0x7f:
			return errors.New("path contains a control character")
		case c == '\\':
			return errAmbiguousPath
		case c == '%' && i+2 < len(raw):
			if hexEq(raw[i+1:i+3], "2f") || hexEq(raw[i+1:i+3], "5c") || raw[i+1:i+3] == "00" {
				return errAmbiguousPath
			}
		}
	}
	return nil
}

func hexEq(s, lower string) bool { return strings.EqualFold(s, lower) }

// splitSegments splits "/a//b/" into ["a", "b", ""]: empty segments from repeated slashes
// are dropped, a trailing slash is kept as a final empty segment.
func splitSegments(raw string) []string {
	parts := strings.Split(raw[1:], "/")
	out := parts[:0]
	for i, p := range parts {
		if p == "" && i != len(parts)-1 {
			continue
		}
		out = append(out, p)
	}
	return out
}

// removeDotSegments resolves literal "." and ".." segments; ".." above the root stays at
// the root, as RFC 3986 says.
func removeDotSegments(segs []string) []string {
	out := segs[:0:0]
	for i, s := range segs {
		last := i == len(segs)-1
		switch s {
		case ".":
			if last {
				out = append(out, "")
			}
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
			if last {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return out
}

// unescapeSegment decodes percent-escapes in one segment.
func unescapeSegment(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
			return "", errors.New("path has an invalid percent-escape")
		}
		b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
		i += 2
	}
	return string(b), nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// canonicalHost lower-cases the host, drops the port and a trailing dot.
func canonicalHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}

// isPlainPath reports whether a path is already canonical: no escapes, no repeated
// slashes, no dot segments, no backslashes or control characters, valid UTF-8.
func isPlainPath(raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '%' || c == '\\' || c < 0x20 || c >= 0x7f:
			return false
		case c == '/' && i+1 < len(raw):
			next := raw[i+1]
			if next == '/' {
				return false
			}
			if next == '.' && (i+2 == len(raw) || raw[i+2] == '/' || raw[i+2] == '.' && (i+3 == len(raw) || raw[i+3] == '/')) {
				return false
			}
		}
	}
	return true
}
