package decisionlog

import (
	"slices"
	"strings"
)

// Redacted replaces the value of a secret attribute.
const Redacted = "[REDACTED]"

// builtinRedact are the attribute names always redacted.
var builtinRedact = []string{
	"authorization", "cookie", "set-cookie", "token", "access_token", "id_token",
	"refresh_token", "password", "secret", "api_key", "apikey",
}

// BuiltinRedact returns the attribute names always redacted, whatever Options.Redact
// says.
func BuiltinRedact() []string { return slices.Clone(builtinRedact) }

// encoder holds what encoding needs beyond the line: the redacted names. It is read-only
// once built.
type encoder struct {
	// byLast indexes the normalized redacted names by their last byte.
	byLast [256][]string
}

func newEncoder(extra []string) *encoder {
	e := &encoder{}
	for _, list := range [][]string{builtinRedact, extra} {
		for _, name := range list {
			n := string(appendNormalized(nil, name))
			if n == "" || slices.Contains(e.byLast[n[len(n)-1]], n) {
				continue
			}
			e.byLast[n[len(n)-1]] = append(e.byLast[n[len(n)-1]], n)
		}
	}
	return e
}

// appendNormalized appends name lower-cased (ASCII), without the separators - _ and . so
// that access_token, Access-Token and accessToken compare equal.
func appendNormalized(b []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		if c := name[i]; !isSeparator(c) {
			b = append(b, lower(c))
		}
	}
	return b
}

// secret reports whether the attribute name k is redacted: once normalized, it is or ends
// with a redacted name (client_secret, X-Api-Key, csrfToken).
func (e *encoder) secret(k string) bool {
	i := len(k) - 1
	for i >= 0 && isSeparator(k[i]) {
		i--
	}
	if i < 0 {
		return false
	}
	for _, name := range e.byLast[lower(k[i])] {
		if hasNormalizedSuffix(k[:i+1], name) {
			return true
		}
	}
	return false
}

// hasNormalizedSuffix reports whether k, normalized, ends with the normalized name.
func hasNormalizedSuffix(k, name string) bool {
	i := len(k) - 1
	for j := len(name) - 1; j >= 0; j-- {
		for i >= 0 && isSeparator(k[i]) {
			i--
		}
		if i < 0 || lower(k[i]) != name[j] {
			return false
		}
		i--
	}
	return true
}

func isSeparator(c byte) bool { return c == '-' || c == '_' || c == '.' }

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// credentialShaped reports whether s looks like a credential: an HTTP authorization value
// with a common scheme, or a compact JWS/JWE (base64url JSON header, then dots).
func credentialShaped(s string) bool {
	if len(s) < 6 {
		return false
	}
	switch s[0] | 0x20 { // the first letters of the schemes below, and "eyJ"
	case 'b', 'd', 'n', 'e':
	default:
		return false
	}
	if strings.HasPrefix(s, "eyJ") && strings.IndexByte(s, '.') > 0 {
		return true
	}
	for _, scheme := range [...]string{"bearer ", "basic ", "digest ", "negotiate "} {
		if len(s) > len(scheme) && strings.EqualFold(s[:len(scheme)], scheme) {
			return true
		}
	}
	return false
}

// appendFreeString appends a string that may carry a credential by mistake.
func appendFreeString(b []byte, s string) []byte {
	if credentialShaped(s) {
		return appendString(b, Redacted)
	}
	return appendString(b, s)
}
