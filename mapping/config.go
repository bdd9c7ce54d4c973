package mapping

import "time"

// Config says how CheckRequests become policy inputs. It is the "identity", "routes" and
// "requests" part of gatehouse's configuration file; every field is documented in the
// configuration reference. The zero value of each field is its documented default.
type Config struct {
	// Identity lists where the principal comes from, tried in order.
	Identity IdentityConfig `yaml:"identity"`
	// Routes are matched in order; the first match maps the request.
	Routes []Route `yaml:"routes"`
	// Requests sets how requests are read and what happens to ones no route matches.
	Requests RequestsConfig `yaml:"requests"`
	// Observer, if set, is told about token verifications and key loads (telemetry).
	Observer Observer `yaml:"-"`
}

// IdentityConfig lists the principal sources.
type IdentityConfig struct {
	Sources []Source `yaml:"sources"`
}

// Source is one principal source; exactly one of its fields is set.
type Source struct {
	JWT       *JWTSource       `yaml:"jwt"`
	JWTAuthn  *JWTAuthnSource  `yaml:"jwtAuthn"`
	SPIFFE    *SPIFFESource    `yaml:"spiffe"`
	Headers   *HeadersSource   `yaml:"headers"`
	Anonymous *AnonymousSource `yaml:"anonymous"`
}

// JWTSource verifies a bearer token itself (required under Istio, where the CUSTOM
// authorization provider runs before Istio's own JWT filter).
type JWTSource struct {
	// Header carries the token (default "authorization", with the "Bearer " prefix).
	Header string `yaml:"header"`
	// Prefix before the token in the header (default "Bearer ", case-insensitive).
	Prefix     *string       `yaml:"prefix"`
	JWKS       JWKSConfig    `yaml:"jwks"`
	Issuers    []string      `yaml:"issuers"`
	Audiences  []string      `yaml:"audiences"`
	Algorithms []string      `yaml:"algorithms"`
	ClockSkew  time.Duration `yaml:"clockSkew"`
	// Principal builds the principal from the verified claims (CEL over "claims").
	Principal PrincipalExprs `yaml:"principal"`
}

// JWKSConfig says where the verification keys are: exactly one of File and URL.
type JWKSConfig struct {
	File            string        `yaml:"file"`
	URL             string        `yaml:"url"`
	RefreshInterval time.Duration `yaml:"refreshInterval"`
}

// JWTAuthnSource reads claims that Envoy's jwt_authn filter verified and put in dynamic
// metadata (the filter must run first and its namespace be listed in the ext_authz filter's
// metadata_context_namespaces).
type JWTAuthnSource struct {
	// Namespace of the metadata (default "envoy.filters.http.jwt_authn").
	Namespace string `yaml:"namespace"`
	// PayloadKey is jwt_authn's payload_in_metadata name (default: the first key found).
	PayloadKey string         `yaml:"payloadKey"`
	Principal  PrincipalExprs `yaml:"principal"`
}

// SPIFFESource takes the mTLS peer identity (source.principal) for service-to-service
// calls. Only spiffe:// IDs of the listed trust domains are accepted.
type SPIFFESource struct {
	TrustDomains []string `yaml:"trustDomains"`
	// IDs, if set, are the only accepted IDs (glob patterns, "*" within a segment). Under
	// Istio, exclude the ingress gateway: its identity is not the end user's.
	IDs []string `yaml:"ids"`
	// Principal builds the principal from "spiffe" (id, trustDomain, path, namespace,
	// serviceAccount). Defaults: id = spiffe.id, roles = ["service"].
	Principal PrincipalExprs `yaml:"principal"`
}

// HeadersSource trusts identity headers set by a hop in front of Envoy. It applies only
// when the peer is one of TrustedPeers (SPIFFE IDs); never enable it for direct clients.
type HeadersSource struct {
	TrustedPeers []string `yaml:"trustedPeers"`
	IDHeader     string   `yaml:"idHeader"`
	RolesHeader  string   `yaml:"rolesHeader"`
}

// AnonymousSource is the principal of requests without credentials.
type AnonymousSource struct {
	ID    string   `yaml:"id"`
	Roles []string `yaml:"roles"`
}

// PrincipalExprs are CEL expressions that build a principal.
type PrincipalExprs struct {
	ID    string            `yaml:"id"`
	Roles string            `yaml:"roles"`
	Attr  map[string]string `yaml:"attr"`
}

// Route maps matching requests to a resource and actions.
type Route struct {
	Name  string     `yaml:"name"`
	Match RouteMatch `yaml:"match"`
	// Resource describes what the request is about.
	Resource ResourceExprs `yaml:"resource"`
	// Actions maps HTTP methods to actions ("*" for any other method); Action names one
	// action for every method; ActionExpr computes it (CEL).
	Actions    map[string]string `yaml:"actions"`
	Action     string            `yaml:"action"`
	ActionExpr string            `yaml:"actionExpr"`
}

// RouteMatch selects requests. Exactly one of Path, Prefix and Template is set; the
// others are optional filters.
type RouteMatch struct {
	Path     string   `yaml:"path"`     // exact canonical path
	Prefix   string   `yaml:"prefix"`   // path prefix at a segment boundary
	Template string   `yaml:"template"` // "/api/users/{user}/documents/{id}", "{rest...}" at the end
	Methods  []string `yaml:"methods"`
	Hosts    []string `yaml:"hosts"` // exact or "*.example.com"
	// ContextExtensions must all be present with these values (Envoy per-route settings).
	ContextExtensions map[string]string `yaml:"contextExtensions"`
	// When is a CEL condition over the request that must also hold.
	When string `yaml:"when"`
}

// ResourceExprs build the resource. Kind is a name, or KindExpr a CEL expression; the
// other fields are CEL expressions over request, params, context, metadata and source.
type ResourceExprs struct {
	Kind          string            `yaml:"kind"`
	KindExpr      string            `yaml:"kindExpr"`
	ID            string            `yaml:"id"`
	Attr          map[string]string `yaml:"attr"`
	PolicyVersion string            `yaml:"policyVersion"`
	Scope         string            `yaml:"scope"`
}

// RequestsConfig sets how requests are read.
type RequestsConfig struct {
	// Unmatched is "deny" (default, 403) or "allow" (the request is let through unchecked).
	Unmatched string `yaml:"unmatched"`
	// NonHTTP says what to do with CheckRequests without an HTTP part (Envoy's network
	// filter): "deny" (default) or "allow".
	NonHTTP string `yaml:"nonHTTP"`
	// AllowAmbiguousPaths lets through paths with encoded "/" or "\", NUL, or dot segments
	// that appear only after decoding (default false: 400).
	AllowAmbiguousPaths bool `yaml:"allowAmbiguousPaths"`
	// MaxBodyBytes caps the body parsed as JSON for expressions (default 1 MiB).
	MaxBodyBytes int `yaml:"maxBodyBytes"`
}
