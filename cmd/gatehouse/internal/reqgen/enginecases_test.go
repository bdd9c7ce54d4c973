package reqgen

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/cmd/gatehouse/internal/cerbospdp"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

func TestLoadEngineCases(t *testing.T) {
	conf := cerbospdp.ConformanceDir(t)
	cases, err := LoadEngineCases(filepath.Join(conf, "engine"), nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("loaded %d engine cases, want the whole folder", len(cases))
	}
	for _, c := range cases {
		for i, r := range c.Requests {
			var req struct {
				IncludeMeta bool
				Principal   map[string]any
				Resources   []struct {
					Actions  []string
					Resource map[string]any
				}
			}
			if err := json.Unmarshal(r, &req); err != nil {
				t.Fatalf("%s #%d: %v", c.File, i, err)
			}
			if !req.IncludeMeta || req.Principal["id"] == nil || len(req.Resources) != 1 || len(req.Resources[0].Actions) == 0 {
				t.Errorf("%s #%d: incomplete request %s", c.File, i, r)
			}
		}
	}
}

func TestEngineCaseAuxDataIsSigned(t *testing.T) {
	conf := cerbospdp.ConformanceDir(t)
	signer, err := LoadSigner(filepath.Join(conf, "auxdata", "keys", "signing_key.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{"case.yaml": `inputs:
  - requestId: r1
    actions: [view]
    principal: {id: p, roles: [user]}
    resource: {kind: doc, id: d}
    aux_data: {jwt: {aud: [cerbos-jwt-tests], customArray: [A]}}
`})
	cases, err := LoadEngineCases(dir, signer, "cerbos")
	if err != nil {
		t.Fatal(err)
	}
	var req struct {
		AuxData struct {
			JWT struct{ Token, KeySetID string }
		}
	}
	if err := json.Unmarshal(cases[0].Requests[0], &req); err != nil {
		t.Fatal(err)
	}
	if req.AuxData.JWT.KeySetID != "cerbos" {
		t.Errorf("keySetId = %q", req.AuxData.JWT.KeySetID)
	}
	set, err := jwk.ReadFile(filepath.Join(conf, "auxdata", "keys", "verify_key.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := jws.Verify([]byte(req.AuxData.JWT.Token), jws.WithKeySet(set))
	if err != nil {
		t.Fatalf("token does not verify with verify_key.jwk: %v", err)
	}
	if !strings.Contains(string(payload), `"customArray":["A"]`) {
		t.Errorf("payload %s lacks the claims", payload)
	}
}
