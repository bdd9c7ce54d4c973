package jwtverify

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Many goroutines verify while the key file is rotated (keys are only added, so every
// token stays valid) and reloaded; run with -race.
func TestConcurrentVerifyDuringRotation(t *testing.T) {
	clock := newFakeClock()
	keys := []*testKey{newEdKey(t, "k0"), newEdKey(t, "k1"), newEdKey(t, "k2"), newEdKey(t, "k3")}
	cfg := fileConfig(t, keys[0].jwk(t, true))
	cfg.CacheSize = 64 // small, to exercise eviction
	v := newTestVerifier(t, cfg, clock)
	ctx := context.Background()

	var published atomic.Int64
	published.Store(1)
	tokens := make([][]string, len(keys))
	for i, k := range keys {
		for n := range 40 {
			c := claimsAt(clock.Now())
			c["n"] = n
			tokens[i] = append(tokens[i], sign(t, k, c, nil))
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var pub []jwk.Key
		for i, k := range keys {
			pub = append(pub, k.jwk(t, true))
			if i == 0 {
				continue
			}
			writeJWKS(t, filepath.Dir(cfg.JWKSFile), jwksJSON(t, pub...))
			if err := v.keys.load(ctx); err != nil {
				t.Error(err)
			}
			published.Store(int64(i + 1))
			time.Sleep(5 * time.Millisecond)
		}
		close(stop)
	})
	for w := range 8 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (w + n) % int(published.Load())
				tok := tokens[i][n%len(tokens[i])]
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Errorf("key %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Close stops every goroutine the Verifier started, including an in-flight refetch.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())

	srv := newJWKSServer(t, a.jwk(t, true))
	block := make(chan struct{})
	defer close(block)
	cfg := urlConfig(srv)
	cfg.Now = clock.Now
	cfg.HTTPClient = srv.Client()
	urlV, err := New(context.Background(), cfg)
	must(t, err)
	srv.hold.Store(&block) // the next fetch hangs until Close cancels it
	clock.Advance(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, _ = urlV.Verify(ctx, sign(t, &testKey{kid: "new", alg: jwa.RS256(), priv: a.priv}, claimsAt(clock.Now()), nil))

	fileV, err := New(context.Background(), fileConfig(t, a.jwk(t, true)))
	must(t, err)

	must(t, urlV.Close())
	must(t, fileV.Close())
	srv.Client().CloseIdleConnections()

	// Close has returned: no goroutine of this package may remain. (The test server's
	// goroutines, blocked until the deferred close, are not ours.) A goroutine that has
	// run its deferred wg.Done may still be on its way out for a moment when Close
	// returns, so the scan repeats for a bounded time before it reports.
	var left []string
	for try := 0; try < 200; try++ {
		left = ourGoroutines()
		if len(left) == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, g := range left {
		t.Errorf("goroutine left after Close:\n%s", g)
	}
}

// ourGoroutines returns the stacks of live goroutines running this package's code.
func ourGoroutines() []string {
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	var ours []string
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "jwtverify.(*keyStore)") || strings.Contains(g, "jwtverify.(*Verifier)") {
			ours = append(ours, g)
		}
	}
	return ours
}
