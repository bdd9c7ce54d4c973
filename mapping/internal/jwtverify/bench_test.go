package jwtverify

import (
	"context"
	"crypto/elliptic"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

// benchKeys are the algorithms benchmarked, with typical claims (a ~700-byte RS256 token).
func benchKeys(b *testing.B) []*testKey {
	return []*testKey{
		newRSAKey(b, 0, "rs", jwa.RS256()),
		newECKey(b, "es", jwa.ES256(), elliptic.P256()),
		newEdKey(b, "ed"),
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	for _, k := range benchKeys(b) {
		b.Run(k.alg.String(), func(b *testing.B) {
			clock := newFakeClock()
			v := newTestVerifier(b, fileConfig(b, k.jwk(b, true)), clock)
			tok := sign(b, k, claimsAt(clock.Now()), nil)
			ctx := context.Background()
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(tok)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	k := newRSAKey(b, 0, "rs", jwa.RS256())
	clock := newFakeClock()
	v := newTestVerifier(b, fileConfig(b, k.jwk(b, true)), clock)
	var toks []string
	for n := range 64 {
		c := claimsAt(clock.Now())
		c["n"] = n
		tok := sign(b, k, c, nil)
		if _, err := v.Verify(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
		toks = append(toks, tok)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for n := 0; pb.Next(); n++ {
			if _, err := v.Verify(ctx, toks[n%len(toks)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkVerifyUncached(b *testing.B) {
	for _, k := range benchKeys(b) {
		b.Run(k.alg.String(), func(b *testing.B) {
			clock := newFakeClock()
			cfg := fileConfig(b, k.jwk(b, true))
			cfg.CacheSize = -1
			v := newTestVerifier(b, cfg, clock)
			tok := sign(b, k, claimsAt(clock.Now()), nil)
			ctx := context.Background()
			b.SetBytes(int64(len(tok)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRejectMalformed: the cost an attacker imposes with garbage tokens.
func BenchmarkVerifyRejectMalformed(b *testing.B) {
	k := newRSAKey(b, 0, "rs", jwa.RS256())
	clock := newFakeClock()
	v := newTestVerifier(b, fileConfig(b, k.jwk(b, true)), clock)
	tok := sign(b, k, claimsAt(clock.Now()), nil)
	bad := tok[:len(tok)-10] + "*" + tok[len(tok)-9:]
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, bad); err == nil {
			b.Fatal("accepted")
		}
	}
}
