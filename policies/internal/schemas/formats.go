package schemas

import (
	"errors"
	"net/mail"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The format checkers of the jsonschema v5 validator Cerbos uses differ from
// v6's in a few places; these replacements restore the v5 behaviour observed
// on the Cerbos binary. Formats not listed here behave the same in both.
var cerbosFormats = sync.OnceValue(func() []*jsonschema.Format {
	ipv4 := builtinFormat("ipv4")
	ipv6 := builtinFormat("ipv6")
	uriReference := builtinFormat("uri-reference")
	return []*jsonschema.Format{
		{Name: "hostname", Validate: stringFormat(isHostname)},
		{Name: "email", Validate: stringFormat(func(s string) bool { return isEmail(s, ipv4, ipv6) })},
		// "ip-address" is the draft-03 name of ipv4, still known to v5.
		{Name: "ip-address", Validate: ipv4.Validate},
		// "uriref" is v5's alias of uri-reference.
		{Name: "uriref", Validate: uriReference.Validate},
		// v5 does not know "semver"; unknown formats always pass.
		{Name: "semver", Validate: func(any) error { return nil }},
	}
})

// registerFormats installs the v5-compatible format checkers on c.
func registerFormats(c *jsonschema.Compiler) {
	for _, f := range cerbosFormats() {
		c.RegisterFormat(f)
	}
}

// builtinFormat returns the jsonschema package's own checker for a format,
// obtained by compiling a schema that uses it.
func builtinFormat(name string) *jsonschema.Format {
	const loc = "urn:gatehouse:format"
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(loc, map[string]any{"format": name}); err != nil {
		panic("schemas: " + err.Error())
	}
	sch, err := c.Compile(loc)
	if err != nil || sch.Format == nil {
		panic("schemas: no built-in format " + name)
	}
	return sch.Format
}

var errFormat = errors.New("invalid format")

// stringFormat adapts a string predicate to a format checker; values other
// than strings always pass.
func stringFormat(valid func(string) bool) func(any) error {
	return func(v any) error {
		if s, ok := v.(string); ok && !valid(s) {
			return errFormat
		}
		return nil
	}
}

// isHostname accepts dot-separated labels of 1 to 63 ASCII letters, digits
// and hyphens, at most 253 characters without a trailing dot. As in v5, only
// the first label may not start with a hyphen; no label may end with one.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if len(s) > 253 || strings.HasPrefix(s, "-") {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) < 1 || len(label) > 63 || strings.HasSuffix(label, "-") {
			return false
		}
		for _, c := range label {
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
				return false
			}
		}
	}
	return true
}

// isEmail accepts an address of at most 254 bytes whose local part (before
// the last '@') has at most 64 bytes, whose domain is a hostname or a
// bracketed IPv4 or "IPv6:" address, and which net/mail parses as a bare
// address. The local part may hold any UTF-8.
func isEmail(s string, ipv4, ipv6 *jsonschema.Format) bool {
	if len(s) > 254 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 {
		return false
	}
	if len(domain) >= 2 && domain[0] == '[' && domain[len(domain)-1] == ']' {
		ip := domain[1 : len(domain)-1]
		if v6, ok := strings.CutPrefix(ip, "IPv6:"); ok {
			return ipv6.Validate(v6) == nil
		}
		return ipv4.Validate(ip) == nil
	}
	if !isHostname(domain) {
		return false
	}
	_, err := mail.ParseAddress(s)
	return err == nil
}
