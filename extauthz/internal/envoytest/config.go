package envoytest

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Default values Start fills into a zero Config.
const (
	// DefaultStatPrefix is the HTTP connection manager's stat prefix, so the
	// filter's counters are http.ingress.ext_authz.{ok,denied,error,...}.
	DefaultStatPrefix = "ingress"
	// DefaultTimeout is the ext_authz gRPC timeout. Envoy's own default is
	// 200 ms; tests get more headroom on slow CI machines.
	DefaultTimeout = 2 * time.Second
	// DefaultStatusOnError is the local reply status when the check fails.
	// Envoy's own default is 403; our configurations use 503 so that denials
	// and outages can be told apart.
	DefaultStatusOnError = 503
	// DefaultConcurrency is Envoy's worker thread count.
	DefaultConcurrency = 2
	// DefaultLogLevel is Envoy's --log-level.
	DefaultLogLevel = "warn"
)

// Names used in the rendered bootstrap.
const (
	// AuthzCluster is the name of the cluster pointing at Config.AuthzTarget;
	// its counters are cluster.ext_authz.ext_authz.{ok,denied,error}.
	AuthzCluster = "ext_authz"
	// UpstreamCluster is the name of the cluster pointing at Config.Upstream.
	UpstreamCluster = "upstream"
	// ExtAuthzFilterName is the HTTP filter name; it is also the dynamic
	// metadata namespace of the filter and the typed_per_filter_config key.
	ExtAuthzFilterName = "envoy.filters.http.ext_authz"
)

// Config describes the Envoy instance Start runs. The zero value of every
// field is usable except AuthzTarget, which is required.
type Config struct {
	// ListenerPort and AdminPort are the 127.0.0.1 ports of the HTTP listener
	// and of the admin interface; 0 picks free ports.
	ListenerPort int
	AdminPort    int

	// AuthzTarget is the ext_authz gRPC server: "ip:port" for TCP (an IP
	// address, as the cluster is STATIC), or a Unix socket path (absolute, or
	// with a "unix:" prefix).
	AuthzTarget string

	// Upstream is the "ip:port" the router forwards allowed requests to.
	// Empty means no upstream: allowed requests get a direct 200 response with
	// body NoUpstreamBody.
	Upstream string

	// StatPrefix is the HTTP connection manager's stat prefix
	// (DefaultStatPrefix when empty).
	StatPrefix string

	// ExtAuthz configures the ext_authz filter.
	ExtAuthz ExtAuthz

	// VirtualHostContextExtensions are set on the virtual host's
	// ExtAuthzPerRoute; route entries override them key by key.
	VirtualHostContextExtensions map[string]string

	// Routes are matched in order. Empty means a single route for prefix "/"
	// without per-route ext_authz settings.
	Routes []Route

	// Paths configures the connection manager's path normalisation.
	Paths PathNormalization

	// Concurrency is Envoy's worker count (DefaultConcurrency when 0).
	Concurrency int
	// LogLevel is Envoy's --log-level (DefaultLogLevel when empty).
	LogLevel string
	// ComponentLogLevel is passed as --component-log-level when not empty,
	// e.g. "ext_authz:debug,grpc:debug".
	ComponentLogLevel string
}

// NoUpstreamBody is the body of the direct response used when Config.Upstream
// is empty.
const NoUpstreamBody = "envoytest: allowed, no upstream\n"

// ExtAuthz holds the settings of the ext_authz HTTP filter. The transport API
// version is always V3 and include_peer_certificate is never set.
type ExtAuthz struct {
	// Timeout is the gRPC call timeout (DefaultTimeout when 0).
	Timeout time.Duration
	// FailureModeAllow lets requests through when the check fails.
	FailureModeAllow bool
	// FailureModeAllowHeaderAdd adds x-envoy-auth-failure-mode-allowed when a
	// request was let through because of FailureModeAllow.
	FailureModeAllowHeaderAdd bool
	// StatusOnError is the HTTP status sent when the check fails
	// (DefaultStatusOnError when 0).
	StatusOnError int
	// WithRequestBody, when not nil, makes Envoy buffer the body and send it.
	WithRequestBody *BodySettings
	// MetadataContextNamespaces lists dynamic metadata namespaces sent in
	// metadata_context, e.g. "envoy.filters.http.jwt_authn".
	MetadataContextNamespaces []string
	// FilterStatPrefix is the filter's own stat_prefix: counters become
	// http.<StatPrefix>.ext_authz.<FilterStatPrefix>.*.
	FilterStatPrefix string
	// EncodeRawHeaders sends request.http.header_map instead of headers.
	EncodeRawHeaders bool
	// ValidateMutations makes Envoy answer 500 to malformed header mutations.
	ValidateMutations bool
	// ClearRouteCache re-evaluates the route after header mutations.
	ClearRouteCache bool
	// InitialMetadata is sent as gRPC metadata with every Check call.
	InitialMetadata map[string]string
	// MaxDeniedResponseBodyBytes truncates denied bodies when not 0.
	MaxDeniedResponseBodyBytes uint32
}

// BodySettings mirrors the filter's with_request_body BufferSettings.
type BodySettings struct {
	MaxRequestBytes     uint32
	AllowPartialMessage bool
	PackAsBytes         bool
}

// Route is one route of the virtual host, forwarding to the upstream.
// Exactly one of Prefix and Path must be set.
type Route struct {
	// Prefix matches paths starting with it; Path matches one path exactly.
	Prefix string
	Path   string
	// ContextExtensions become the route's ExtAuthzPerRoute
	// check_settings.context_extensions.
	ContextExtensions map[string]string
	// DisableExtAuthz turns the filter off for this route (ExtAuthzPerRoute
	// disabled: true). It cannot be combined with ContextExtensions.
	DisableExtAuthz bool
}

// PathNormalization mirrors the connection manager's path options.
type PathNormalization struct {
	// NormalizePath removes dot segments (RFC 3986) before any filter runs.
	NormalizePath bool
	// MergeSlashes collapses repeated slashes.
	MergeSlashes bool
	// EscapedSlashes is the path_with_escaped_slashes_action, by enum name
	// ("KEEP_UNCHANGED", "REJECT_REQUEST", "UNESCAPE_AND_REDIRECT",
	// "UNESCAPE_AND_FORWARD"); empty leaves Envoy's default.
	EscapedSlashes string
}

// authzAddr is the parsed AuthzTarget.
type authzAddr struct {
	host string // TCP host, empty for a Unix socket
	port int
	pipe string // Unix socket path
}

func parseAuthzTarget(target string) (authzAddr, error) {
	switch {
	case target == "":
		return authzAddr{}, errors.New("envoytest: Config.AuthzTarget is required")
	case strings.HasPrefix(target, "unix:"):
		return authzAddr{pipe: strings.TrimPrefix(target, "unix:")}, nil
	case strings.HasPrefix(target, "/"):
		return authzAddr{pipe: target}, nil
	}
	host, port, err := splitHostPort(target)
	if err != nil {
		return authzAddr{}, fmt.Errorf("envoytest: AuthzTarget: %w", err)
	}
	return authzAddr{host: host, port: port}, nil
}

// splitHostPort parses "host:port" where host must be an IP address (the
// bootstrap uses STATIC clusters, which do not resolve names).
func splitHostPort(s string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, err
	}
	if net.ParseIP(host) == nil {
		return "", 0, fmt.Errorf("%q: host must be an IP address", s)
	}
	var port int
	if _, err := fmt.Sscan(portStr, &port); err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port", s)
	}
	return host, port, nil
}

// withDefaults returns a copy of c with defaults filled in (ports excluded).
func (c Config) withDefaults() Config {
	if c.StatPrefix == "" {
		c.StatPrefix = DefaultStatPrefix
	}
	if c.ExtAuthz.Timeout == 0 {
		c.ExtAuthz.Timeout = DefaultTimeout
	}
	if c.ExtAuthz.StatusOnError == 0 {
		c.ExtAuthz.StatusOnError = DefaultStatusOnError
	}
	if len(c.Routes) == 0 {
		c.Routes = []Route{{Prefix: "/"}}
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	return c
}
