package jwtverify

import (
	"crypto/sha256"
	"math"
	"sync"
	"unsafe"
)

const (
	maxCacheShards  = 64 // a power of two, at most 256 (one byte of the digest picks it)
	minShardEntries = 64
	evictionSamples = 8
)

// tokenDigest is the cache key of a token: its SHA-256, so the cache never holds a token.
func tokenDigest(token string) [sha256.Size]byte {
	// Hash the string's bytes in place: sha256 only reads them, and copying a token to a
	// []byte first would cost an allocation on every cache hit.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

// cacheEntry is one verified token. It is used while now < until and only while the key
// set generation that verified it is current.
type cacheEntry struct {
	claims Claims
	until  int64 // Unix nanoseconds: min(exp, insertion + refresh interval)
	gen    uint64
}

// tokenCache is a bounded map from token digest to verified claims, split in shards to
// keep lock contention low. A lookup takes a read lock and allocates nothing. When a
// shard is full an insert evicts one entry, chosen among a few sampled in Go's randomised
// map order: the first unusable one, else the one expiring soonest. Failed verifications
// are never cached.
type tokenCache struct {
	shards []cacheShard
}

type cacheShard struct {
	mu    sync.RWMutex
	m     map[[sha256.Size]byte]cacheEntry
	limit int
	_     [64]byte // no two shards' locks share a cache line
}

// newTokenCache returns a cache of at most size entries, or nil when size <= 0.
func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	n := 1
	for n < maxCacheShards && 2*n*minShardEntries <= size {
		n *= 2
	}
	c := &tokenCache{shards: make([]cacheShard, n)}
	for i := range c.shards {
		limit := size / n
		if i < size%n {
			limit++
		}
		c.shards[i].limit = limit
		c.shards[i].m = make(map[[sha256.Size]byte]cacheEntry)
	}
	return c
}

func (c *tokenCache) shard(key *[sha256.Size]byte) *cacheShard {
	return &c.shards[int(key[0])&(len(c.shards)-1)]
}

// get returns the claims cached for key if the entry is still usable at now (Unix
// nanoseconds) under key set generation gen.
func (c *tokenCache) get(key *[sha256.Size]byte, now int64, gen uint64) (Claims, bool) {
	sh := c.shard(key)
	sh.mu.RLock()
	e, ok := sh.m[*key]
	sh.mu.RUnlock()
	if !ok || now >= e.until || e.gen != gen {
		return nil, false
	}
	return e.claims, true
}

// put stores e under key, evicting one entry first if the shard is full.
func (c *tokenCache) put(key *[sha256.Size]byte, e cacheEntry, now int64) {
	sh := c.shard(key)
	sh.mu.Lock()
	if _, ok := sh.m[*key]; !ok && len(sh.m) >= sh.limit {
		sh.evictOne(now, e.gen)
	}
	sh.m[*key] = e
	sh.mu.Unlock()
}

// evictOne removes one entry; the caller holds the write lock and the shard is not empty.
func (sh *cacheShard) evictOne(now int64, gen uint64) {
	var victim [sha256.Size]byte
	soonest := int64(math.MaxInt64)
	sampled := 0
	for k, e := range sh.m {
		if now >= e.until || e.gen != gen {
			victim = k
			break
		}
		if e.until < soonest {
			victim, soonest = k, e.until
		}
		if sampled++; sampled == evictionSamples {
			break
		}
	}
	delete(sh.m, victim)
}

// purge drops every entry; it is called when the key set changes.
func (c *tokenCache) purge() {
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// len returns the number of entries (for tests and metrics).
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
