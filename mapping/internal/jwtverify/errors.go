package jwtverify

import (
	"errors"
	"fmt"
)

// ErrInvalidToken is wrapped by every rejection of a token: the caller presented bad
// credentials (deny with 401). The error text says why; it never contains the token.
var ErrInvalidToken = errors.New("invalid token")

// ErrKeysUnavailable means no key set could be loaded (or the Verifier is closed): the
// fault is ours, not the caller's, so it should not be answered as a bad credential.
var ErrKeysUnavailable = errors.New("verification keys unavailable")

// Reason classifies a rejected token. The set of values is small and fixed, so it is fit
// for a metric label or a WWW-Authenticate error_description.
type Reason string

// Reasons a token is rejected.
const (
	ReasonMalformed     Reason = "malformed"       // not a compact JWS, bad base64 or JSON, wrong claim types
	ReasonTooLarge      Reason = "too_large"       // longer than MaxTokenSize, rejected before parsing
	ReasonUnsupported   Reason = "unsupported"     // JWE, JSON serialization, nested JWT, "crit", "b64"
	ReasonAlgNotAllowed Reason = "alg_not_allowed" // alg outside the allowlist, or not usable with the selected key
	ReasonUnknownKID    Reason = "unknown_kid"     // no key in the set for the token's kid
	ReasonBadSignature  Reason = "bad_signature"   // the signature does not verify
	ReasonExpired       Reason = "expired"         // exp is past (beyond the leeway)
	ReasonNotYetValid   Reason = "not_yet_valid"   // nbf or iat is in the future (beyond the leeway)
	ReasonMissingExp    Reason = "missing_exp"     // no exp while Config.RequireExp is set
	ReasonWrongIssuer   Reason = "wrong_issuer"    // iss missing or not in Config.Issuers
	ReasonWrongAudience Reason = "wrong_audience"  // aud missing or none of it in Config.Audiences
)

// InvalidTokenError is the concrete error of a rejected token. errors.Is(err,
// ErrInvalidToken) holds for it; errors.As gives the Reason.
type InvalidTokenError struct {
	Reason Reason
	Detail string // human-readable; built only from our own values and quoted header fields
	Err    error  // underlying library error, if any
}

// Error renders "invalid token: <reason>: <detail>[: <cause>]".
func (e *InvalidTokenError) Error() string {
	msg := ErrInvalidToken.Error() + ": " + string(e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is reports whether target is ErrInvalidToken.
func (e *InvalidTokenError) Is(target error) bool { return target == ErrInvalidToken }

// Unwrap returns the underlying library error, if any.
func (e *InvalidTokenError) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of a rejection, or "" when err is not one.
func ReasonOf(err error) Reason {
	var ite *InvalidTokenError
	if errors.As(err, &ite) {
		return ite.Reason
	}
	return ""
}

func invalid(r Reason, format string, args ...any) error {
	return &InvalidTokenError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

func invalidWrap(r Reason, err error, format string, args ...any) error {
	return &InvalidTokenError{Reason: r, Detail: fmt.Sprintf(format, args...), Err: err}
}

// quote renders an attacker-controlled header value for an error message: quoted, escaped
// and cut to a short length, so logs stay bounded and single-line.
func quote(s string) string {
	const maxLen = 64
	if len(s) > maxLen {
		return fmt.Sprintf("%q…", s[:maxLen])
	}
	return fmt.Sprintf("%q", s)
}
