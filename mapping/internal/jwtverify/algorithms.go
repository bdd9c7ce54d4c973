package jwtverify

import (
	"github.com/lestrrat-go/jwx/v3/jwa"
)

// algNone is the "alg" of an unsigned JWS.
const algNone = "none"

// algorithmPolicy is the allowlist of JWS algorithms, resolved to jwx values once.
type algorithmPolicy struct {
	allowed map[string]jwa.SignatureAlgorithm
}

func newAlgorithmPolicy(names []string) algorithmPolicy {
	p := algorithmPolicy{allowed: make(map[string]jwa.SignatureAlgorithm, len(names))}
	for _, name := range names {
		if alg, ok := jwa.LookupSignatureAlgorithm(name); ok { // validated by Config.Validate
			p.allowed[name] = alg
		}
	}
	return p
}

// lookup returns the jwx algorithm for an allowed "alg" header value. The match is exact
// and case-sensitive, as RFC 7515 requires.
func (p algorithmPolicy) lookup(name string) (jwa.SignatureAlgorithm, bool) {
	alg, ok := p.allowed[name]
	return alg, ok
}

// algFitsKey reports whether a JWS algorithm can be used with a key of the given JWK key
// type and curve (RFC 7518 §3, RFC 8037, RFC 9864). This is what stops algorithm
// confusion: an RSA, EC or OKP key never verifies an HMAC token, and an HMAC secret
// never verifies anything else.
func algFitsKey(alg, kty, crv string) bool {
	switch kty {
	case "RSA":
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case "EC":
		switch alg {
		case "ES256":
			return crv == "P-256"
		case "ES384":
			return crv == "P-384"
		case "ES512":
			return crv == "P-521"
		case "ES256K":
			return crv == "secp256k1"
		}
	case "OKP":
		switch alg {
		case "EdDSA", "Ed25519":
			return crv == "Ed25519"
		}
	case "oct":
		switch alg {
		case "HS256", "HS384", "HS512":
			return true
		}
	}
	return false
}
