package jwtverify

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Verifier verifies bearer tokens against one key source. It is safe for concurrent use.
type Verifier struct {
	cfg       settings
	keys      *keyStore
	cache     *tokenCache // nil when disabled
	closed    atomic.Bool
	closeOnce sync.Once
}

// New validates cfg, loads the keys once within ctx and starts refreshing them in the
// background until Close. It fails, with an error wrapping ErrKeysUnavailable and naming
// the file or URL, when no usable key can be loaded.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	s, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return newVerifier(ctx, s)
}

func newVerifier(ctx context.Context, s settings) (*Verifier, error) {
	var src keySource
	if s.file != "" {
		src = &fileSource{path: s.file}
	} else {
		src = &urlSource{url: s.urlString, client: s.httpClient}
	}
	v := &Verifier{cfg: s, cache: newTokenCache(s.cacheSize)}
	var err error
	v.keys, err = newKeyStore(ctx, s, src, v.keysChanged)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// keysChanged drops every cached verification when the key set changes.
func (v *Verifier) keysChanged() {
	if v.cache != nil {
		v.cache.purge()
	}
}

// Close stops the background refresh and waits for it. Verify then fails with
// ErrKeysUnavailable. Close is idempotent and always returns nil.
func (v *Verifier) Close() error {
	v.closeOnce.Do(func() {
		v.closed.Store(true)
		v.keys.close()
	})
	return nil
}

// Verify checks a compact JWS token (without any "Bearer " prefix) and returns its
// claims. A rejected token gives an error wrapping ErrInvalidToken (see ReasonOf);
// ErrKeysUnavailable means the Verifier cannot verify at all; an error wrapping
// ctx.Err() means ctx ended while waiting for a key refetch. ctx is only used for that
// wait.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	claims, _, err := v.VerifyCached(ctx, token)
	return claims, err
}

// VerifyCached is Verify that also reports whether the claims came from the cache of
// verified tokens.
func (v *Verifier) VerifyCached(ctx context.Context, token string) (claims Claims, cached bool, err error) {
	if v.closed.Load() {
		return nil, false, fmt.Errorf("jwtverify: %w: verifier is closed", ErrKeysUnavailable)
	}
	if len(token) > MaxTokenSize {
		return nil, false, invalid(ReasonTooLarge, "%d bytes, more than %d", len(token), MaxTokenSize)
	}
	now := v.cfg.now()
	nowNS := now.UnixNano()
	var digest [32]byte
	if v.cache != nil {
		digest = tokenDigest(token)
		if claims, ok := v.cache.get(&digest, nowNS, v.keys.current().gen); ok {
			return claims, true, nil
		}
	}
	claims, until, gen, err := v.verify(ctx, token, now)
	if err != nil {
		return nil, false, err
	}
	if v.cache != nil && until > nowNS {
		v.cache.put(&digest, cacheEntry{claims: claims, until: until, gen: gen}, nowNS)
	}
	return claims, false, nil
}

// verify does the full check of a token that is not cached. It returns the claims, the
// time until which they may be cached and the key set generation that verified them.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (Claims, int64, uint64, error) {
	if err := checkShape(token); err != nil {
		return nil, 0, 0, err
	}
	raw := []byte(token)
	msg, err := jws.Parse(raw, jws.WithCompact())
	if err != nil {
		return nil, 0, 0, invalidWrap(ReasonMalformed, err, "not a compact JWS")
	}
	sigs := msg.Signatures()
	if len(sigs) != 1 {
		return nil, 0, 0, invalid(ReasonMalformed, "%d signatures", len(sigs))
	}
	name, alg, kid, err := v.cfg.checkHeader(sigs[0].ProtectedHeaders(), len(sigs[0].Signature()))
	if err != nil {
		return nil, 0, 0, err
	}

	var payload []byte
	var gen uint64
	if name == algNone {
		// Reachable only when "none" is allowlisted: nothing is verified.
		payload, gen = msg.Payload(), v.keys.current().gen
	} else {
		ks, keys, err := v.selectKeys(ctx, kid, name)
		if err != nil {
			return nil, 0, 0, err
		}
		if payload, err = verifySignature(raw, alg, keys); err != nil {
			return nil, 0, 0, err
		}
		gen = ks.gen
	}

	claims, err := decodeClaims(payload)
	if err != nil {
		return nil, 0, 0, err
	}
	until, err := v.cfg.checkClaims(claims, now)
	if err != nil {
		return nil, 0, 0, err
	}
	return claims, until, gen, nil
}

// selectKeys picks the keys that may verify a token with this kid and alg:
//   - a token kid present in the set selects the keys with that kid, of which at least
//     one must accept alg;
//   - an unknown token kid selects the keys without a kid that accept alg; when there are
//     none, the keys are reloaded (rate-limited) and the kid looked up again;
//   - a token without kid needs exactly one key in the set to accept alg.
func (v *Verifier) selectKeys(ctx context.Context, kid, alg string) (*keySet, []*verifyKey, error) {
	ks := v.keys.current()
	if kid == "" {
		keys := ks.forAlg(alg)
		if len(keys) != 1 {
			return nil, nil, invalid(ReasonUnknownKID, "token has no kid and %d keys of %s accept alg %s", len(keys), v.cfg.source, alg)
		}
		return ks, keys, nil
	}
	if !ks.hasKID(kid) {
		if keys := ks.withKID("", alg); len(keys) > 0 {
			return ks, keys, nil
		}
		var err error
		if ks, err = v.keys.refetch(ctx); err != nil {
			return nil, nil, fmt.Errorf("jwtverify: waiting for a key refetch: %w", err)
		}
		if !ks.hasKID(kid) {
			return nil, nil, invalid(ReasonUnknownKID, "no key with kid %s in %s", quote(kid), v.cfg.source)
		}
	}
	keys := ks.withKID(kid, alg)
	if len(keys) == 0 {
		return nil, nil, invalid(ReasonAlgNotAllowed, "alg %s cannot be used with key %s", alg, ks.byKID[kid][0].describe())
	}
	return ks, keys, nil
}

// verifySignature checks the JWS signature with each candidate key in turn, through jwx.
// The algorithm is pinned by the caller (allowlisted and fitting the key); jwx checks it
// again against the key type and the header.
func verifySignature(raw []byte, alg jwa.SignatureAlgorithm, keys []*verifyKey) ([]byte, error) {
	var lastErr error
	for _, k := range keys {
		payload, err := jws.Verify(raw,
			jws.WithKey(alg, k.raw),
			jws.WithCompact(),
			jws.WithAlgorithmMatch(true),
			jws.WithCritValidation(true),
		)
		if err == nil {
			return payload, nil
		}
		lastErr = err
	}
	return nil, invalidWrap(ReasonBadSignature, lastErr, "signature does not verify with %s", keys[0].describe())
}
