package mapping

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"
)

// testKey is a signing key and a JWK set file holding its public half.
type testKey struct {
	priv jwk.Key
	file string
}

func newTestKey(t *testing.T, dir, kid string) testKey {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	_ = priv.Set(jwk.KeyIDKey, kid)
	_ = priv.Set(jwk.AlgorithmKey, jwa.ES256())
	pub, err := priv.PublicKey()
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	_ = set.AddKey(pub)
	data, _ := json.Marshal(set)
	file := filepath.Join(dir, kid+".json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return testKey{priv: priv, file: file}
}

func (k testKey) sign(t *testing.T, build func(*jwt.Builder) *jwt.Builder) string {
	t.Helper()
	tok, err := build(jwt.NewBuilder()).Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256(), k.priv))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func TestKeySetsVerify(t *testing.T) {
	dir := t.TempDir()
	a, b := newTestKey(t, dir, "a"), newTestKey(t, dir, "b")
	one, err := LoadKeySets(map[string]string{"a": a.file})
	if err != nil {
		t.Fatal(err)
	}
	two, err := LoadKeySets(map[string]string{"a": a.file, "b": b.file})
	if err != nil {
		t.Fatal(err)
	}
	good := a.sign(t, func(b *jwt.Builder) *jwt.Builder {
		return b.Issuer("idp").Audience([]string{"app"}).Expiration(time.Now().Add(time.Hour)).Claim("roles", []string{"x"})
	})
	claims, err := one.Verify(good, "")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims["iss"] != "idp" || !reflect.DeepEqual(claims["aud"], []any{"app"}) || !reflect.DeepEqual(claims["roles"], []any{"x"}) {
		t.Errorf("claims = %v", claims)
	}
	if _, ok := claims["exp"].(float64); !ok {
		t.Errorf("exp is %T, want a JSON number", claims["exp"])
	}

	expired := a.sign(t, func(b *jwt.Builder) *jwt.Builder { return b.Expiration(time.Now().Add(-time.Hour)) })
	notYet := a.sign(t, func(b *jwt.Builder) *jwt.Builder { return b.NotBefore(time.Now().Add(time.Hour)) })
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"evil"}`)) + "." + parts[2]
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	tests := []struct {
		name    string
		ks      *KeySets
		token   string
		keySet  string
		wantErr string
	}{
		{"wrong key", one, b.sign(t, func(b *jwt.Builder) *jwt.Builder { return b }), "", "failed to verify"},
		{"expired", one, expired, "", "failed to verify"},
		{"not yet valid", one, notYet, "", "failed to verify"},
		{"tampered payload", one, tampered, "", "failed to verify"},
		{"alg none", one, unsigned, "", "failed to verify"},
		{"garbage", one, "not.a.jwt", "", "failed to verify"},
		{"ambiguous key set", two, good, "", "keySetId is required"},
		{"unknown key set", two, good, "c", `unknown keySetId "c"`},
		{"no key sets", nil, good, "", "no JWT key sets"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ks.Verify(tt.token, tt.keySet)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Verify error = %v, want %q", err, tt.wantErr)
			}
		})
	}
	if _, err := two.Verify(good, "a"); err != nil {
		t.Errorf("Verify with keySetId a: %v", err)
	}
}

func TestLoadKeySetsRequiresAlg(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "k.json")
	os.WriteFile(file, []byte(`{"kty":"oct","k":"c2VjcmV0"}`), 0o600)
	if _, err := LoadKeySets(map[string]string{"k": file}); err == nil || !strings.Contains(err.Error(), `has no "alg"`) {
		t.Fatalf("got %v", err)
	}
	if _, err := LoadKeySets(map[string]string{"k": filepath.Join(dir, "missing.json")}); err == nil {
		t.Fatal("missing file accepted")
	}
}
