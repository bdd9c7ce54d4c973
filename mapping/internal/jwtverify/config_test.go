package jwtverify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the joined error; empty: valid
	}{
		{name: "file", cfg: Config{JWKSFile: "keys.json"}},
		{name: "url", cfg: Config{JWKSURL: "https://idp.test/jwks"}},
		{name: "no source", cfg: Config{}, want: []string{"jwksFile: one of"}},
		{name: "two sources", cfg: Config{JWKSFile: "k", JWKSURL: "https://idp.test/jwks"}, want: []string{"jwksURL: set only one"}},
		{name: "url scheme", cfg: Config{JWKSURL: "file:///etc/keys"}, want: []string{`jwksURL: scheme must be http or https, not "file"`}},
		{name: "url host", cfg: Config{JWKSURL: "https:///jwks"}, want: []string{"jwksURL: missing host"}},
		{
			name: "every problem at once",
			cfg: Config{
				JWKSFile:           "k",
				RefreshInterval:    time.Second,
				MinRefetchInterval: time.Millisecond,
				ClockSkew:          -time.Second,
				Issuers:            []string{"a", ""},
				Audiences:          []string{""},
				Algorithms:         []string{"RS256", "XS256"},
			},
			want: []string{
				"refreshInterval: 1s is below the minimum 10s",
				"minRefetchInterval: 1ms is below the minimum 1s",
				"clockSkew: must not be negative",
				"issuers[1]: empty issuer",
				"audiences[0]: empty audience",
				`algorithms[1]: unknown JWS algorithm "XS256"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, missing %q", err, w)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	s, err := Config{JWKSFile: "k"}.resolve()
	must(t, err)
	if s.refresh != DefaultRefreshInterval || s.minRefetch != DefaultMinRefetchInterval ||
		s.skew != DefaultClockSkew || s.cacheSize != DefaultCacheSize || s.now == nil || s.log == nil {
		t.Errorf("defaults not applied: %+v", s)
	}
	if s.requireExp {
		t.Error("a zero Config must not require exp (DefaultConfig does)")
	}
	for _, alg := range DefaultAlgorithms {
		if _, ok := s.algs.lookup(alg); !ok {
			t.Errorf("default algorithm %s not allowed", alg)
		}
	}
	for _, alg := range []string{"none", "HS256", "HS384", "HS512"} {
		if _, ok := s.algs.lookup(alg); ok {
			t.Errorf("%s allowed by default", alg)
		}
	}
	if !DefaultConfig().RequireExp {
		t.Error("DefaultConfig does not require exp")
	}

	u, err := Config{JWKSURL: "https://user:secret@idp.test/jwks"}.resolve()
	must(t, err)
	if u.httpClient == nil || u.httpClient.Timeout != DefaultHTTPTimeout {
		t.Errorf("default HTTP client: %+v", u.httpClient)
	}
	if strings.Contains(u.source, "secret") {
		t.Errorf("source description leaks the URL password: %s", u.source)
	}
}

func TestNewInvalidConfig(t *testing.T) {
	_, err := New(context.Background(), Config{})
	if err == nil || errors.Is(err, ErrKeysUnavailable) {
		t.Fatalf("New(Config{}) = %v, want a configuration error", err)
	}
}
