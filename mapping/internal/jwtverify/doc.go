// Package jwtverify verifies the bearer tokens (JWTs in compact JWS form) of requests on
// the decision path. Under Istio the CUSTOM ext_authz filter runs before jwt_authn, so
// gatehouse receives the raw Authorization header and must verify it itself.
//
//	v, err := jwtverify.New(ctx, cfg) // cfg from DefaultConfig, with JWKSFile or JWKSURL
//	defer v.Close()
//	claims, err := v.Verify(ctx, token)
//
// All signature and key work is done by github.com/lestrrat-go/jwx/v3 (jwk.Parse,
// jwk.Fetch, jws.Parse, jws.Verify); this package decides which key and algorithm may be
// used, checks the claims and caches results.
//
// # Concurrency
//
// A Verifier is safe for concurrent use: Verify may be called from any number of
// goroutines, also while keys are being reloaded and while Close runs. Keys live in an
// immutable snapshot behind an atomic pointer; a reload builds a new snapshot aside and
// swaps it in, keeping the last good one when loading fails. New starts one refresh
// goroutine; a token with an unknown kid may start one more, short-lived, load. Close
// stops and waits for both, so no goroutine outlives it. The ctx given to New bounds only
// the initial load; the ctx given to Verify bounds only the wait for a refetch. Claims
// returned by Verify may be shared between callers and must not be modified.
//
// # Keys and rotation
//
// Keys come from exactly one source, Config.JWKSFile or Config.JWKSURL, never from the
// token: "jku", "x5u", "jwk" and "x5c" headers are ignored. The source is re-checked
// every RefreshInterval (a file by its stat, a URL by fetching). A token whose kid is not
// in the set triggers an early load, at most one per MinRefetchInterval, which the
// request waits for. Keys with use other than "sig", key_ops without "verify", unknown
// types, or an "alg" that is not a JWS algorithm fitting the key are skipped (and
// logged); a source without any usable key counts as a failed load.
//
// A key snapshot has a generation, bumped only when the usable keys change (by kid, alg
// and RFC 7638 thumbprint, so re-serving the same keys changes nothing).
//
// # Algorithm policy
//
// The token's "alg" must be in Config.Algorithms (default: RS*, PS*, ES256/384/512,
// EdDSA) and must fit the selected key: its "alg" if the JWK has one, otherwise its type
// and curve (RSA: RS*/PS*; EC: ES256 with P-256, ES384 with P-384, ES512 with P-521;
// OKP Ed25519: EdDSA; oct: HS*). An RSA key therefore never verifies an HS256 token,
// whatever the allowlist. HS* also needs "oct" keys, which are only taken from a file.
// "none" is refused unless listed; listing it accepts unsigned, forgeable tokens and is
// unsafe outside tests.
//
// Key selection: a token kid selects the keys with that kid; an unknown kid falls back
// to keys without a kid, else triggers a refetch; a token without kid is accepted only
// when exactly one key accepts its alg.
//
// # What is rejected
//
// Every rejection wraps ErrInvalidToken and is an *InvalidTokenError whose Reason is one
// of a fixed set (ReasonOf). Messages never contain the token. Tokens longer than
// MaxTokenSize (16 KiB) are rejected before hashing or parsing. Only compact JWS is
// accepted: JSON serialization, JWE, nested JWTs (cty JWT), any "crit" header and "b64"
// are refused. exp, nbf and iat are checked with Config.ClockSkew leeway, iss against
// Config.Issuers and aud against Config.Audiences; a NumericDate that is not a JSON
// number makes the token malformed. Config.RequireExp (set by DefaultConfig, false in a
// zero Config) refuses tokens without exp.
//
// ErrKeysUnavailable is returned by New when no usable key can be loaded and by Verify
// after Close: these are our faults, not the caller's.
//
// # Cache
//
// Successful verifications are cached, keyed by the SHA-256 of the token (the token
// itself is never stored), in a sharded map bounded by Config.CacheSize (default 10000,
// negative disables). A full shard evicts one entry among a few sampled at random,
// preferring ones already unusable. An entry is used until min(exp, insertion +
// RefreshInterval) and only under the key generation that verified it; a generation
// change also empties the cache. So a token whose kid disappeared stops verifying within
// one refresh. A cache hit costs one SHA-256 of the token and a read-locked map lookup,
// and allocates nothing.
package jwtverify
