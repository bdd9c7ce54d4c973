package reqgen

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Signer turns claim sets into compact JWS tokens (JWTs) signed with one
// private JWK. It is safe for concurrent use.
type Signer struct {
	key jwk.Key
	alg jwa.SignatureAlgorithm
}

// LoadSigner reads a private key in JWK form (a single key, not a set) that
// names its algorithm in "alg", such as the conformance signing_key.jwk.
func LoadSigner(path string) (*Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("reqgen: parse %s: %w", path, err)
	}
	return NewSigner(key)
}

// NewSigner returns a Signer for a private key whose "alg" is set.
func NewSigner(key jwk.Key) (*Signer, error) {
	ka, ok := key.Algorithm()
	if !ok {
		return nil, fmt.Errorf("reqgen: signing key has no alg")
	}
	alg, ok := jwa.LookupSignatureAlgorithm(ka.String())
	if !ok {
		return nil, fmt.Errorf("reqgen: %q is not a signature algorithm", ka.String())
	}
	return &Signer{key: key, alg: alg}, nil
}

// Sign serialises claims as the JWT payload exactly as given (no claim is
// added or normalised) and signs it, with typ JWT and the key's kid in the
// protected header.
func (s *Signer) Sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("reqgen: encode claims: %w", err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", err
	}
	if kid, ok := s.key.KeyID(); ok {
		if err := hdr.Set(jws.KeyIDKey, kid); err != nil {
			return "", err
		}
	}
	tok, err := jws.Sign(payload, jws.WithKey(s.alg, s.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("reqgen: sign: %w", err)
	}
	return string(tok), nil
}
