package jwtverify

import (
	"testing"
	"time"
)

func TestCheckClaims(t *testing.T) {
	now := testEpoch
	sec := func(d time.Duration) float64 { return float64(now.Add(d).Unix()) }
	base := settings{
		skew:       30 * time.Second,
		refresh:    5 * time.Minute,
		requireExp: true,
		issuers:    []string{"https://a.test", "https://b.test"},
		audiences:  []string{"api", "web"},
	}
	valid := func() Claims {
		return Claims{"iss": "https://b.test", "aud": "api", "exp": sec(time.Hour)}
	}
	with := func(k string, v any) Claims {
		c := valid()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}

	tests := []struct {
		name      string
		claims    Claims
		s         func(*settings)
		want      Reason // "" means accepted
		wantUntil time.Duration
	}{
		{name: "valid", claims: valid(), wantUntil: 5 * time.Minute},
		{name: "cache bounded by exp", claims: with("exp", sec(time.Minute)), wantUntil: time.Minute},
		{name: "exp within leeway", claims: with("exp", sec(-29*time.Second))},
		{name: "exp at leeway edge", claims: with("exp", sec(-30*time.Second)), want: ReasonExpired},
		{name: "exp beyond leeway", claims: with("exp", sec(-time.Hour)), want: ReasonExpired},
		{name: "fractional exp", claims: with("exp", sec(time.Hour)+0.5)},
		{name: "huge exp", claims: with("exp", 1e300), wantUntil: 5 * time.Minute},
		{name: "negative exp", claims: with("exp", -1.5), want: ReasonExpired},
		{name: "exp string", claims: with("exp", "tomorrow"), want: ReasonMalformed},
		{name: "exp missing, required", claims: with("exp", nil), want: ReasonMissingExp},
		{name: "exp missing, not required", claims: with("exp", nil), s: func(s *settings) { s.requireExp = false }, wantUntil: 5 * time.Minute},
		{name: "nbf within leeway", claims: with("nbf", sec(29*time.Second))},
		{name: "nbf beyond leeway", claims: with("nbf", sec(31*time.Second)), want: ReasonNotYetValid},
		{name: "nbf bool", claims: with("nbf", true), want: ReasonMalformed},
		{name: "iat in the past", claims: with("iat", sec(-time.Hour))},
		{name: "iat in the future", claims: with("iat", sec(time.Minute)), want: ReasonNotYetValid},
		{name: "iat string", claims: with("iat", "now"), want: ReasonMalformed},
		{name: "issuer not accepted", claims: with("iss", "https://c.test"), want: ReasonWrongIssuer},
		{name: "issuer case differs", claims: with("iss", "https://A.test"), want: ReasonWrongIssuer},
		{name: "issuer not a string", claims: with("iss", []any{"https://a.test"}), want: ReasonWrongIssuer},
		{name: "issuer missing", claims: with("iss", nil), want: ReasonWrongIssuer},
		{name: "issuer unchecked", claims: with("iss", nil), s: func(s *settings) { s.issuers = nil }},
		{name: "aud array match", claims: with("aud", []any{"x", "web"})},
		{name: "aud array no match", claims: with("aud", []any{"x", "y"}), want: ReasonWrongAudience},
		{name: "aud array of non-strings", claims: with("aud", []any{1.0, true}), want: ReasonWrongAudience},
		{name: "aud string no match", claims: with("aud", "apix"), want: ReasonWrongAudience},
		{name: "aud number", claims: with("aud", 1.0), want: ReasonWrongAudience},
		{name: "aud missing", claims: with("aud", nil), want: ReasonWrongAudience},
		{name: "aud unchecked", claims: with("aud", nil), s: func(s *settings) { s.audiences = nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := base
			if tt.s != nil {
				tt.s(&s)
			}
			until, err := s.checkClaims(tt.claims, now)
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason = %q (%v), want %q", got, err, tt.want)
			}
			if tt.want == "" && tt.wantUntil != 0 {
				if got, want := time.Duration(until-now.UnixNano()), tt.wantUntil; got != want {
					t.Errorf("cache until = now+%s, want now+%s", got, want)
				}
			}
		})
	}
}

func TestDecodeClaims(t *testing.T) {
	tests := []struct {
		payload string
		ok      bool
	}{
		{`{"a":1}`, true},
		{`{}`, true},
		{`null`, false},
		{`[]`, false},
		{`"x"`, false},
		{`{"a":`, false},
		{`{"a":1} {"b":2}`, false},
	}
	for _, tt := range tests {
		_, err := decodeClaims([]byte(tt.payload))
		if (err == nil) != tt.ok {
			t.Errorf("decodeClaims(%s) error = %v, want ok=%v", tt.payload, err, tt.ok)
		}
		if err != nil && ReasonOf(err) != ReasonMalformed {
			t.Errorf("decodeClaims(%s) reason = %q", tt.payload, ReasonOf(err))
		}
	}
}
