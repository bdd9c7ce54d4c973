package jwtverify

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// keyStore holds the current keySet of one source and keeps it fresh: a goroutine
// reloads it every refresh interval, and a token with an unknown kid can ask for an
// early reload, at most one per minRefetch. A failed load keeps the last good set.
type keyStore struct {
	src        keySource
	desc       string // names the source in errors and logs
	allowSym   bool
	refresh    time.Duration
	minRefetch time.Duration
	now        func() time.Time
	log        *slog.Logger
	onChange   func() // called after a new generation is published
	onLoad     func(source string, err error)

	cur atomic.Pointer[keySet]

	loadMu sync.Mutex // serialises loads (and so calls into src)

	mu       sync.Mutex // guards the fields below
	lastLoad time.Time  // start of the latest load, by now()
	inflight chan struct{}
	closed   bool

	ctx    context.Context // lifetime of background loads; cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// newKeyStore loads the source once (within ctx) and starts the periodic refresher. The
// refresher lives until close, not until ctx ends.
func newKeyStore(ctx context.Context, s settings, src keySource, onChange func()) (*keyStore, error) {
	ks := &keyStore{
		src:        src,
		desc:       s.source,
		allowSym:   s.allowSymmetric,
		refresh:    s.refresh,
		minRefetch: s.minRefetch,
		now:        s.now,
		log:        s.log,
		onChange:   onChange,
		onLoad:     s.onLoad,
	}
	ks.mu.Lock()
	ks.lastLoad = ks.now()
	ks.mu.Unlock()
	if err := ks.load(ctx); err != nil {
		return nil, fmt.Errorf("jwtverify: %w: %w", ErrKeysUnavailable, err)
	}
	ks.ctx, ks.cancel = context.WithCancel(context.WithoutCancel(ctx))
	ks.wg.Add(1)
	go ks.run()
	return ks, nil
}

// current returns the snapshot in use; it never returns nil after newKeyStore.
func (s *keyStore) current() *keySet { return s.cur.Load() }

func (s *keyStore) run() {
	defer s.wg.Done()
	t := time.NewTicker(s.refresh)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			s.mu.Lock()
			s.lastLoad = s.now()
			s.mu.Unlock()
			if err := s.load(s.ctx); err != nil && s.ctx.Err() == nil {
				s.log.Warn("jwtverify: key refresh failed; keeping the last good keys", "error", err)
			}
		}
	}
}

// refetch reloads the keys early for a token whose kid the current set lacks, unless a
// load started less than minRefetch ago. It waits for that load (or for ctx) and returns
// the set current afterwards. The load itself runs under the store's lifetime, so a
// caller giving up cannot cut it short.
func (s *keyStore) refetch(ctx context.Context) (*keySet, error) {
	s.mu.Lock()
	ch := s.inflight
	if ch == nil {
		if s.closed || s.now().Sub(s.lastLoad) < s.minRefetch {
			s.mu.Unlock()
			return s.current(), nil
		}
		s.lastLoad = s.now()
		ch = make(chan struct{})
		s.inflight = ch
		s.wg.Add(1)
		go s.loadAsync(ch)
	}
	s.mu.Unlock()
	select {
	case <-ch:
		return s.current(), nil
	case <-ctx.Done():
		return s.current(), ctx.Err()
	}
}

func (s *keyStore) loadAsync(done chan struct{}) {
	defer s.wg.Done()
	if err := s.load(s.ctx); err != nil && s.ctx.Err() == nil {
		s.log.Warn("jwtverify: key refetch for an unknown kid failed; keeping the last good keys", "error", err)
	}
	s.mu.Lock()
	s.inflight = nil
	s.mu.Unlock()
	close(done)
}

// load reads the source once and publishes a new generation when the usable keys differ
// from the current ones. On any error the current set stays.
func (s *keyStore) load(ctx context.Context) (err error) {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.onLoad != nil {
		defer func() { s.onLoad(s.desc, err) }()
	}
	set, unchanged, err := s.src.load(ctx)
	if err != nil {
		return fmt.Errorf("loading %s: %w", s.desc, err)
	}
	if unchanged {
		return nil
	}
	next, skipped, err := buildKeySet(set, s.allowSym)
	if err != nil {
		return fmt.Errorf("%s: %w", s.desc, err)
	}
	prev := s.cur.Load()
	if prev != nil && prev.fingerprint == next.fingerprint {
		return nil
	}
	for _, why := range skipped {
		s.log.Warn("jwtverify: key not used", "source", s.desc, "reason", why)
	}
	next.gen = 1
	if prev != nil {
		next.gen = prev.gen + 1
	}
	s.cur.Store(next)
	if prev != nil {
		s.log.Info("jwtverify: key set changed", "source", s.desc, "keys", len(next.all), "generation", next.gen)
		s.onChange()
	}
	return nil
}

// close stops the refresher and waits for every background load to end.
func (s *keyStore) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}
