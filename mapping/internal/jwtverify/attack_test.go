package jwtverify

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// TestAttacks feeds hostile tokens to a Verifier trusting one RSA key ("good", with
// "alg": "RS256") and one RSA key without "alg" ("bare"). Every row must be rejected
// with ErrInvalidToken, for the stated reason, with a message that does not echo the token.
func TestAttacks(t *testing.T) {
	clock := newFakeClock()
	good := newRSAKey(t, 0, "good", jwa.RS256())
	bare := newRSAKey(t, 1, "bare", jwa.RS256())
	attacker := newRSAKey(t, 2, "good", jwa.RS256()) // claims to be "good"
	now := clock.Now()
	valid := claimsAt(now)

	with := func(changes map[string]any) map[string]any {
		c := claimsAt(now)
		for k, v := range changes {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}

	// A server an attacker controls; the verifier must never contact it.
	var attackerHits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		attackerHits.Add(1)
		_, _ = w.Write(jwksJSON(t, attacker.jwk(t, true)))
	}))
	t.Cleanup(evil.Close)

	// The public key bytes an attacker knows, used as an HMAC secret.
	der, err := x509.MarshalPKIXPublicKey(good.pub)
	must(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	pubJWK, err := json.Marshal(good.jwk(t, true))
	must(t, err)

	hs256 := func(secret []byte, kid string) string {
		payload, err := json.Marshal(valid)
		must(t, err)
		return signPayload(t, jwa.HS256(), secret, kid, payload, nil)
	}
	goodTok := sign(t, good, valid, nil)
	goodSig := goodTok[strings.LastIndexByte(goodTok, '.')+1:]
	goodParts := strings.Split(goodTok, ".")
	allowHS256 := func(c *Config) { c.Algorithms = []string{"RS256", "HS256"} }

	rows := []struct {
		name   string
		token  string
		cfg    func(*Config)
		reason Reason
	}{
		{name: "forged signature (other key, same kid)", token: sign(t, attacker, valid, nil), reason: ReasonBadSignature},
		{name: "tampered payload", token: goodParts[0] + "." + b64(mustJSON(t, with(map[string]any{"sub": "admin"}))) + "." + goodSig, reason: ReasonBadSignature},
		{name: "tampered header alg RS256->RS512", token: assemble(t, map[string]any{"alg": "RS512", "kid": "good"}, valid, goodSig), reason: ReasonAlgNotAllowed},
		{name: "signature stripped", token: goodParts[0] + "." + goodParts[1] + ".", reason: ReasonMalformed},
		{name: "unsigned alg none", token: assemble(t, map[string]any{"alg": "none"}, valid, ""), reason: ReasonAlgNotAllowed},
		{name: "unsigned alg none with kid", token: assemble(t, map[string]any{"alg": "none", "kid": "good"}, valid, ""), reason: ReasonAlgNotAllowed},
		{name: "alg None (case variant)", token: assemble(t, map[string]any{"alg": "None", "kid": "good"}, valid, ""), reason: ReasonMalformed},
		{name: "missing alg", token: assemble(t, map[string]any{"kid": "good"}, valid, goodSig), reason: ReasonMalformed},
		{name: "expired", token: sign(t, good, with(map[string]any{"exp": now.Add(-time.Minute).Unix()}), nil), reason: ReasonExpired},
		{name: "not yet valid", token: sign(t, good, with(map[string]any{"nbf": now.Add(time.Minute).Unix()}), nil), reason: ReasonNotYetValid},
		{name: "issued in the future", token: sign(t, good, with(map[string]any{"iat": now.Add(time.Hour).Unix()}), nil), reason: ReasonNotYetValid},
		{name: "wrong issuer", token: sign(t, good, with(map[string]any{"iss": "https://evil.test"}), nil), reason: ReasonWrongIssuer},
		{name: "missing issuer", token: sign(t, good, with(map[string]any{"iss": nil}), nil), reason: ReasonWrongIssuer},
		{name: "wrong audience", token: sign(t, good, with(map[string]any{"aud": "billing"}), nil), reason: ReasonWrongAudience},
		{name: "missing audience", token: sign(t, good, with(map[string]any{"aud": nil}), nil), reason: ReasonWrongAudience},
		{name: "missing exp", token: sign(t, good, with(map[string]any{"exp": nil}), nil), reason: ReasonMissingExp},
		{name: "exp not a number", token: sign(t, good, with(map[string]any{"exp": "2099-01-01T00:00:00Z"}), nil), reason: ReasonMalformed},
		{name: "unknown kid", token: sign(t, &testKey{kid: "rotated-away", alg: jwa.RS256(), priv: attacker.priv}, valid, nil), reason: ReasonUnknownKID},
		{name: "HS256 not allowed", token: hs256(pubPEM, "good"), reason: ReasonAlgNotAllowed},
		{name: "alg confusion: HS256 with RSA public PEM, alg-pinned key", token: hs256(pubPEM, "good"), cfg: allowHS256, reason: ReasonAlgNotAllowed},
		{name: "alg confusion: HS256 with RSA public PEM, alg-less key", token: hs256(pubPEM, "bare"), cfg: allowHS256, reason: ReasonAlgNotAllowed},
		{name: "alg confusion: HS256 with RSA public DER, alg-less key", token: hs256(der, "bare"), cfg: allowHS256, reason: ReasonAlgNotAllowed},
		{name: "alg confusion: HS256 with RSA public JWK, no kid", token: hs256(pubJWK, ""), cfg: allowHS256, reason: ReasonUnknownKID},
		{name: "jku pointing elsewhere (known kid)", token: sign(t, attacker, valid, map[string]any{"jku": evil.URL}), reason: ReasonBadSignature},
		{name: "jku pointing elsewhere (new kid)", token: sign(t, &testKey{kid: "evil", alg: jwa.RS256(), priv: attacker.priv}, valid, map[string]any{"jku": evil.URL}), reason: ReasonUnknownKID},
		{name: "x5u pointing elsewhere", token: sign(t, attacker, valid, map[string]any{"x5u": evil.URL}), reason: ReasonBadSignature},
		{name: "embedded jwk header", token: sign(t, attacker, valid, map[string]any{"jwk": attacker.jwk(t, true)}), reason: ReasonBadSignature},
		{name: "crit header", token: sign(t, good, valid, map[string]any{"crit": []string{"exp"}, "exp": 1}), reason: ReasonUnsupported},
		{name: "b64 false", token: assemble(t, map[string]any{"alg": "RS256", "kid": "good", "b64": false, "crit": []string{"b64"}}, valid, goodSig), reason: ReasonUnsupported},
		{name: "b64 false without crit", token: assemble(t, map[string]any{"alg": "RS256", "kid": "good", "b64": false}, valid, goodSig), reason: ReasonUnsupported},
		{name: "nested JWT", token: sign(t, good, valid, map[string]any{"cty": "JWT"}), reason: ReasonUnsupported},
		{name: "nested JWT (application/jwt)", token: sign(t, good, valid, map[string]any{"cty": "application/jwt"}), reason: ReasonUnsupported},
		{name: "JWE (5 segments)", token: "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d", reason: ReasonUnsupported},
		{name: "JSON serialization", token: `{"payload":"e30","signatures":[{"protected":"e30","signature":"AA"}]}`, reason: ReasonUnsupported},
		{name: "malformed base64 (alphabet)", token: goodParts[0] + "." + goodParts[1] + "+/." + goodSig, reason: ReasonMalformed},
		{name: "malformed base64 (length)", token: goodParts[0] + "a." + goodParts[1] + "." + goodSig, reason: ReasonMalformed},
		{name: "non-canonical base64 (trailing bits)", token: goodParts[0] + "." + goodParts[1] + "." + nonCanonical(goodSig), reason: ReasonMalformed},
		{name: "padded base64", token: goodParts[0] + "==." + goodParts[1] + "." + goodSig, reason: ReasonMalformed},
		{name: "header not JSON", token: b64([]byte("not json")) + "." + goodParts[1] + "." + goodSig, reason: ReasonMalformed},
		{name: "payload not an object", token: signPayload(t, jwa.RS256(), good.priv, "good", []byte(`["a"]`), nil), reason: ReasonMalformed},
		{name: "payload null", token: signPayload(t, jwa.RS256(), good.priv, "good", []byte(`null`), nil), reason: ReasonMalformed},
		{name: "two segments", token: goodParts[0] + "." + goodParts[1], reason: ReasonMalformed},
		{name: "four segments", token: goodTok + ".x", reason: ReasonMalformed},
		{name: "one segment", token: goodParts[1], reason: ReasonMalformed},
		{name: "empty header segment", token: "." + goodParts[1] + "." + goodSig, reason: ReasonMalformed},
		{name: "empty token", token: "", reason: ReasonMalformed},
		{name: "Bearer prefix left on", token: "Bearer " + goodTok, reason: ReasonMalformed},
		{name: "huge token", token: goodTok + strings.Repeat("A", MaxTokenSize), reason: ReasonTooLarge},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			cfg := fileConfig(t, good.jwk(t, true), bare.jwk(t, false))
			if row.cfg != nil {
				row.cfg(&cfg)
			}
			v := newTestVerifier(t, cfg, clock)
			claims, err := v.Verify(context.Background(), row.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify = %v, %v; want ErrInvalidToken", claims, err)
			}
			if claims != nil {
				t.Errorf("claims = %v on rejection", claims)
			}
			if got := ReasonOf(err); got != row.reason {
				t.Errorf("reason = %q, want %q (%v)", got, row.reason, err)
			}
			assertNoTokenInError(t, err, row.token)
			t.Log(err)
		})
	}
	if n := attackerHits.Load(); n != 0 {
		t.Errorf("the verifier fetched keys named by a token %d times", n)
	}

	// Control: the legitimate token passes the same Verifier setup.
	v := newTestVerifier(t, fileConfig(t, good.jwk(t, true), bare.jwk(t, false)), clock)
	if _, err := v.Verify(context.Background(), goodTok); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
}

// assertNoTokenInError checks that neither the token nor any long segment of it appears
// in the error text.
func assertNoTokenInError(t *testing.T, err error, token string) {
	t.Helper()
	msg := err.Error()
	if len(token) >= 16 && strings.Contains(msg, token) {
		t.Fatalf("error contains the token: %s", msg)
	}
	for _, seg := range strings.Split(token, ".") {
		if len(seg) >= 16 && strings.Contains(msg, seg) {
			t.Fatalf("error contains a token segment: %s", msg)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	return b
}

// An RSA public key in the set must not verify an HS256 token even when the set also
// holds an oct key (HS256 genuinely in use).
func TestAlgConfusionWithOctKeyPresent(t *testing.T) {
	clock := newFakeClock()
	rsaKey := newRSAKey(t, 0, "rsa", jwa.RS256())
	hk, hjwk := newHMACKey(t, "hmac")
	cfg := fileConfig(t, rsaKey.jwk(t, false), hjwk)
	cfg.Algorithms = []string{"RS256", "HS256"}
	v := newTestVerifier(t, cfg, clock)
	ctx := context.Background()

	if _, err := v.Verify(ctx, sign(t, hk, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatalf("genuine HS256 token: %v", err)
	}
	rawPub, err := jwk.PublicRawKeyOf(rsaKey.priv)
	must(t, err)
	der, err := x509.MarshalPKIXPublicKey(rawPub)
	must(t, err)
	for _, secret := range [][]byte{der, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})} {
		payload := mustJSON(t, claimsAt(clock.Now()))
		tok := signPayload(t, jwa.HS256(), secret, "rsa", payload, nil)
		_, err := v.Verify(ctx, tok)
		if !errors.Is(err, ErrInvalidToken) || ReasonOf(err) != ReasonAlgNotAllowed {
			t.Errorf("HS256 over the RSA public key: %v, want alg_not_allowed", err)
		}
	}
}

// nonCanonical returns s with the unused low bits of its last base64url character set,
// which a lenient decoder maps to the same bytes.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(s)%4 == 0 {
		panic("no spare bits in a segment whose length is a multiple of 4")
	}
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}
