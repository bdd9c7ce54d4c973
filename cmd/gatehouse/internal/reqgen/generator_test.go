package reqgen

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/cmd/gatehouse/internal/cerbospdp"
)

func TestGeneratorIsDeterministic(t *testing.T) {
	c, err := ScanStore(writeFiles(t, sampleStore))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a, b := New(c, 7, Options{Now: now}), New(c, 7, Options{Now: now})
	other := New(c, 8, Options{Now: now})
	differs := false
	for i := 0; i < 50; i++ {
		ra, err := a.Next()
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := b.Next()
		ro, _ := other.Next()
		if !bytes.Equal(ra, rb) {
			t.Fatalf("request %d differs for the same seed:\n%s\n%s", i, ra, rb)
		}
		differs = differs || !bytes.Equal(ra, ro)
	}
	if !differs {
		t.Error("seeds 7 and 8 gave the same requests")
	}
}

func TestGeneratorRespectsLimits(t *testing.T) {
	c, err := ScanStore(writeFiles(t, sampleStore))
	if err != nil {
		t.Fatal(err)
	}
	g := New(c, 1, Options{MaxResources: 2, MaxActions: 3})
	for i := 0; i < 200; i++ {
		data, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		var req struct {
			Principal struct {
				ID    string
				Roles []string
			}
			Resources []struct{ Actions []string }
		}
		if err := json.Unmarshal(data, &req); err != nil {
			t.Fatal(err)
		}
		if req.Principal.ID == "" || len(req.Principal.Roles) == 0 || !unique(req.Principal.Roles) {
			t.Fatalf("bad principal in %s", data)
		}
		if n := len(req.Resources); n < 1 || n > 2 {
			t.Fatalf("%d resources in %s", n, data)
		}
		for _, r := range req.Resources {
			if n := len(r.Actions); n < 1 || n > 3 || !unique(r.Actions) {
				t.Fatalf("bad actions %v in %s", r.Actions, data)
			}
		}
	}
}

func unique(list []string) bool {
	seen := map[string]bool{}
	for _, s := range list {
		if s == "" || seen[s] {
			return false
		}
		seen[s] = true
	}
	return true
}

// TestGeneratedRequestsAreValid sends generated requests for the conformance
// store to the real Cerbos PDP: every one must pass its request validation,
// and together they must reach a fair share of allows, scopes, derived roles
// and outputs.
func TestGeneratedRequestsAreValid(t *testing.T) {
	conf := cerbospdp.ConformanceDir(t)
	bin := cerbospdp.RequireBinary(t)
	store := filepath.Join(conf, "store")
	cat, err := ScanStore(store)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := LoadSigner(filepath.Join(conf, "auxdata", "keys", "signing_key.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := cerbospdp.Start(ctx, cerbospdp.Options{
		Binary:   bin,
		StoreDir: store,
		Globals:  map[string]any{"environment": "test"},
		JWKS:     map[string]string{"cerbos": filepath.Join(conf, "auxdata", "keys", "verify_key.jwk")},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)

	const n = 400
	g := New(cat, 1, Options{Signer: signer, KeySetID: "cerbos"})
	var allows, effects, scoped, withRoles, outputs int
	for i := 0; i < n; i++ {
		req, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		body, err := srv.Check(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		var resp struct {
			Code    int
			Message string
			Results []struct {
				Actions map[string]string
				Meta    struct {
					Actions               map[string]struct{ MatchedScope string }
					EffectiveDerivedRoles []string
				}
				Outputs []any
			}
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			t.Fatal(err)
		}
		if resp.Code != 0 {
			t.Fatalf("Cerbos rejected generated request %d (seed 1): %s\nrequest: %s", i, resp.Message, req)
		}
		for _, r := range resp.Results {
			for a, e := range r.Actions {
				effects++
				if e == "EFFECT_ALLOW" {
					allows++
				}
				if r.Meta.Actions[a].MatchedScope != "" {
					scoped++
				}
			}
			if len(r.Meta.EffectiveDerivedRoles) > 0 {
				withRoles++
			}
			outputs += len(r.Outputs)
		}
	}
	t.Logf("%d requests: %d of %d actions allowed, %d decided in a scope, %d results with derived roles, %d outputs",
		n, allows, effects, scoped, withRoles, outputs)
	if allows < effects/25 || scoped == 0 || withRoles == 0 || outputs == 0 {
		t.Error("generated requests reach too few rules")
	}
}
