package jwtverify

import (
	"encoding/base64"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// checkShape rejects what is not a compact JWS before jwx sees it: JSON serialization,
// JWE (five segments), any other segment count, an empty header or payload, and segments
// that are not canonical unpadded base64url.
func checkShape(token string) error {
	if token == "" {
		return invalid(ReasonMalformed, "empty token")
	}
	if token[0] == '{' {
		return invalid(ReasonUnsupported, "JWS JSON serialization; only the compact form is accepted")
	}
	dots := strings.Count(token, ".")
	switch dots {
	case 2:
	case 4:
		return invalid(ReasonUnsupported, "JWE (encrypted) tokens are not accepted")
	default:
		return invalid(ReasonMalformed, "%d dots; a compact JWS has 2", dots)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; !isBase64URL(c) && c != '.' {
			return invalid(ReasonMalformed, "byte %d is not base64url", i)
		}
	}
	for i, seg := range strings.SplitN(token, ".", 3) {
		if seg == "" && i < 2 {
			return invalid(ReasonMalformed, "empty header or payload segment")
		}
		// jwx decodes leniently and verifies over re-encoded bytes, so a token with
		// non-canonical base64 would verify although it is not the text that was signed.
		if _, err := strictBase64.DecodeString(seg); err != nil {
			return invalid(ReasonMalformed, "segment %d is not canonical base64url", i+1)
		}
	}
	return nil
}

var strictBase64 = base64.RawURLEncoding.Strict()

func isBase64URL(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}

// checkHeader applies the header rules to a parsed JWS and returns its algorithm and kid:
//   - "alg" must be present and allowed ("none" only when listed, and then with an empty
//     signature);
//   - "crit" is refused whatever it lists, since no extension is implemented, and so is
//     "b64" (RFC 7797 unencoded payloads);
//   - "cty": "JWT" (a nested JWT) is refused;
//   - "jku", "x5u", "jwk" and "x5c" are ignored: keys only ever come from configuration.
func (s *settings) checkHeader(h jws.Headers, sigLen int) (name string, alg jwa.SignatureAlgorithm, kid string, err error) {
	a, ok := h.Algorithm()
	if !ok || a.String() == "" {
		return "", alg, "", invalid(ReasonMalformed, "header has no alg")
	}
	name = a.String()
	if h.Has(jws.CriticalKey) {
		return "", alg, "", invalid(ReasonUnsupported, "header marks extensions critical (crit); none is supported")
	}
	if h.Has(jws.B64Key) {
		return "", alg, "", invalid(ReasonUnsupported, "header has b64; unencoded payloads are not accepted")
	}
	if cty, ok := h.ContentType(); ok && isJWTContentType(cty) {
		return "", alg, "", invalid(ReasonUnsupported, "nested JWT (cty %s)", quote(cty))
	}
	alg, ok = s.algs.lookup(name)
	if !ok {
		return "", alg, "", invalid(ReasonAlgNotAllowed, "alg %s is not allowed", quote(name))
	}
	if name == algNone && sigLen != 0 {
		return "", alg, "", invalid(ReasonMalformed, "alg none with a signature")
	}
	kid, _ = h.KeyID()
	return name, alg, kid, nil
}

// isJWTContentType reports whether a "cty" value announces a nested JWT (RFC 7519 §5.2).
func isJWTContentType(cty string) bool {
	return strings.EqualFold(cty, "JWT") || strings.EqualFold(cty, "application/jwt")
}
