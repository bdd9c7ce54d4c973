package jwtverify

import (
	"encoding/json"
	"math"
	"slices"
	"time"
)

// Claims is the JSON payload of a verified token exactly as encoding/json decodes it:
// objects are map[string]any, arrays []any, numbers float64. The checks on exp, nbf, iat,
// iss and aud read these same values, so a policy sees what was validated.
//
// Claims returned by Verify may be shared, through the cache, with every other caller
// that presents the same token: treat them as read-only.
type Claims map[string]any

// decodeClaims parses a verified payload; it must be a JSON object.
func decodeClaims(payload []byte) (Claims, error) {
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, invalidWrap(ReasonMalformed, err, "payload is not a JSON object")
	}
	if c == nil {
		return nil, invalid(ReasonMalformed, "payload is not a JSON object")
	}
	return c, nil
}

// checkClaims applies the time, issuer and audience rules at now and returns until, the
// Unix nanosecond time from which a cached copy must no longer be used:
// min(exp, now + refresh interval).
func (s *settings) checkClaims(c Claims, now time.Time) (until int64, err error) {
	nowSec := float64(now.UnixNano()) / 1e9
	skew := s.skew.Seconds()

	exp, hasExp, err := numericDate(c, "exp")
	if err != nil {
		return 0, err
	}
	switch {
	case hasExp && nowSec >= exp+skew:
		return 0, invalid(ReasonExpired, "expired at %s (leeway %s)", formatDate(exp), s.skew)
	case !hasExp && s.requireExp:
		return 0, invalid(ReasonMissingExp, "no exp claim")
	}
	nbf, hasNbf, err := numericDate(c, "nbf")
	if err != nil {
		return 0, err
	}
	if hasNbf && nowSec+skew < nbf {
		return 0, invalid(ReasonNotYetValid, "not valid before %s (leeway %s)", formatDate(nbf), s.skew)
	}
	iat, hasIat, err := numericDate(c, "iat")
	if err != nil {
		return 0, err
	}
	if hasIat && nowSec+skew < iat {
		return 0, invalid(ReasonNotYetValid, "issued in the future, at %s (leeway %s)", formatDate(iat), s.skew)
	}

	if len(s.issuers) > 0 {
		iss, ok := c["iss"].(string)
		switch {
		case !ok:
			return 0, invalid(ReasonWrongIssuer, "no iss claim (or not a string)")
		case !slices.Contains(s.issuers, iss):
			return 0, invalid(ReasonWrongIssuer, "issuer %s is not accepted", quote(iss))
		}
	}
	if len(s.audiences) > 0 && !s.audienceMatches(c["aud"]) {
		return 0, invalid(ReasonWrongAudience, "aud names none of the accepted audiences")
	}

	until = now.Add(s.refresh).UnixNano()
	if hasExp {
		if e := exp * 1e9; e < float64(until) {
			until = int64(e)
		}
	}
	return until, nil
}

// audienceMatches reports whether aud (a string or an array of strings, RFC 7519 §4.1.3)
// names an accepted audience.
func (s *settings) audienceMatches(aud any) bool {
	switch aud := aud.(type) {
	case string:
		return slices.Contains(s.audiences, aud)
	case []any:
		for _, a := range aud {
			if a, ok := a.(string); ok && slices.Contains(s.audiences, a) {
				return true
			}
		}
	}
	return false
}

// numericDate reads a NumericDate claim (seconds since the epoch, RFC 7519 §2). A value
// that is not a JSON number makes the token malformed.
func numericDate(c Claims, name string) (float64, bool, error) {
	v, ok := c[name]
	if !ok {
		return 0, false, nil
	}
	f, ok := v.(float64)
	if !ok {
		return 0, false, invalid(ReasonMalformed, "%s claim is not a number", name)
	}
	return f, true, nil
}

// formatDate renders a NumericDate for an error message.
func formatDate(sec float64) string {
	if math.Abs(sec) > 1e11 { // beyond year 5000: time.Unix would not help a reader
		return "a far date"
	}
	whole, frac := math.Modf(sec)
	return time.Unix(int64(whole), int64(frac*1e9)).UTC().Format(time.RFC3339)
}
