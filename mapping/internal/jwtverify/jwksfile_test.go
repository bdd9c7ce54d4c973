package jwtverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

func TestFileReloadOnChange(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	b := newRSAKey(t, 1, "b", jwa.RS256())
	cfg := fileConfig(t, a.jwk(t, true))
	v := newTestVerifier(t, cfg, clock)
	ctx := context.Background()
	tokA := sign(t, a, claimsAt(clock.Now()), nil)
	tokB := sign(t, b, claimsAt(clock.Now()), nil)
	if _, err := v.Verify(ctx, tokA); err != nil {
		t.Fatal(err)
	}

	writeJWKS(t, filepath.Dir(cfg.JWKSFile), jwksJSON(t, b.jwk(t, true)))
	must(t, v.keys.load(ctx)) // what the periodic refresh does
	if _, err := v.Verify(ctx, tokA); ReasonOf(err) != ReasonUnknownKID {
		t.Fatalf("token of the removed key: %v, want unknown_kid", err)
	}
	if _, err := v.Verify(ctx, tokB); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
}

// A token with a kid the file lacks makes the verifier look at the file again (rate-limited).
func TestFileUnknownKIDRechecksFile(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	b := newRSAKey(t, 1, "b", jwa.RS256())
	cfg := fileConfig(t, a.jwk(t, true))
	v := newTestVerifier(t, cfg, clock)
	writeJWKS(t, filepath.Dir(cfg.JWKSFile), jwksJSON(t, a.jwk(t, true), b.jwk(t, true)))
	clock.Advance(DefaultMinRefetchInterval)
	if _, err := v.Verify(context.Background(), sign(t, b, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatalf("new kid after the file changed: %v", err)
	}
}

func TestFileBadContentKeepsLastGood(t *testing.T) {
	clock := newFakeClock()
	a := newRSAKey(t, 0, "a", jwa.RS256())
	cfg := fileConfig(t, a.jwk(t, true))
	cfg.CacheSize = -1
	v := newTestVerifier(t, cfg, clock)
	ctx := context.Background()
	tokA := sign(t, a, claimsAt(clock.Now()), nil)
	dir := filepath.Dir(cfg.JWKSFile)

	for name, content := range map[string][]byte{
		"not JSON":      []byte("{ half a file"),
		"empty set":     []byte(`{"keys":[]}`),
		"only enc keys": encOnly(t, a),
		"too large":     []byte(strings.Repeat(" ", maxJWKSBody+1)),
		"removed":       nil,
	} {
		if content == nil {
			must(t, os.Remove(cfg.JWKSFile))
		} else {
			writeJWKS(t, dir, content)
		}
		err := v.keys.load(ctx)
		if err == nil || !strings.Contains(err.Error(), cfg.JWKSFile) {
			t.Errorf("%s: load = %v, want an error naming the file", name, err)
		}
		if _, err := v.Verify(ctx, tokA); err != nil {
			t.Errorf("%s: last good key lost: %v", name, err)
		}
	}
}

// encOnly is a set whose only key is marked for encryption.
func encOnly(t *testing.T, k *testKey) []byte {
	key := k.jwk(t, false)
	must(t, key.Set("use", "enc"))
	return jwksJSON(t, key)
}

// An unchanged file is not read again.
func TestFileSourceSkipsUnchanged(t *testing.T) {
	a := newRSAKey(t, 0, "a", jwa.RS256())
	path := writeJWKS(t, t.TempDir(), jwksJSON(t, a.jwk(t, true)))
	src := &fileSource{path: path}
	set, unchanged, err := src.load(context.Background())
	if err != nil || unchanged || set.Len() != 1 {
		t.Fatalf("first load: %v, %v, %v", set, unchanged, err)
	}
	if _, unchanged, err := src.load(context.Background()); err != nil || !unchanged {
		t.Fatalf("second load: unchanged=%v, %v; want unchanged", unchanged, err)
	}
	writeJWKS(t, filepath.Dir(path), jwksJSON(t, a.jwk(t, false)))
	if _, unchanged, err := src.load(context.Background()); err != nil || unchanged {
		t.Fatalf("after replacing the file: unchanged=%v, %v", unchanged, err)
	}
}

// The file may hold a single JWK instead of a set.
func TestFileSingleJWK(t *testing.T) {
	clock := newFakeClock()
	k := newEdKey(t, "ed")
	data, err := json.Marshal(k.jwk(t, true))
	must(t, err)
	cfg := DefaultConfig()
	cfg.JWKSFile = writeJWKS(t, t.TempDir(), data)
	v := newTestVerifier(t, cfg, clock)
	if _, err := v.Verify(context.Background(), sign(t, k, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatal(err)
	}
}

// Private keys in the file are reduced to public keys.
func TestFilePrivateKeyUsedAsPublic(t *testing.T) {
	clock := newFakeClock()
	k := newECKey(t, "p", jwa.ES256(), elliptic.P256())
	privJWK, err := jwk.Import(k.priv)
	must(t, err)
	must(t, privJWK.Set(jwk.KeyIDKey, k.kid))
	cfg := DefaultConfig()
	cfg.JWKSFile = writeJWKS(t, t.TempDir(), jwksJSON(t, privJWK))
	v := newTestVerifier(t, cfg, clock)
	if _, err := v.Verify(context.Background(), sign(t, k, claimsAt(clock.Now()), nil)); err != nil {
		t.Fatal(err)
	}
	if raw := v.keys.current().all[0].raw; reflect.TypeOf(raw) != reflect.TypeOf(&ecdsa.PublicKey{}) {
		t.Errorf("the verifier holds a %T, want *ecdsa.PublicKey", raw)
	}
}

func TestNewFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	garbage := filepath.Join(dir, "garbage.json")
	must(t, os.WriteFile(garbage, []byte("nope"), 0o600))
	for _, path := range []string{missing, garbage} {
		cfg := DefaultConfig()
		cfg.JWKSFile = path
		_, err := New(context.Background(), cfg)
		if !errors.Is(err, ErrKeysUnavailable) {
			t.Errorf("New(%s): %v, want ErrKeysUnavailable", filepath.Base(path), err)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error does not name the file: %v", err)
		}
	}
}

// OnLoad hears of every load: the first, and failures that keep the previous keys.
func TestOnLoadReportsLoads(t *testing.T) {
	k := newEdKey(t, "ed")
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.JWKSFile = writeJWKS(t, dir, jwksJSON(t, k.jwk(t, true)))
	var mu sync.Mutex
	var loads []string
	cfg.OnLoad = func(source string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if !strings.Contains(source, cfg.JWKSFile) {
			t.Errorf("source %q does not name the file", source)
		}
		if err != nil {
			loads = append(loads, "error")
		} else {
			loads = append(loads, "ok")
		}
	}
	v := newTestVerifier(t, cfg, newFakeClock())
	must(t, os.WriteFile(cfg.JWKSFile, []byte("not json"), 0o600))
	_ = v.keys.load(context.Background())
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(loads, ","); got != "ok,error" {
		t.Errorf("loads reported: %s, want ok,error", got)
	}
}
