package extauthz

import (
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/extauthz/internal/envoylint"
)

// Severity ranks the findings of LintEnvoy.
type Severity int

// Severities, lowest first. Notes say what could not be checked; warnings are risky
// defaults and mismatches with gatehouse's configuration; errors fail open, leave traffic
// unchecked or make every check fail.
const (
	SeverityNote Severity = iota
	SeverityWarning
	SeverityError
)

func (s Severity) String() string { return envoylint.Severity(s).String() }

// ParseSeverity reads "note", "warning" or "error".
func ParseSeverity(s string) (Severity, error) {
	for _, v := range []Severity{SeverityNote, SeverityWarning, SeverityError} {
		if strings.EqualFold(s, v.String()) {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%q: want error, warning or note", s)
}

// Finding is one risky or unchecked ext_authz setting in an Envoy or Istio configuration.
type Finding struct {
	File     string
	Line     int // 0 when unknown
	Severity Severity
	// Path is the setting's location, with names in parentheses, such as
	// static_resources.listeners[0](ingress).filter_chains[0].filters[0](...).typed_config.http_filters[0](envoy.filters.http.ext_authz).typed_config.failure_mode_allow.
	// A missing setting is named by the path it would have; Line is then the line of
	// the nearest enclosing setting.
	Path    string
	Message string
}

// String renders the finding as "file:line: severity: message (path)".
func (f Finding) String() string {
	loc := f.File
	if f.Line > 0 {
		loc = fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	s := fmt.Sprintf("%s: %s: %s", loc, f.Severity, f.Message)
	if f.Path != "" {
		s += " (" + f.Path + ")"
	}
	return s
}

// LintEnvoy reads an Envoy bootstrap (YAML or JSON) or an Istio mesh configuration (a
// MeshConfig, an IstioOperator, Helm values with meshConfig, or the istio ConfigMap) and
// returns the ext_authz settings that fail open, leave traffic unchecked or do not fit
// gatehouse, sorted by line. name labels the findings and errors.
//
// cfg is the gatehouse configuration the proxy will call; with it the body, metadata,
// header and non-HTTP settings are compared with what gatehouse's routes and identity
// sources read. A nil cfg skips those comparisons.
//
// The error reports a file that cannot be read as a whole: YAML syntax, unknown fields,
// wrong value types, each as "name:line: message".
func LintEnvoy(name string, data []byte, cfg *Config) ([]Finding, error) {
	fs, err := envoylint.Lint(name, data, lintFacts(cfg))
	if err != nil {
		return nil, err
	}
	out := make([]Finding, 0, len(fs))
	for _, f := range fs {
		out = append(out, Finding{File: name, Line: f.Line, Severity: Severity(f.Severity), Path: f.Path, Message: f.Message})
	}
	return out, nil
}

// LintHealthPaths are the exact route paths on which LintEnvoy accepts a disabled
// ext_authz filter.
func LintHealthPaths() []string { return envoylint.HealthPaths() }

// lintFacts extracts what the Envoy checks compare with.
func lintFacts(cfg *Config) *envoylint.Gatehouse {
	if cfg == nil {
		return nil
	}
	ref := func(key string) envoylint.Ref {
		name := cfg.name
		if name == "" {
			name = "gatehouse configuration"
		}
		for k := key; k != ""; k = parentKey(k) {
			if l, ok := cfg.lines[k]; ok {
				return envoylint.Ref(fmt.Sprintf("%s:%d %s", name, l, key))
			}
		}
		return envoylint.Ref(name + " " + key)
	}
	gh := &envoylint.Gatehouse{
		NonHTTPAllow:           cfg.Requests.NonHTTP == "allow",
		MaxBodyBytes:           cfg.Requests.MaxBodyBytes,
		MaxReceiveMessageBytes: cfg.Server.GRPC.MaxReceiveMessageBytes,
	}
	if gh.MaxBodyBytes <= 0 {
		gh.MaxBodyBytes = 1 << 20 // mapping's default
	}
	for _, key := range cfg.Config.BodyReaders() {
		gh.BodyReaders = append(gh.BodyReaders, ref(key))
	}
	for i, src := range cfg.Identity.Sources {
		key := fmt.Sprintf("identity.sources[%d]", i)
		switch {
		case src.JWT != nil:
			h := strings.ToLower(src.JWT.Header)
			if h == "" {
				h = "authorization"
			}
			gh.Headers = append(gh.Headers, envoylint.HeaderRef{Header: h, Ref: ref(key + ".jwt")})
		case src.JWTAuthn != nil:
			ns := src.JWTAuthn.Namespace
			if ns == "" {
				ns = "envoy.filters.http.jwt_authn"
			}
			gh.JWTAuthn = append(gh.JWTAuthn, envoylint.NamespaceRef{Namespace: ns, Ref: ref(key + ".jwtAuthn")})
		case src.Headers != nil:
			for _, h := range []string{src.Headers.IDHeader, src.Headers.RolesHeader} {
				if h != "" {
					gh.Headers = append(gh.Headers, envoylint.HeaderRef{Header: strings.ToLower(h), Ref: ref(key + ".headers")})
				}
			}
		}
	}
	for i, r := range cfg.Routes {
		if len(r.Match.ContextExtensions) > 0 {
			gh.ContextExtensionRoutes = append(gh.ContextExtensionRoutes, ref(fmt.Sprintf("routes[%d].match.contextExtensions", i)))
		}
	}
	return gh
}
