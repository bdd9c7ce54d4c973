package mapping

import (
	"context"
	"time"
)

// Observer is told what mapping does that operators count and trace. Implementations
// must be safe for concurrent use and fast: TokenVerified runs on the request path.
type Observer interface {
	// TokenVerified reports one bearer-token verification by a jwt source: outcome is
	// "valid", the reason the token was rejected (as jwtverify names it: "expired",
	// "bad_signature", "wrong_issuer", ...) or "keys_unavailable"; cached says the claims
	// came from the cache of verified tokens; start and d time the verification.
	TokenVerified(ctx context.Context, outcome string, cached bool, start time.Time, d time.Duration)
	// KeysLoaded reports one load of a JWK set: source describes the file or URL, err is
	// nil when the load succeeded (also when the keys did not change).
	KeysLoaded(source string, err error)
}
