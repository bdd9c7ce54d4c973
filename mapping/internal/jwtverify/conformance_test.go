package jwtverify

import (
	"context"
	"crypto/elliptic"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// cerbosKeys is the Cerbos conformance key directory shipped beside the repository.
const cerbosKeys = "../../../../shared/conformance/cerbos/auxdata/keys"

// requireSharedFile returns path, skipping the test when it is absent on a developer
// machine; under CI a missing file fails.
func requireSharedFile(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("conformance data missing: %v", err)
		}
		t.Skipf("conformance data not available: %v", err)
	}
	return path
}

// The Cerbos conformance verification key (a single ES384 JWK, not a set) loads as a
// key file and verifies tokens of its signing key, and only those.
func TestCerbosConformanceVerifyKey(t *testing.T) {
	verifyPath := requireSharedFile(t, filepath.Join(cerbosKeys, "verify_key.jwk"))
	clock := newFakeClock()
	cfg := DefaultConfig()
	cfg.JWKSFile = verifyPath
	v := newTestVerifier(t, cfg, clock)
	ks := v.keys.current()
	if len(ks.all) != 1 || ks.all[0].alg != "ES384" || ks.all[0].crv != "P-384" {
		t.Fatalf("verify_key.jwk loaded as %+v", ks.all)
	}
	kid := ks.all[0].kid
	ctx := context.Background()

	impostor := newECKey(t, kid, jwa.ES384(), elliptic.P384())
	if _, err := v.Verify(ctx, sign(t, impostor, claimsAt(clock.Now()), nil)); !errors.Is(err, ErrInvalidToken) || ReasonOf(err) != ReasonBadSignature {
		t.Errorf("token of another key with the same kid: %v, want bad_signature", err)
	}

	signingPath := filepath.Join(cerbosKeys, "signing_key.jwk")
	data, err := os.ReadFile(signingPath)
	if err != nil {
		t.Logf("no signing key beside the verify key: %v", err)
		return
	}
	signingKey, err := jwk.ParseKey(data)
	must(t, err)
	var priv any
	must(t, jwk.Export(signingKey, &priv))
	signer := &testKey{kid: kid, alg: jwa.ES384(), priv: priv}
	claims, err := v.Verify(ctx, sign(t, signer, claimsAt(clock.Now()), nil))
	if err != nil {
		t.Fatalf("token of the conformance signing key: %v", err)
	}
	if claims["sub"] != "user-7" {
		t.Errorf("claims = %v", claims)
	}
}
