package jwtverify

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
)

func TestCacheHitIsAllocationFree(t *testing.T) {
	clock := newFakeClock()
	k := newRSAKey(t, 0, "a", jwa.RS256())
	v := newTestVerifier(t, fileConfig(t, k.jwk(t, true)), clock)
	tok := sign(t, k, claimsAt(clock.Now()), nil)
	ctx := context.Background()
	first, err := v.Verify(ctx, tok)
	must(t, err)
	again, err := v.Verify(ctx, tok)
	must(t, err)
	if reflect.ValueOf(again).Pointer() != reflect.ValueOf(first).Pointer() {
		t.Fatal("second Verify did not come from the cache")
	}
	allocs := testing.AllocsPerRun(1000, func() { _, _ = v.Verify(ctx, tok) })
	if allocs != 0 {
		t.Errorf("cache hit allocates %.1f times", allocs)
	}
}

// Cache entries are never used past exp, nor longer than RefreshInterval.
func TestCacheEntryLifetime(t *testing.T) {
	clock := newFakeClock()
	k := newRSAKey(t, 0, "a", jwa.RS256())
	cfg := fileConfig(t, k.jwk(t, true))
	cfg.RefreshInterval = time.Minute
	v := newTestVerifier(t, cfg, clock)
	ctx := context.Background()

	cached := func(tok string) bool {
		d := tokenDigest(tok)
		_, ok := v.cache.get(&d, clock.Now().UnixNano(), v.keys.current().gen)
		return ok
	}

	short := claimsAt(clock.Now())
	short["exp"] = clock.Now().Add(20 * time.Second).Unix()
	tokShort := sign(t, k, short, nil)
	tokLong := sign(t, k, claimsAt(clock.Now()), nil)
	for _, tok := range []string{tokShort, tokLong} {
		if _, err := v.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if !cached(tok) {
			t.Fatal("not cached")
		}
	}
	clock.Advance(20 * time.Second)
	if cached(tokShort) {
		t.Error("entry used at its exp")
	}
	// Past exp but within the leeway: re-verified, not served from the cache.
	if _, err := v.Verify(ctx, tokShort); err != nil {
		t.Errorf("token within the exp leeway: %v", err)
	}
	if cached(tokShort) {
		t.Error("token past exp was cached")
	}
	clock.Advance(40 * time.Second)
	if cached(tokLong) {
		t.Error("entry used past insertion + RefreshInterval")
	}
	if _, err := v.Verify(ctx, tokShort); ReasonOf(err) != ReasonExpired {
		t.Errorf("token past exp + leeway: %v, want expired", err)
	}
}

func TestCacheBounded(t *testing.T) {
	clock := newFakeClock()
	k := newEdKey(t, "ed")
	cfg := fileConfig(t, k.jwk(t, true))
	cfg.CacheSize = 100
	v := newTestVerifier(t, cfg, clock)
	for i := range 500 {
		c := claimsAt(clock.Now())
		c["n"] = i
		if _, err := v.Verify(context.Background(), sign(t, k, c, nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.cache.len(); n != 100 {
		t.Errorf("cache holds %d entries, want 100", n)
	}
}

func TestCacheDisabled(t *testing.T) {
	clock := newFakeClock()
	k := newEdKey(t, "ed")
	cfg := fileConfig(t, k.jwk(t, true))
	cfg.CacheSize = -1
	v := newTestVerifier(t, cfg, clock)
	if v.cache != nil {
		t.Fatal("cache present")
	}
	if _, err := v.Verify(context.Background(), sign(t, k, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatal(err)
	}
}

func TestTokenCacheShards(t *testing.T) {
	for _, size := range []int{1, 5, 127, 128, 1000, 10000, 100000} {
		c := newTokenCache(size)
		total := 0
		for i := range c.shards {
			total += c.shards[i].limit
		}
		if total != size {
			t.Errorf("size %d: shard limits sum to %d", size, total)
		}
		if n := len(c.shards); n&(n-1) != 0 || n > maxCacheShards {
			t.Errorf("size %d: %d shards", size, n)
		}
	}
	if newTokenCache(0) != nil || newTokenCache(-1) != nil {
		t.Error("a non-positive size must disable the cache")
	}
}

// Eviction prefers entries that can no longer be used.
func TestTokenCacheEvictsUnusableFirst(t *testing.T) {
	c := newTokenCache(8) // one shard
	key := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte{byte(i)}) }
	const now, gen = 1000, 2
	for i := range 8 {
		until := int64(now + 100)
		if i == 5 {
			until = now // already unusable
		}
		k := key(i)
		c.put(&k, cacheEntry{claims: Claims{}, until: until, gen: gen}, now)
	}
	k := key(8)
	c.put(&k, cacheEntry{claims: Claims{}, until: now + 100, gen: gen}, now)
	if c.len() != 8 {
		t.Fatalf("len = %d", c.len())
	}
	k5 := key(5)
	if _, ok := c.shards[0].m[k5]; ok {
		t.Error("the expired entry survived eviction")
	}
	for _, i := range []int{0, 8} {
		ki := key(i)
		if _, ok := c.get(&ki, now, gen); !ok {
			t.Errorf("entry %d missing", i)
		}
	}
	if _, ok := c.get(&k, now, gen+1); ok {
		t.Error("entry used under another key generation")
	}
	c.purge()
	if c.len() != 0 {
		t.Error("purge left entries")
	}
}

// A key-set change empties the cache.
func TestCachePurgedOnKeyChange(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	b := newRSAKey(t, 1, "b", jwa.RS256())
	cfg := fileConfig(t, a.jwk(t, true))
	v := newTestVerifier(t, cfg, clock)
	if _, err := v.Verify(context.Background(), sign(t, a, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatal(err)
	}
	writeJWKS(t, filepath.Dir(cfg.JWKSFile), jwksJSON(t, a.jwk(t, true), b.jwk(t, true)))
	must(t, v.keys.load(context.Background()))
	if n := v.cache.len(); n != 0 {
		t.Errorf("cache holds %d entries after a key change", n)
	}
}
