package jwtverify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

// FuzzVerify: whatever the input, Verify does not panic, accepts only what the trusted
// key signed, and rejects with ErrInvalidToken without echoing the input.
func FuzzVerify(f *testing.F) {
	clock := newFakeClock()
	k := newEdKey(f, "ed")
	cfg := fileConfig(f, k.jwk(f, true))
	cfg.CacheSize = -1
	v := newTestVerifier(f, cfg, clock)
	good := sign(f, k, claimsAt(clock.Now()), nil)
	parts := strings.Split(good, ".")

	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add(parts[0] + ".." + parts[2])
	f.Add(assemble(f, map[string]any{"alg": "none"}, claimsAt(clock.Now()), ""))
	f.Add(assemble(f, map[string]any{"alg": "EdDSA", "kid": "ed", "crit": []string{"x"}, "x": 1}, claimsAt(clock.Now()), parts[2]))
	f.Add(assemble(f, map[string]any{"alg": "HS256", "kid": "ed"}, claimsAt(clock.Now()), parts[2]))
	f.Add("a.b.c.d.e")
	f.Add(`{"payload":"e30"}`)
	f.Add("")
	f.Add("....")

	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(context.Background(), token)
		if err == nil {
			if token != good {
				// Only the seed signed by the trusted key may pass; any other accepted
				// input would be a forgery (or a malleable encoding of the good token).
				t.Fatalf("accepted a token that was not signed: %q", token)
			}
			if claims == nil {
				t.Fatal("nil claims without error")
			}
			return
		}
		if !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("error does not wrap ErrInvalidToken: %v", err)
		}
		if len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Fatalf("error echoes the token: %v", err)
		}
	})
}

// The same check for the algorithm an attacker is most likely to target.
func TestVerifyRejectsResignedHeaders(t *testing.T) {
	clock := newFakeClock()
	k := newRSAKey(t, 0, "rs", jwa.RS256())
	v := newTestVerifier(t, fileConfig(t, k.jwk(t, true)), clock)
	good := sign(t, k, claimsAt(clock.Now()), nil)
	parts := strings.Split(good, ".")
	for _, hdr := range []map[string]any{
		{"alg": "RS256", "kid": "rs", "typ": "JWT", "extra": 1},
		{"alg": "RS256", "kid": "rs"},
		{"alg": "PS256", "kid": "rs"},
	} {
		tok := assemble(t, hdr, claimsAt(clock.Now()), parts[2])
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("header %v with the original signature: %v", hdr, err)
		}
	}
}
