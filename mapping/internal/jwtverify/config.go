package jwtverify

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Defaults and limits of Config.
const (
	DefaultRefreshInterval    = 5 * time.Minute
	MinRefreshInterval        = 10 * time.Second
	DefaultMinRefetchInterval = 30 * time.Second
	MinMinRefetchInterval     = time.Second
	DefaultClockSkew          = 30 * time.Second
	DefaultCacheSize          = 10000
	DefaultHTTPTimeout        = 10 * time.Second

	// MaxTokenSize is the longest token Verify looks at; longer ones are rejected before
	// any parsing or hashing.
	MaxTokenSize = 16 << 10

	// maxJWKSBody bounds the body read from Config.JWKSURL.
	maxJWKSBody = 1 << 20
)

// DefaultAlgorithms are the JWS algorithms accepted when Config.Algorithms is empty: the
// asymmetric ones only.
var DefaultAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Config configures a Verifier. Apart from RequireExp (see DefaultConfig), a zero field
// means its documented default. Exactly one of JWKSFile and JWKSURL must be set.
type Config struct {
	// JWKSFile is the path of a JWK set, or of a single JWK. Its modification time, size
	// and identity are checked every RefreshInterval (and, rate-limited, when a token
	// names an unknown kid); the file is re-read when one of them changed. Symmetric
	// ("oct") keys are only ever taken from a file.
	JWKSFile string
	// JWKSURL is the http(s) URL of a JWK set. It is fetched every RefreshInterval and,
	// rate-limited by MinRefetchInterval, when a token names a kid the set lacks. A failed
	// fetch keeps the last good set. Keys named by a token (jku, x5u, jwk, x5c) are never
	// used or fetched. "oct" keys served from a URL are ignored.
	JWKSURL string
	// RefreshInterval is how often keys are re-checked, and the longest a verified token
	// stays in the cache. Default 5m; at least 10s.
	RefreshInterval time.Duration
	// MinRefetchInterval is the least time between two key loads, and so bounds the loads
	// that tokens with unknown kids can cause. Default 30s; at least 1s.
	MinRefetchInterval time.Duration
	// Issuers are the accepted "iss" values; empty means iss is not checked.
	Issuers []string
	// Audiences: the token's "aud" must contain at least one of them; empty means aud is
	// not checked.
	Audiences []string
	// Algorithms is the allowlist of JWS "alg" values; default DefaultAlgorithms. HS256,
	// HS384 and HS512 work only when listed here and only with "oct" keys from JWKSFile.
	// "none" accepts unsigned tokens when listed: anyone can then forge any claims, so it
	// is unsafe outside tests.
	Algorithms []string
	// ClockSkew is the leeway applied to exp, nbf and iat. Default 30s; must not be
	// negative (use 1ns for effectively none).
	ClockSkew time.Duration
	// RequireExp rejects tokens without "exp". The zero value does not require it, so
	// start from DefaultConfig, which sets it.
	RequireExp bool
	// CacheSize bounds the verified-token cache (entries). 0 means DefaultCacheSize; a
	// negative value disables the cache.
	CacheSize int
	// HTTPClient fetches JWKSURL. Default: a client with a 10s timeout. Either way
	// redirects are limited and never downgrade https to http.
	HTTPClient *http.Client
	// Now is the clock for token validity, cache expiry and refetch rate limiting
	// (the periodic refresh uses real timers). Default time.Now.
	Now func() time.Time
	// Logger receives key-set load failures and changes. Default: discard.
	Logger *slog.Logger
	// OnLoad, if set, is called after every load of the key set (at start, on refresh and
	// on a refetch for an unknown kid) with the source's description and the error, nil
	// when the load succeeded (also when nothing changed). It runs on the loading
	// goroutine and must not block.
	OnLoad func(source string, err error)
}

// DefaultConfig returns a Config with every default spelled out and RequireExp set; fill
// in the key source, issuers and audiences.
func DefaultConfig() Config {
	return Config{
		RefreshInterval:    DefaultRefreshInterval,
		MinRefetchInterval: DefaultMinRefetchInterval,
		Algorithms:         append([]string(nil), DefaultAlgorithms...),
		ClockSkew:          DefaultClockSkew,
		RequireExp:         true,
		CacheSize:          DefaultCacheSize,
	}
}

// Validate reports every problem of c, each prefixed with its field name in lower camel
// case ("algorithms[2]: …") so a caller can prepend its own configuration path.
func (c Config) Validate() error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.JWKSFile == "" && c.JWKSURL == "":
		add("jwksFile", "one of jwksFile and jwksURL is required")
	case c.JWKSFile != "" && c.JWKSURL != "":
		add("jwksURL", "set only one of jwksFile and jwksURL")
	}
	if c.JWKSURL != "" {
		u, err := url.Parse(c.JWKSURL)
		switch {
		case err != nil:
			add("jwksURL", "not a URL")
		case u.Scheme != "http" && u.Scheme != "https":
			add("jwksURL", "scheme must be http or https, not %q", u.Scheme)
		case u.Host == "":
			add("jwksURL", "missing host")
		}
	}
	if c.RefreshInterval != 0 && c.RefreshInterval < MinRefreshInterval {
		add("refreshInterval", "%s is below the minimum %s", c.RefreshInterval, MinRefreshInterval)
	}
	if c.MinRefetchInterval != 0 && c.MinRefetchInterval < MinMinRefetchInterval {
		add("minRefetchInterval", "%s is below the minimum %s", c.MinRefetchInterval, MinMinRefetchInterval)
	}
	if c.ClockSkew < 0 {
		add("clockSkew", "must not be negative")
	}
	for i, iss := range c.Issuers {
		if iss == "" {
			add(fmt.Sprintf("issuers[%d]", i), "empty issuer")
		}
	}
	for i, aud := range c.Audiences {
		if aud == "" {
			add(fmt.Sprintf("audiences[%d]", i), "empty audience")
		}
	}
	for i, name := range c.Algorithms {
		if _, ok := jwa.LookupSignatureAlgorithm(name); !ok {
			add(fmt.Sprintf("algorithms[%d]", i), "unknown JWS algorithm %q", name)
		}
	}
	return errors.Join(errs...)
}

// settings is a validated Config with defaults applied.
type settings struct {
	source          string // description for messages: `JWKS file "…"` or `JWKS URL "…"`
	refresh         time.Duration
	minRefetch      time.Duration
	skew            time.Duration
	requireExp      bool
	cacheSize       int // <= 0: no cache
	issuers         []string
	audiences       []string
	algs            algorithmPolicy
	httpClient      *http.Client
	now             func() time.Time
	log             *slog.Logger
	onLoad          func(source string, err error)
	allowSymmetric  bool // oct keys are used (file source only)
	file, urlString string
}

func (c Config) resolve() (settings, error) {
	if err := c.Validate(); err != nil {
		return settings{}, fmt.Errorf("jwtverify: invalid configuration: %w", err)
	}
	s := settings{
		refresh:    c.RefreshInterval,
		minRefetch: c.MinRefetchInterval,
		skew:       c.ClockSkew,
		requireExp: c.RequireExp,
		cacheSize:  c.CacheSize,
		issuers:    append([]string(nil), c.Issuers...),
		audiences:  append([]string(nil), c.Audiences...),
		now:        c.Now,
		log:        c.Logger,
		onLoad:     c.OnLoad,
		file:       c.JWKSFile,
		urlString:  c.JWKSURL,
	}
	if s.refresh == 0 {
		s.refresh = DefaultRefreshInterval
	}
	if s.minRefetch == 0 {
		s.minRefetch = DefaultMinRefetchInterval
	}
	if s.skew == 0 {
		s.skew = DefaultClockSkew
	}
	if s.cacheSize == 0 {
		s.cacheSize = DefaultCacheSize
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = DefaultAlgorithms
	}
	s.algs = newAlgorithmPolicy(algs)
	if c.JWKSFile != "" {
		s.source = fmt.Sprintf("JWKS file %q", c.JWKSFile)
		s.allowSymmetric = true
	} else {
		u, _ := url.Parse(c.JWKSURL) // validated above
		s.source = fmt.Sprintf("JWKS URL %q", u.Redacted())
		client := c.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: DefaultHTTPTimeout}
		}
		s.httpClient = jwk.WrapHTTPClientDefaults(client)
		if u.Scheme == "http" && !isLoopback(u.Hostname()) {
			s.log.Warn("jwtverify: JWKS URL is plain http; keys can be replaced in transit", "url", u.Redacted())
		}
	}
	return s, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1"
}
