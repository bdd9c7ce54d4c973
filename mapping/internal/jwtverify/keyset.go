package jwtverify

import (
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// verifyKey is one usable verification key of a key set.
type verifyKey struct {
	kid string // "" when the JWK has none
	kty string // "RSA", "EC", "OKP", "oct"
	crv string // curve of EC and OKP keys
	alg string // the JWK's "alg", "" when it has none
	raw any    // public key (or HMAC secret) as jws.WithKey takes it
}

// accepts reports whether the key may verify a token whose header says alg: the JWK's own
// "alg" must match exactly when it has one, and the algorithm must fit the key type.
func (k *verifyKey) accepts(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	return algFitsKey(alg, k.kty, k.crv)
}

func (k *verifyKey) describe() string {
	alg := k.alg
	if alg == "" {
		alg = "(none)"
	}
	return fmt.Sprintf("kid %s (kty %s, alg %s)", quote(k.kid), k.kty, alg)
}

// keySet is an immutable, indexed snapshot of the usable keys of a JWK set. gen changes
// only when the usable keys change, and cached verifications are tied to it.
type keySet struct {
	gen         uint64
	fingerprint [sha256.Size]byte
	byKID       map[string][]*verifyKey // keys without kid are under ""
	all         []*verifyKey
}

// hasKID reports whether any usable key carries kid.
func (s *keySet) hasKID(kid string) bool {
	_, ok := s.byKID[kid]
	return ok
}

// withKID returns the keys with kid that accept alg.
func (s *keySet) withKID(kid, alg string) []*verifyKey {
	var out []*verifyKey
	for _, k := range s.byKID[kid] {
		if k.accepts(alg) {
			out = append(out, k)
		}
	}
	return out
}

// forAlg returns every key that accepts alg, whatever its kid.
func (s *keySet) forAlg(alg string) []*verifyKey {
	var out []*verifyKey
	for _, k := range s.all {
		if k.accepts(alg) {
			out = append(out, k)
		}
	}
	return out
}

// buildKeySet indexes the usable keys of set. It skips, and describes in skipped, keys
// that cannot verify signatures: encryption keys, unsupported key types, keys whose "alg"
// is not a JWS algorithm or does not fit the key, and "oct" keys unless allowSymmetric.
// Private keys are reduced to their public halves. A set without usable keys is an error.
func buildKeySet(set jwk.Set, allowSymmetric bool) (ks *keySet, skipped []string, err error) {
	ks = &keySet{byKID: map[string][]*verifyKey{}}
	var prints [][]byte
	for i := range set.Len() {
		key, _ := set.Key(i)
		vk, fp, why := usableKey(key, allowSymmetric)
		if why != "" {
			kid, _ := key.KeyID()
			skipped = append(skipped, fmt.Sprintf("key %d (kid %s): %s", i, quote(kid), why))
			continue
		}
		ks.all = append(ks.all, vk)
		ks.byKID[vk.kid] = append(ks.byKID[vk.kid], vk) // kid-less keys under ""
		prints = append(prints, fp)
	}
	if len(ks.all) == 0 {
		if len(skipped) == 0 {
			return nil, nil, errors.New("the key set is empty")
		}
		return nil, skipped, fmt.Errorf("no usable verification key: %s", strings.Join(skipped, "; "))
	}
	// The fingerprint does not depend on key order or JSON formatting, so re-serving the
	// same keys keeps the generation (and the token cache).
	slices.SortFunc(prints, func(a, b []byte) int { return slices.Compare(a, b) })
	h := sha256.New()
	for _, p := range prints {
		h.Write(p)
	}
	h.Sum(ks.fingerprint[:0])
	return ks, skipped, nil
}

// usableKey converts one JWK, or says why it is not used.
func usableKey(key jwk.Key, allowSymmetric bool) (vk *verifyKey, fp []byte, why string) {
	if _, ok := key.(jwk.UnsupportedKey); ok {
		return nil, nil, fmt.Sprintf("unsupported key type %q", key.KeyType().String())
	}
	if use, ok := key.KeyUsage(); ok && use != string(jwk.ForSignature) {
		return nil, nil, fmt.Sprintf("use is %q, not \"sig\"", use)
	}
	if ops, ok := key.KeyOps(); ok && !slices.Contains(ops, jwk.KeyOpVerify) {
		return nil, nil, "key_ops lacks \"verify\""
	}
	vk = &verifyKey{kty: key.KeyType().String()}
	vk.kid, _ = key.KeyID()
	if vk.kty == "oct" && !allowSymmetric {
		return nil, nil, "symmetric keys are only used from a JWKS file"
	}
	if c, ok := key.(interface {
		Crv() (jwa.EllipticCurveAlgorithm, bool)
	}); ok {
		if crv, ok := c.Crv(); ok {
			vk.crv = crv.String()
		}
	}
	if alg, ok := key.Algorithm(); ok {
		vk.alg = alg.String()
		if _, ok := jwa.LookupSignatureAlgorithm(vk.alg); !ok || vk.alg == algNone {
			return nil, nil, fmt.Sprintf("alg %q is not a JWS signature algorithm", vk.alg)
		}
		if !algFitsKey(vk.alg, vk.kty, vk.crv) {
			return nil, nil, fmt.Sprintf("alg %q does not fit kty %q", vk.alg, vk.kty)
		}
	}
	pub, err := jwk.PublicKeyOf(key)
	if err != nil {
		return nil, nil, fmt.Sprintf("no public key: %v", err)
	}
	if err := pub.Validate(); err != nil {
		return nil, nil, fmt.Sprintf("invalid key: %v", err)
	}
	if err := jwk.Export(pub, &vk.raw); err != nil {
		return nil, nil, fmt.Sprintf("cannot export key: %v", err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, nil, fmt.Sprintf("no thumbprint: %v", err)
	}
	fp = fmt.Appendf(nil, "%q %q %x\n", vk.kid, vk.alg, tp)
	return vk, fp, ""
}
