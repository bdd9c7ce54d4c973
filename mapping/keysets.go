package mapping

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// KeySets verifies JWTs against named JSON Web Key sets, as Cerbos's auxData.jwt.keySets
// configuration does for the auxData of CheckResources requests. It implements
// policies.JWTVerifier and is safe for concurrent use.
type KeySets struct {
	sets map[string]jwk.Set
	ids  []string
	// Skew is the clock skew accepted on exp and nbf.
	Skew time.Duration
}

// LoadKeySets reads JWK set files: id → path. A file may hold a JWK set or a single JWK.
func LoadKeySets(files map[string]string) (*KeySets, error) {
	ks := &KeySets{sets: map[string]jwk.Set{}}
	for id, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("key set %q: %w", id, err)
		}
		set, err := jwk.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("key set %q (%s): %w", id, path, err)
		}
		if err := requireAlgorithms(set); err != nil {
			return nil, fmt.Errorf("key set %q (%s): %w", id, path, err)
		}
		ks.sets[id] = set
		ks.ids = append(ks.ids, id)
	}
	sort.Strings(ks.ids)
	return ks, nil
}

// requireAlgorithms rejects keys without "alg": the verifier never trusts the token header
// to choose the algorithm.
func requireAlgorithms(set jwk.Set) error {
	for i := 0; i < set.Len(); i++ {
		key, _ := set.Key(i)
		if _, ok := key.Algorithm(); !ok {
			kid, _ := key.KeyID()
			return fmt.Errorf("key %d (kid %q) has no \"alg\"", i, kid)
		}
	}
	return nil
}

// Verify checks the token's signature against the key set keySetID (which may be empty
// when only one set is configured) and its exp/nbf, and returns its claims.
func (ks *KeySets) Verify(token, keySetID string) (map[string]any, error) {
	if ks == nil || len(ks.sets) == 0 {
		return nil, errors.New("no JWT key sets are configured")
	}
	if keySetID == "" {
		if len(ks.sets) > 1 {
			return nil, fmt.Errorf("keySetId is required: key sets %s are configured", strings.Join(ks.ids, ", "))
		}
		keySetID = ks.ids[0]
	}
	set, ok := ks.sets[keySetID]
	if !ok {
		return nil, fmt.Errorf("unknown keySetId %q", keySetID)
	}
	if _, err := jwt.Parse([]byte(token), jwt.WithKeySet(set), jwt.WithValidate(true), jwt.WithAcceptableSkew(ks.Skew)); err != nil {
		return nil, fmt.Errorf("failed to verify JWT: %w", err)
	}
	return tokenClaims(token)
}

// tokenClaims decodes the payload of an already verified compact JWS. Numbers are
// float64, as for every JSON value policies see; a single "aud" becomes a list.
func tokenClaims(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("token is not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("token payload: %w", err)
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("token payload: %w", err)
	}
	if aud, ok := claims["aud"].(string); ok {
		claims["aud"] = []any{aud}
	}
	return claims, nil
}
