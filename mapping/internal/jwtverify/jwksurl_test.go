package jwtverify

import (
	"context"
	"crypto/elliptic"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// jwksServer serves a JWK set on 127.0.0.1 that a test can rotate or break, and counts
// the fetches.
type jwksServer struct {
	*httptest.Server
	body    atomic.Pointer[[]byte]
	status  atomic.Int64 // 0: 200
	fetches atomic.Int64
	hold    atomic.Pointer[chan struct{}] // when set, requests wait for it to close
}

func newJWKSServer(t *testing.T, keys ...jwk.Key) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.serve(t, keys...)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	s.Server = &httptest.Server{Listener: ln, Config: &http.Server{Handler: s}}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	s.fetches.Add(1)
	if hold := s.hold.Load(); hold != nil {
		<-*hold
	}
	if code := s.status.Load(); code != 0 {
		http.Error(w, "unavailable", int(code))
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(*s.body.Load())
}

// serve makes the server publish keys from now on.
func (s *jwksServer) serve(t *testing.T, keys ...jwk.Key) {
	data := jwksJSON(t, keys...)
	s.body.Store(&data)
}

func urlConfig(s *jwksServer) Config {
	cfg := DefaultConfig()
	cfg.JWKSURL = s.URL + "/.well-known/jwks.json"
	cfg.Issuers = []string{testIssuer}
	cfg.Audiences = []string{testAudience}
	return cfg
}

func TestURLUnknownKIDRefetchRateLimited(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	b := newECKey(t, "b", jwa.ES256(), elliptic.P256())
	c := newEdKey(t, "c")
	srv := newJWKSServer(t, a.jwk(t, true))
	cfg := urlConfig(srv)
	cfg.MinRefetchInterval = 30 * time.Second
	v := newTestVerifier(t, cfg, clock)
	ctx := context.Background()

	expectFetches := func(want int64) {
		t.Helper()
		if got := srv.fetches.Load(); got != want {
			t.Fatalf("fetches = %d, want %d", got, want)
		}
	}
	expectFetches(1) // New
	if _, err := v.Verify(ctx, sign(t, a, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatal(err)
	}
	expectFetches(1)

	// Rotate: b is published. Right after the initial load a refetch is rate-limited.
	srv.serve(t, a.jwk(t, true), b.jwk(t, true))
	tokB := sign(t, b, claimsAt(clock.Now()), nil)
	if _, err := v.Verify(ctx, tokB); ReasonOf(err) != ReasonUnknownKID {
		t.Fatalf("kid b within the rate limit: %v, want unknown_kid", err)
	}
	expectFetches(1)

	// Once the interval has passed, the unknown kid triggers exactly one refetch, however
	// many requests carry it at once.
	clock.Advance(31 * time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			if _, err := v.Verify(ctx, tokB); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("kid b after rotation: %v", err)
	}
	expectFetches(2)

	// A kid nobody published cannot force more fetches than the rate limit allows.
	bogus := &testKey{kid: "bogus", alg: jwa.EdDSA(), priv: c.priv}
	for range 5 {
		clock.Advance(time.Second)
		if _, err := v.Verify(ctx, sign(t, bogus, claimsAt(clock.Now()), nil)); ReasonOf(err) != ReasonUnknownKID {
			t.Fatalf("bogus kid: %v", err)
		}
	}
	expectFetches(2)
	clock.Advance(30 * time.Second)
	if _, err := v.Verify(ctx, sign(t, bogus, claimsAt(clock.Now()), nil)); ReasonOf(err) != ReasonUnknownKID {
		t.Fatalf("bogus kid: %v", err)
	}
	expectFetches(3)
}

// When the server fails (HTTP error or no listener), the last good keys stay in use.
func TestURLFailureKeepsLastGoodKeys(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	srv := newJWKSServer(t, a.jwk(t, true))
	cfg := urlConfig(srv)
	cfg.CacheSize = -1 // every Verify uses the keys
	v := newTestVerifier(t, cfg, clock)
	ctx := context.Background()
	tokA := sign(t, a, claimsAt(clock.Now()), nil)
	bogus := sign(t, &testKey{kid: "new", alg: jwa.RS256(), priv: a.priv}, claimsAt(clock.Now()), nil)
	gen := v.keys.current().gen

	srv.status.Store(http.StatusInternalServerError)
	clock.Advance(time.Minute)
	if _, err := v.Verify(ctx, bogus); ReasonOf(err) != ReasonUnknownKID {
		t.Fatalf("unknown kid with the server failing: %v", err)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2 (the refetch was attempted)", got)
	}
	if err := v.keys.load(ctx); err == nil || !strings.Contains(err.Error(), srv.URL) {
		t.Fatalf("periodic load with the server failing: %v, want an error naming the URL", err)
	}
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Fatalf("last good key lost after HTTP 500: %v", err)
	}

	srv.Close() // connection refused from now on
	clock.Advance(time.Minute)
	if _, err := v.Verify(ctx, bogus); ReasonOf(err) != ReasonUnknownKID {
		t.Fatalf("unknown kid with the server down: %v", err)
	}
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Fatalf("last good key lost after network failure: %v", err)
	}
	if got := v.keys.current().gen; got != gen {
		t.Errorf("generation changed from %d to %d without a successful load", gen, got)
	}
}

// A key that disappears from the set stops verifying within one refresh, cached or not.
func TestURLRotationRevokesCachedTokens(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	b := newRSAKey(t, 1, "b", jwa.RS256())
	srv := newJWKSServer(t, a.jwk(t, true))
	cfg := urlConfig(srv)
	v := newTestVerifier(t, cfg, clock)
	ctx := context.Background()
	tokA := sign(t, a, claimsAt(clock.Now()), nil)
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Fatal(err)
	}
	if v.cache.len() != 1 {
		t.Fatalf("token not cached")
	}

	// Re-serving the same keys (reformatted) changes nothing.
	srv.serve(t, a.jwk(t, true))
	must(t, v.keys.load(ctx))
	if v.cache.len() != 1 {
		t.Fatalf("cache emptied by an unchanged key set")
	}

	// The periodic refresh sees a replaced by b: the cached token is dropped.
	srv.serve(t, b.jwk(t, true))
	must(t, v.keys.load(ctx))
	if _, err := v.Verify(ctx, tokA); ReasonOf(err) != ReasonUnknownKID {
		t.Fatalf("token of a removed key: %v, want unknown_kid", err)
	}
	if _, err := v.Verify(ctx, sign(t, b, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
}

// With the real clock and a short refresh interval: once a key leaves the published set,
// its token (cached) stops verifying within about one interval, through the periodic
// refresh alone.
func TestURLRotationWithinOneRefresh(t *testing.T) {
	a := newRSAKey(t, 0, "a", jwa.RS256())
	b := newRSAKey(t, 1, "b", jwa.RS256())
	srv := newJWKSServer(t, a.jwk(t, true))
	s, err := urlConfig(srv).resolve()
	must(t, err)
	const refresh = 100 * time.Millisecond
	s.refresh = refresh // below the configurable minimum, for the test only
	v, err := newVerifier(context.Background(), s)
	must(t, err)
	t.Cleanup(func() { _ = v.Close() })
	ctx := context.Background()
	tokA := sign(t, a, claimsAt(time.Now()), nil)
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Fatal(err)
	}

	srv.serve(t, b.jwk(t, true))
	rotated := time.Now()
	for {
		_, err := v.Verify(ctx, tokA)
		if err != nil {
			if ReasonOf(err) != ReasonUnknownKID {
				t.Fatalf("after rotation: %v, want unknown_kid", err)
			}
			break
		}
		if time.Since(rotated) > 20*refresh {
			t.Fatalf("token of a removed key still verifies %s after rotation", time.Since(rotated))
		}
		time.Sleep(refresh / 10)
	}
	if got := srv.fetches.Load(); got < 2 {
		t.Errorf("fetches = %d; the periodic refresh did not run", got)
	}
}

func TestURLInitialFailure(t *testing.T) {
	srv := newJWKSServer(t, newRSAKey(t, 0, "a", jwa.RS256()).jwk(t, true))
	srv.status.Store(http.StatusNotFound)
	cfg := urlConfig(srv)
	_, err := New(context.Background(), cfg)
	if !errors.Is(err, ErrKeysUnavailable) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("New with HTTP 404: %v, want ErrKeysUnavailable", err)
	}
	if !strings.Contains(err.Error(), srv.URL) {
		t.Errorf("error does not name the URL: %v", err)
	}

	srv.Close()
	if _, err := New(context.Background(), cfg); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("New with no server: %v, want ErrKeysUnavailable", err)
	}
}

// New's ctx bounds the initial fetch.
func TestURLInitialFetchHonoursContext(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	cfg := DefaultConfig()
	cfg.JWKSURL = srv.URL
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := New(ctx, cfg); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("New: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("New took %s despite a 100ms context", d)
	}
}

// Symmetric keys are secrets; served from a URL they are ignored.
func TestURLIgnoresOctKeys(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	hk, hjwk := newHMACKey(t, "h")
	srv := newJWKSServer(t, a.jwk(t, true), hjwk)
	cfg := urlConfig(srv)
	cfg.Algorithms = []string{"RS256", "HS256"}
	v := newTestVerifier(t, cfg, clock)
	_, err := v.Verify(context.Background(), sign(t, hk, claimsAt(clock.Now()), nil))
	if ReasonOf(err) != ReasonUnknownKID {
		t.Fatalf("HS256 token with an oct key from a URL: %v, want unknown_kid", err)
	}

	srv.serve(t, hjwk)
	if _, err := New(context.Background(), cfg); !errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("New with only oct keys at the URL: %v, want ErrKeysUnavailable", err)
	}
}

// A request that gives up while waiting for a refetch gets its context error, not a
// verdict on the token; the refetch itself completes.
func TestURLRefetchWaitHonoursContext(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	b := newRSAKey(t, 1, "b", jwa.RS256())
	srv := newJWKSServer(t, a.jwk(t, true))
	v := newTestVerifier(t, urlConfig(srv), clock)

	block := make(chan struct{})
	srv.hold.Store(&block)
	srv.serve(t, a.jwk(t, true), b.jwk(t, true))
	clock.Advance(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tokB := sign(t, b, claimsAt(clock.Now()), nil)
	_, err := v.Verify(ctx, tokB)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify with an expiring context: %v", err)
	}
	close(block)
	deadline := time.Now().Add(5 * time.Second)
	for !v.keys.current().hasKID("b") {
		if time.Now().After(deadline) {
			t.Fatal("the refetch did not complete after the caller gave up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := v.Verify(context.Background(), tokB); err != nil {
		t.Fatal(err)
	}
}
