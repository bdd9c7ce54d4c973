package mapping

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

type recordingObserver struct {
	mu     sync.Mutex
	tokens []string // "outcome/cached"
	loads  []string // "source: error"
}

func (o *recordingObserver) TokenVerified(_ context.Context, outcome string, cached bool, start time.Time, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if start.IsZero() || d < 0 {
		o.tokens = append(o.tokens, "bad timing")
	}
	c := "fresh"
	if cached {
		c = "cached"
	}
	o.tokens = append(o.tokens, outcome+"/"+c)
}

func (o *recordingObserver) KeysLoaded(source string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.loads = append(o.loads, source+": "+errString(err))
}

func errString(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

// TestObserver: token verifications are reported with their outcome and whether the
// cache answered, and key loads with their source.
func TestObserver(t *testing.T) {
	token := func(name string) string {
		b, err := os.ReadFile("../envoy/demo/tokens/" + name + ".jwt")
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + strings.TrimSpace(string(b))
	}
	obs := &recordingObserver{}
	m := mustMapper(t, Config{
		Identity: IdentityConfig{Sources: []Source{
			{JWT: &JWTSource{
				JWKS:      JWKSConfig{File: "../envoy/demo/keys/jwks.json"},
				Issuers:   []string{"https://auth.demo.gatehouse.local"},
				Audiences: []string{"documents-api"},
				Principal: PrincipalExprs{Roles: "claims.roles"},
			}},
			{Anonymous: &AnonymousSource{}},
		}},
		Routes:   []Route{{Match: RouteMatch{Prefix: "/"}, Resource: ResourceExprs{Kind: "page"}}},
		Observer: obs,
	})
	for _, auth := range []string{token("alice"), token("alice"), token("expired"), ""} {
		req := newRequest("GET", "/")
		if auth != "" {
			req = newRequest("GET", "/", "authorization", auth)
		}
		if res, err := m.Map(context.Background(), req); err == nil {
			res.Release()
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if got, want := strings.Join(obs.tokens, " "), "valid/fresh valid/cached expired/fresh"; got != want {
		t.Errorf("token verifications %q, want %q", got, want)
	}
	if len(obs.loads) != 1 || !strings.Contains(obs.loads[0], "jwks.json") || !strings.HasSuffix(obs.loads[0], ": ok") {
		t.Errorf("key loads %q, want one successful load of jwks.json", obs.loads)
	}
}
