package cerbospdp

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/cmd/gatehouse/internal/reqgen"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// testStore is a two-policy repository: a root policy whose rules depend on
// globals and on a JWT claim, and a scoped child for the scope-search test.
var testStore = map[string]string{
	"doc.yaml": `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: [view]
      roles: [user]
      effect: EFFECT_ALLOW
      condition:
        match:
          expr: G.environment == "test"
    - actions: [sign]
      roles: [user]
      effect: EFFECT_ALLOW
      condition:
        match:
          expr: '"gatehouse" in request.auxData.jwt.aud'
`,
	"doc_acme.yaml": `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  scope: acme
  rules:
    - actions: [edit]
      roles: [user]
      effect: EFFECT_ALLOW
`,
}

func writeStore(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range testStore {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// newKeys returns a signer and the path of a JWK set holding its public key.
func newKeys(t *testing.T) (*reqgen.Signer, string) {
	t.Helper()
	raw, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwk.Import(raw)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{jwk.KeyIDKey: "k1", jwk.AlgorithmKey: jwa.ES256()} {
		if err := priv.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	pub, err := jwk.PublicKeyOf(priv)
	if err != nil {
		t.Fatal(err)
	}
	set := jwk.NewSet()
	if err := set.AddKey(pub); err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keys.jwks")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	signer, err := reqgen.NewSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, path
}

func startServer(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Binary = RequireBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// check sends req and returns the effect of each action of the first result,
// or the error code of an error body.
func check(t *testing.T, s *Server, req map[string]any) (map[string]string, int) {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := s.Check(ctx, body)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Code    int
		Results []struct{ Actions map[string]string }
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	if resp.Code != 0 {
		return nil, resp.Code
	}
	if len(resp.Results) != 1 {
		t.Fatalf("response %s: want one result", out)
	}
	return resp.Results[0].Actions, 0
}

func request(scope string, actions []string, aux map[string]any) map[string]any {
	req := map[string]any{
		"principal": map[string]any{"id": "u1", "roles": []string{"user"}},
		"resources": []any{map[string]any{
			"actions":  actions,
			"resource": map[string]any{"kind": "doc", "id": "d1", "scope": scope},
		}},
	}
	if aux != nil {
		req["auxData"] = aux
	}
	return req
}

func TestServerAppliesOptions(t *testing.T) {
	store := writeStore(t)
	signer, jwks := newKeys(t)
	s := startServer(t, Options{
		StoreDir: store,
		Globals:  map[string]any{"environment": "test"},
		JWKS:     map[string]string{"local": jwks},
	})

	token, err := signer.Sign(map[string]any{"aud": []string{"gatehouse"}, "exp": time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	aux := map[string]any{"jwt": map[string]any{"token": token, "keySetId": "local"}}
	got, code := check(t, s, request("", []string{"view", "sign"}, aux))
	if code != 0 || got["view"] != "EFFECT_ALLOW" || got["sign"] != "EFFECT_ALLOW" {
		t.Errorf("with globals and a valid JWT: actions %v, code %d; want both allowed", got, code)
	}

	// Strict scope search (the default): a scope without policies matches nothing.
	if got, _ := check(t, s, request("acme.unknown", []string{"edit"}, nil)); got["edit"] != "EFFECT_DENY" {
		t.Errorf("strict scope search: edit = %q, want EFFECT_DENY", got["edit"])
	}

	// A token the key set cannot verify is an invalid request (code 3).
	other, _ := newKeys(t)
	bad, err := other.Sign(map[string]any{"aud": []string{"gatehouse"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, code := check(t, s, request("", []string{"sign"}, map[string]any{"jwt": map[string]any{"token": bad}})); code != 3 {
		t.Errorf("JWT signed by an unknown key: code %d, want 3", code)
	}
}

func TestServerLenientScopeSearch(t *testing.T) {
	s := startServer(t, Options{StoreDir: writeStore(t), LenientScopeSearch: true})
	if got, _ := check(t, s, request("acme.unknown", []string{"edit", "view"}, nil)); got["edit"] != "EFFECT_ALLOW" || got["view"] != "EFFECT_DENY" {
		t.Errorf("lenient scope search without globals: actions %v, want edit allowed and view denied", got)
	}
}

func TestStartReportsBadConfig(t *testing.T) {
	bin := RequireBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Binary: bin, StoreDir: filepath.Join(t.TempDir(), "missing")})
	if err == nil {
		s.Stop()
		t.Fatal("Start succeeded with a missing store directory")
	}
	if !strings.Contains(err.Error(), "cerbos log") {
		t.Errorf("error does not include the server log: %v", err)
	}
}

func TestServerConfigRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string]Options{
		"no store":        {},
		"bad enforcement": {StoreDir: ".", SchemaEnforcement: "sometimes"},
		"missing key set": {StoreDir: ".", JWKS: map[string]string{"k": "does-not-exist.jwks"}},
	} {
		if _, err := serverConfig(opts, "127.0.0.1:1", "127.0.0.1:2"); err == nil {
			t.Errorf("%s: serverConfig accepted %+v", name, opts)
		}
	}
}
