package extauthz

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/gatehouse/gatehouse/extauthz/internal/extauthztest"
)

// signer mints tokens for the attack table.
type signer struct {
	t   *testing.T
	key jwk.Key
}

func (s signer) sign(alg jwa.SignatureAlgorithm, key any, build func(*jwt.Builder) *jwt.Builder, hdr map[string]any) string {
	s.t.Helper()
	b := jwt.NewBuilder().Subject("alice").Issuer("https://auth.demo.gatehouse.local").
		Audience([]string{"documents-api"}).Expiration(time.Now().Add(time.Hour)).Claim("roles", []string{"admin"})
	tok, err := build(b).Build()
	if err != nil {
		s.t.Fatal(err)
	}
	headers := jws.NewHeaders()
	for k, v := range hdr {
		headers.Set(k, v)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(alg, key, jws.WithProtectedHeaders(headers)))
	if err != nil {
		s.t.Fatal(err)
	}
	return string(signed)
}

func same(b *jwt.Builder) *jwt.Builder { return b }

// TestTokenAttacksAre401 sends forged and misused tokens through the service: every one is
// a 401, never an allow and never an anonymous fallback.
func TestTokenAttacksAre401(t *testing.T) {
	_, client, _ := startService(t, demoConfig(t))
	data, err := os.ReadFile(filepath.Join(demoDir, "keys", "demo-signing-key.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	demoKey, err := jwk.ParseKey(data)
	if err != nil {
		t.Fatal(err)
	}
	s := signer{t: t, key: demoKey}
	good := s.sign(jwa.ES256(), demoKey, same, nil)

	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := jwk.Import(raw)
	pub, _ := demoKey.PublicKey()
	pubJSON, _ := os.ReadFile(filepath.Join(demoDir, "keys", "jwks.json"))
	pubBytes, _ := jwk.Pem(pub)

	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	attacks := map[string]string{
		"forged signature":        parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"tampered payload":        parts[0] + "." + b64([]byte(`{"sub":"carol","roles":["admin"],"iss":"https://auth.demo.gatehouse.local","aud":"documents-api","exp":4102444800}`)) + "." + parts[2],
		"unsigned (alg none)":     b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".",
		"alg none with signature": b64([]byte(`{"alg":"none","kid":"demo-2026"}`)) + "." + parts[1] + "." + parts[2],
		"expired":                 s.sign(jwa.ES256(), demoKey, func(b *jwt.Builder) *jwt.Builder { return b.Expiration(time.Now().Add(-time.Minute)) }, nil),
		"not yet valid":           s.sign(jwa.ES256(), demoKey, func(b *jwt.Builder) *jwt.Builder { return b.NotBefore(time.Now().Add(time.Hour)) }, nil),
		"no expiry": s.sign(jwa.ES256(), demoKey, func(b *jwt.Builder) *jwt.Builder {
			return jwt.NewBuilder().Subject("alice").Issuer("https://auth.demo.gatehouse.local").Audience([]string{"documents-api"})
		}, nil),
		"wrong issuer":                         s.sign(jwa.ES256(), demoKey, func(b *jwt.Builder) *jwt.Builder { return b.Issuer("https://evil.example") }, nil),
		"wrong audience":                       s.sign(jwa.ES256(), demoKey, func(b *jwt.Builder) *jwt.Builder { return b.Audience([]string{"other-api"}) }, nil),
		"unknown kid":                          s.sign(jwa.ES256(), otherKey, same, map[string]any{"kid": "rotated-away"}),
		"other key, known kid":                 s.sign(jwa.ES256(), otherKey, same, map[string]any{"kid": "demo-2026"}),
		"HS256 with the public JWKS as secret": s.sign(jwa.HS256(), pubJSON, same, map[string]any{"kid": "demo-2026"}),
		"HS256 with the public key PEM":        s.sign(jwa.HS256(), pubBytes, same, map[string]any{"kid": "demo-2026"}),
		"garbage":                              "not-a-token",
		"empty bearer":                         "",
	}
	for name, tok := range attacks {
		t.Run(name, func(t *testing.T) {
			req := extauthztest.NewCheckRequest("GET", "/api/documents", "authorization", "Bearer "+tok)
			resp, err := client.Check(context.Background(), req)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			checkOutcome(t, resp, outcome{status: 401, reason: "invalid_token"})
		})
	}
	t.Run("the genuine token works", func(t *testing.T) {
		resp, err := client.Check(context.Background(), extauthztest.NewCheckRequest("GET", "/api/admin/users", "authorization", "Bearer "+good))
		if err != nil {
			t.Fatal(err)
		}
		checkOutcome(t, resp, outcome{status: 200, headers: map[string]string{"x-gatehouse-principal": "alice", "x-gatehouse-roles": "admin"}})
	})
}

// TestPathTricksNeverReachAdmin tries to reach the admin area (admins only) as a plain
// user through path tricks: each is denied (400 or 403), none allowed.
func TestPathTricksNeverReachAdmin(t *testing.T) {
	_, client, _ := startService(t, demoConfig(t))
	alice := token(t, "alice")
	tricks := map[string]int{
		"/api/documents/1/../../admin/users":     403,
		"/api/documents/1/../../../api/admin/x":  403,
		"/api/documents/%2e%2e/%2e%2e/admin/x":   400,
		"/api/documents/.%2e/.%2e/admin/x":       400,
		"/api/documents/1%2F..%2F..%2Fadmin%2Fx": 400,
		"/api/documents/1%2f..%2f..%2fadmin":     400,
		"/api/documents/1%5C..%5Cadmin":          400,
		"/api/documents/1\\..\\admin":            400,
		"//api//admin//users":                    403,
		"/api/admin./users":                      403,
		"/api/admin%2e/users":                    403,
		"/API/admin/users":                       403,
		"/api/Admin/users":                       403,
		"/api/admin/users%00.json":               400,
		"/api/admin/users\x00":                   400,
		"/api/documents/7?next=/api/admin/users": 200, // the query is not the path: a published document
		"/api/documents/7#/../../admin/users":    200,
	}
	for path, want := range tricks {
		t.Run(path, func(t *testing.T) {
			resp, err := client.Check(context.Background(), extauthztest.NewCheckRequest("GET", path, "authorization", alice))
			if err != nil {
				t.Fatal(err)
			}
			md := resp.GetDynamicMetadata().GetFields()
			if resp.GetOkResponse() != nil && strings.Contains(md["matched_policy"].GetStringValue(), "admin_area") {
				t.Fatalf("%s reached the admin area", path)
			}
			if want == 200 {
				checkOutcome(t, resp, outcome{status: 200})
				return
			}
			got := int(resp.GetDeniedResponse().GetStatus().GetCode())
			if got != want {
				t.Errorf("%s: got %d (%s), want %d", path, got, resp.GetDeniedResponse().GetBody(), want)
			}
		})
	}
}
