package jwtverify

import (
	"context"
	"crypto/elliptic"
	"errors"
	"reflect"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestVerifyAlgorithms(t *testing.T) {
	clock := newFakeClock()
	keys := []*testKey{
		newRSAKey(t, 0, "rs256", jwa.RS256()),
		newRSAKey(t, 1, "rs512", jwa.RS512()),
		newRSAKey(t, 2, "ps256", jwa.PS256()),
		newECKey(t, "es256", jwa.ES256(), elliptic.P256()),
		newECKey(t, "es384", jwa.ES384(), elliptic.P384()),
		newECKey(t, "es512", jwa.ES512(), elliptic.P521()),
		newEdKey(t, "ed"),
	}
	var pubs []jwk.Key
	for _, k := range keys {
		pubs = append(pubs, k.jwk(t, true))
	}
	v := newTestVerifier(t, fileConfig(t, pubs...), clock)

	for _, k := range keys {
		t.Run(k.alg.String(), func(t *testing.T) {
			claims, err := v.Verify(context.Background(), sign(t, k, claimsAt(clock.Now()), nil))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got, want := claims["sub"], "user-7"; got != want {
				t.Errorf("sub = %v, want %v", got, want)
			}
			// Plain JSON values, as encoding/json gives them: what CEL expects.
			if got, want := claims["exp"], float64(clock.Now().Unix()+3600); got != want {
				t.Errorf("exp = %#v, want %#v", got, want)
			}
			if got, want := claims["org"], map[string]any{"id": float64(42)}; !reflect.DeepEqual(got, want) {
				t.Errorf("org = %#v, want %#v", got, want)
			}
			if got, want := claims["roles"], []any{"admin"}; !reflect.DeepEqual(got, want) {
				t.Errorf("roles = %#v, want %#v", got, want)
			}
		})
	}
}

// A JWK without "alg" is used for every allowlisted algorithm that fits its type.
func TestVerifyKeyWithoutAlg(t *testing.T) {
	clock := newFakeClock()
	rsaKey := newRSAKey(t, 0, "r", jwa.RS256())
	ecKey := newECKey(t, "e", jwa.ES256(), elliptic.P256())
	v := newTestVerifier(t, fileConfig(t, rsaKey.jwk(t, false), ecKey.jwk(t, false)), clock)
	ctx := context.Background()

	for _, alg := range []jwa.SignatureAlgorithm{jwa.RS256(), jwa.RS384(), jwa.PS512()} {
		k := *rsaKey
		k.alg = alg
		if _, err := v.Verify(ctx, sign(t, &k, claimsAt(clock.Now()), nil)); err != nil {
			t.Errorf("%s with an alg-less RSA key: %v", alg, err)
		}
	}
	// ES384 does not fit a P-256 key even though ES384 is allowlisted.
	k := *ecKey
	k.alg = jwa.ES384()
	k.priv = newECKey(t, "", jwa.ES384(), elliptic.P384()).priv
	_, err := v.Verify(ctx, sign(t, &k, claimsAt(clock.Now()), nil))
	if got, want := ReasonOf(err), ReasonAlgNotAllowed; got != want {
		t.Errorf("ES384 on a P-256 key: reason %q (%v), want %q", got, err, want)
	}
}

func TestVerifyKidSelection(t *testing.T) {
	clock := newFakeClock()
	ctx := context.Background()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	b := newRSAKey(t, 1, "b", jwa.RS256())

	t.Run("no kid, one key", func(t *testing.T) {
		v := newTestVerifier(t, fileConfig(t, a.jwk(t, true)), clock)
		noKid := *a
		noKid.kid = ""
		if _, err := v.Verify(ctx, sign(t, &noKid, claimsAt(clock.Now()), nil)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("no kid, two keys", func(t *testing.T) {
		v := newTestVerifier(t, fileConfig(t, a.jwk(t, true), b.jwk(t, true)), clock)
		noKid := *a
		noKid.kid = ""
		_, err := v.Verify(ctx, sign(t, &noKid, claimsAt(clock.Now()), nil))
		if got, want := ReasonOf(err), ReasonUnknownKID; got != want {
			t.Fatalf("reason %q (%v), want %q", got, err, want)
		}
	})
	t.Run("unknown kid falls back to kid-less key", func(t *testing.T) {
		anon := *a
		anon.kid = ""
		v := newTestVerifier(t, fileConfig(t, anon.jwk(t, true)), clock)
		if _, err := v.Verify(ctx, sign(t, a, claimsAt(clock.Now()), nil)); err != nil {
			t.Fatalf("Verify: %v", err)
		}
	})
	t.Run("kid selects among keys", func(t *testing.T) {
		v := newTestVerifier(t, fileConfig(t, a.jwk(t, true), b.jwk(t, true)), clock)
		for _, k := range []*testKey{a, b} {
			if _, err := v.Verify(ctx, sign(t, k, claimsAt(clock.Now()), nil)); err != nil {
				t.Errorf("kid %s: %v", k.kid, err)
			}
		}
	})
}

// HS256 works only when allowlisted, with oct keys, read from a file.
func TestVerifyHMACFromFile(t *testing.T) {
	clock := newFakeClock()
	hk, hjwk := newHMACKey(t, "h")
	cfg := fileConfig(t, hjwk)
	cfg.Algorithms = []string{"HS256"}
	v := newTestVerifier(t, cfg, clock)
	if _, err := v.Verify(context.Background(), sign(t, hk, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

// Allowing "none" is unsafe; it is supported only as an explicit opt-in.
func TestVerifyNoneWhenAllowed(t *testing.T) {
	clock := newFakeClock()
	cfg := fileConfig(t, newRSAKey(t, 0, "a", jwa.RS256()).jwk(t, true))
	cfg.Algorithms = []string{"RS256", "none"}
	v := newTestVerifier(t, cfg, clock)
	tok := assemble(t, map[string]any{"alg": "none"}, claimsAt(clock.Now()), "")
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerifyAfterClose(t *testing.T) {
	clock := newFakeClock()
	k := newRSAKey(t, 0, "a", jwa.RS256())
	v := newTestVerifier(t, fileConfig(t, k.jwk(t, true)), clock)
	tok := sign(t, k, claimsAt(clock.Now()), nil)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	must(t, v.Close())
	must(t, v.Close())
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify after Close: %v, want ErrKeysUnavailable only", err)
	}
}

func TestInvalidTokenError(t *testing.T) {
	err := invalid(ReasonExpired, "expired at %s", "then")
	if !errors.Is(err, ErrInvalidToken) {
		t.Error("not ErrInvalidToken")
	}
	if got, want := err.Error(), "invalid token: expired: expired at then"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := ReasonOf(errors.New("other")); got != "" {
		t.Errorf("ReasonOf(other) = %q", got)
	}
}
