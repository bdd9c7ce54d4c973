package jwtverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Every key is generated when the tests run; no secret is committed.

const (
	testIssuer   = "https://issuer.test"
	testAudience = "orders-api"
)

// testEpoch is the fake clock's start: tokens are minted relative to it.
var testEpoch = time.Unix(1_800_000_000, 0)

// fakeClock is a settable Config.Now, lock-free so it does not serialise benchmarks.
type fakeClock struct {
	ns atomic.Int64
}

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(testEpoch.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time { return time.Unix(0, c.ns.Load()) }

func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testKey is a generated signing key and its public JWK.
type testKey struct {
	kid  string
	alg  jwa.SignatureAlgorithm
	priv any
	pub  any // raw public key
}

// jwk returns the public JWK; withAlg controls whether it carries "alg".
func (k *testKey) jwk(t testing.TB, withAlg bool) jwk.Key {
	t.Helper()
	key, err := jwk.Import(k.pub)
	if err != nil {
		t.Fatal(err)
	}
	if k.kid != "" {
		must(t, key.Set(jwk.KeyIDKey, k.kid))
	}
	if withAlg {
		must(t, key.Set(jwk.AlgorithmKey, k.alg))
	}
	must(t, key.Set(jwk.KeyUsageKey, "sig"))
	return key
}

var (
	rsaOnce sync.Once
	rsaPool []*rsa.PrivateKey
)

// rsaPrivate returns the i-th of a few RSA keys generated once per test binary (RSA
// generation is slow, especially under -race).
func rsaPrivate(t testing.TB, i int) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		for range 4 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaPool = append(rsaPool, k)
		}
	})
	return rsaPool[i]
}

func newRSAKey(t testing.TB, i int, kid string, alg jwa.SignatureAlgorithm) *testKey {
	priv := rsaPrivate(t, i)
	return &testKey{kid: kid, alg: alg, priv: priv, pub: &priv.PublicKey}
}

func newECKey(t testing.TB, kid string, alg jwa.SignatureAlgorithm, curve elliptic.Curve) *testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, alg: alg, priv: priv, pub: &priv.PublicKey}
}

func newEdKey(t testing.TB, kid string) *testKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testKey{kid: kid, alg: jwa.EdDSA(), priv: priv, pub: pub}
}

func newHMACKey(t testing.TB, kid string) (*testKey, jwk.Key) {
	t.Helper()
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	key, err := jwk.Import(secret)
	if err != nil {
		t.Fatal(err)
	}
	must(t, key.Set(jwk.KeyIDKey, kid))
	return &testKey{kid: kid, alg: jwa.HS256(), priv: secret, pub: secret}, key
}

// jwksJSON serialises a JWK set of the given public keys.
func jwksJSON(t testing.TB, keys ...jwk.Key) []byte {
	t.Helper()
	set := jwk.NewSet()
	for _, k := range keys {
		must(t, set.AddKey(k))
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// writeJWKS writes a key set file (by rename, as config-map updates do) and returns its path.
func writeJWKS(t testing.TB, dir string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, "jwks.json")
	tmp, err := os.CreateTemp(dir, "jwks-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	must(t, tmp.Close())
	must(t, os.Rename(tmp.Name(), path))
	return path
}

// claimsAt returns valid claims for a token minted at now.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss":   testIssuer,
		"aud":   []string{"other", testAudience},
		"sub":   "user-7",
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"roles": []string{"admin"},
		"org":   map[string]any{"id": 42},
	}
}

// sign mints a compact JWS with k over claims; extra header fields are merged in.
func sign(t testing.TB, k *testKey, claims map[string]any, extra map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return signPayload(t, k.alg, k.priv, k.kid, payload, extra)
}

func signPayload(t testing.TB, alg jwa.SignatureAlgorithm, key any, kid string, payload []byte, extra map[string]any) string {
	t.Helper()
	hdr := jws.NewHeaders()
	must(t, hdr.Set(jws.TypeKey, "JWT"))
	if kid != "" {
		must(t, hdr.Set(jws.KeyIDKey, kid))
	}
	for name, v := range extra {
		must(t, hdr.Set(name, v))
	}
	tok, err := jws.Sign(payload, jws.WithKey(alg, key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// assemble builds a compact token from raw parts without signing (for forgeries).
func assemble(t testing.TB, header map[string]any, claims any, sig string) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return b64(h) + "." + b64(p) + "." + sig
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newTestVerifier builds a Verifier with the fake clock and closes it with the test.
func newTestVerifier(t testing.TB, cfg Config, clock *fakeClock) *Verifier {
	t.Helper()
	if cfg.Now == nil && clock != nil {
		cfg.Now = clock.Now
	}
	v, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v
}

// fileConfig is DefaultConfig reading keys from a fresh file with the given public keys.
func fileConfig(t testing.TB, keys ...jwk.Key) Config {
	t.Helper()
	cfg := DefaultConfig()
	cfg.JWKSFile = writeJWKS(t, t.TempDir(), jwksJSON(t, keys...))
	cfg.Issuers = []string{testIssuer}
	cfg.Audiences = []string{testAudience}
	return cfg
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
