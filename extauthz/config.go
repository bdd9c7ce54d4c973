package extauthz

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/extauthz/internal/decisionlog"
	"github.com/gatehouse/gatehouse/mapping"
	"github.com/gatehouse/gatehouse/policies"
)

// Config is gatehouse's configuration file. The zero value of every field is its
// documented default (see CONFIG.md beside this file).
type Config struct {
	Server         ServerConfig   `yaml:"server"`
	Policies       PoliciesConfig `yaml:"policies"`
	mapping.Config `yaml:",inline"`
	Response       ResponseConfig  `yaml:"response"`
	Telemetry      TelemetryConfig `yaml:"telemetry"`

	// dir is the directory of the configuration file; relative paths resolve against it.
	dir string
	// name and lines place later problems (e.g. from compiling routes) in the file.
	name  string
	lines map[string]int
}

// ServerConfig sets the listeners and their limits.
type ServerConfig struct {
	GRPC struct {
		// Address is "host:port" or "unix:/path/to.sock" (default 127.0.0.1:9191).
		Address string `yaml:"address"`
		// MaxReceiveMessageBytes bounds a CheckRequest, bodies included (default 4 MiB).
		MaxReceiveMessageBytes int `yaml:"maxReceiveMessageBytes"`
		// MaxConnectionAge closes connections after this long (plus a grace period) so
		// Envoy's long-lived connections spread over replicas (default 5m; 0 keeps it).
		MaxConnectionAge      *time.Duration `yaml:"maxConnectionAge"`
		MaxConnectionAgeGrace time.Duration  `yaml:"maxConnectionAgeGrace"`
		// KeepaliveMinTime is the shortest ping interval clients may use (default 5s).
		KeepaliveMinTime time.Duration `yaml:"keepaliveMinTime"`
	} `yaml:"grpc"`
	HTTP struct {
		// Address serves /healthz and /readyz (default 127.0.0.1:9192; "" with
		// disabled: true turns it off).
		Address  string `yaml:"address"`
		Disabled bool   `yaml:"disabled"`
	} `yaml:"http"`
	// CheckTimeout bounds one check, within the caller's own deadline (default 1s).
	CheckTimeout time.Duration `yaml:"checkTimeout"`
	// ShutdownTimeout bounds the drain of in-flight checks on SIGTERM (default 15s).
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
}

// TelemetryConfig sets what checks report besides their answer. Tracing is switched on
// by the standard OTEL_* environment variables; see CONFIG.md.
type TelemetryConfig struct {
	Metrics struct {
		// Disabled turns off /metrics and the meters behind it (default: served on the
		// HTTP listener).
		Disabled bool `yaml:"disabled"`
	} `yaml:"metrics"`
	Tracing struct {
		// PrincipalID puts the principal id on spans (default false: spans often leave the
		// organisation's control, and ids can be personal data).
		PrincipalID bool `yaml:"principalId"`
	} `yaml:"tracing"`
	DecisionLog DecisionLogConfig `yaml:"decisionLog"`
}

// DecisionLogConfig is the decision log: one JSON line per check.
type DecisionLogConfig struct {
	Enabled      bool     `yaml:"enabled"`
	Output       string   `yaml:"output"`
	MaxSizeBytes int64    `yaml:"maxSizeBytes"`
	MaxFiles     int      `yaml:"maxFiles"`
	SampleRate   *float64 `yaml:"sampleRate"`
	Redact       []string `yaml:"redact"`
	QueueSize    int      `yaml:"queueSize"`
	// FlushInterval is how long lines gather before one write (default 100ms).
	FlushInterval time.Duration `yaml:"flushInterval"`
}

// options are the decision log's options.
func (dc DecisionLogConfig) options() decisionlog.Options {
	return decisionlog.Options{
		Output: dc.Output, MaxSizeBytes: dc.MaxSizeBytes, MaxFiles: dc.MaxFiles,
		SampleRate: dc.SampleRate, Redact: dc.Redact, QueueSize: dc.QueueSize, FlushInterval: dc.FlushInterval,
	}
}

// PoliciesConfig is the policy repository and the engine settings.
type PoliciesConfig struct {
	Directory            string         `yaml:"directory"`
	StrictEvaluation     *bool          `yaml:"strictEvaluation"`
	LenientScopeSearch   bool           `yaml:"lenientScopeSearch"`
	SchemaEnforcement    string         `yaml:"schemaEnforcement"`
	Globals              map[string]any `yaml:"globals"`
	DefaultPolicyVersion string         `yaml:"defaultPolicyVersion"`
	DefaultScope         string         `yaml:"defaultScope"`
}

// ResponseConfig sets what allowed requests carry to the app and what denials say.
type ResponseConfig struct {
	// Headers name the identity headers set on allowed requests. Client-sent copies of
	// every one of them are always removed. Defaults: x-gatehouse-principal,
	// x-gatehouse-roles, x-gatehouse-decision-id, x-gatehouse-identity-source.
	Headers struct {
		Principal      string `yaml:"principal"`
		Roles          string `yaml:"roles"`
		DecisionID     string `yaml:"decisionId"`
		IdentitySource string `yaml:"identitySource"`
		// Attributes maps header names to principal attribute names.
		Attributes map[string]string `yaml:"attributes"`
	} `yaml:"headers"`
	// RemoveHeaders are further request headers removed on allow (e.g. "authorization"
	// once the token is verified).
	RemoveHeaders []string `yaml:"removeHeaders"`
	// WWWAuthenticate is sent with 401 responses (default `Bearer realm="gatehouse"`).
	WWWAuthenticate string `yaml:"wwwAuthenticate"`
}

// DefaultGRPCAddress and DefaultHTTPAddress are the listeners of the default configuration.
const (
	DefaultGRPCAddress = "127.0.0.1:9191"
	DefaultHTTPAddress = "127.0.0.1:9192"
)

// LoadConfig reads a configuration file strictly: unknown keys and wrong types are
// errors, and every problem is reported at once as "file:line: key: message".
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseConfig(path, data)
}

// ParseConfig is LoadConfig on data already read; name is used in messages and to
// resolve relative paths.
func ParseConfig(name string, data []byte) (*Config, error) {
	cfg := &Config{dir: filepath.Dir(name)}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlProblems(name, err)
	}
	cfg.name, cfg.lines = name, keyLines(&root)
	if errs := cfg.validate(); len(errs) > 0 {
		return nil, withLines(name, cfg.lines, errs)
	}
	return cfg, nil
}

var yamlLineRE = regexp.MustCompile(`^\s*line (\d+): (.*)$`)
var (
	unknownFieldRE = regexp.MustCompile(`^field (\S+) not found in type .*$`)
	wrongTypeRE    = regexp.MustCompile("^cannot unmarshal !!\\w+ `(.*)` into (.*)$")
)

// typeWords names the Go types of the configuration for its users.
func typeWords(goType string) string {
	switch {
	case goType == "time.Duration" || goType == "*time.Duration":
		return "a duration such as 500ms or 5m"
	case goType == "int" || goType == "*int":
		return "an integer"
	case goType == "bool" || goType == "*bool":
		return "true or false"
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "map["):
		return "a mapping"
	}
	return "a mapping"
}

// yamlProblems rewrites yaml.v3's decoding errors as "file:line: message".
func yamlProblems(name string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var out []string
	for _, e := range te.Errors {
		m := yamlLineRE.FindStringSubmatch(e)
		if m == nil {
			out = append(out, name+": "+e)
			continue
		}
		msg := m[2]
		if f := unknownFieldRE.FindStringSubmatch(msg); f != nil {
			msg = fmt.Sprintf("unknown key %q", f[1])
		} else if f := wrongTypeRE.FindStringSubmatch(msg); f != nil {
			msg = fmt.Sprintf("invalid value %q: want %s", f[1], typeWords(f[2]))
		}
		out = append(out, fmt.Sprintf("%s:%s: %s", name, m[1], msg))
	}
	return errors.New(strings.Join(out, "\n"))
}

// keyLines maps key paths ("routes[2].match.template") to their line in the file.
func keyLines(root *yaml.Node) map[string]int {
	lines := map[string]int{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				lines[p] = k.Line
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				lines[p] = c.Line
				walk(c, p)
			}
		}
	}
	walk(root, "")
	return lines
}

// withLines prefixes each "key.path: message" error with the line of the longest known
// prefix of its key path.
func withLines(name string, lines map[string]int, errs []error) error {
	out := make([]string, 0, len(errs))
	for _, err := range errs {
		for _, msg := range strings.Split(err.Error(), "\n") {
			key, _, _ := strings.Cut(msg, ": ")
			line := 0
			for k := key; k != ""; k = parentKey(k) {
				if l, ok := lines[k]; ok {
					line = l
					break
				}
			}
			if line > 0 {
				out = append(out, fmt.Sprintf("%s:%d: %s", name, line, msg))
			} else {
				out = append(out, fmt.Sprintf("%s: %s", name, msg))
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return lineOf(out[i]) < lineOf(out[j]) })
	return errors.New(strings.Join(out, "\n"))
}

func parentKey(k string) string {
	if i := strings.LastIndexAny(k, ".["); i > 0 {
		return k[:i]
	}
	return ""
}

func lineOf(msg string) int {
	parts := strings.SplitN(msg, ":", 3)
	if len(parts) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
}

// validate fills in defaults and checks what the types cannot say.
func (c *Config) validate() []error {
	var errs []error
	s := &c.Server
	if s.GRPC.Address == "" {
		s.GRPC.Address = DefaultGRPCAddress
	}
	if s.GRPC.MaxReceiveMessageBytes == 0 {
		s.GRPC.MaxReceiveMessageBytes = 4 << 20
	} else if s.GRPC.MaxReceiveMessageBytes < 4<<10 {
		errs = append(errs, errors.New("server.grpc.maxReceiveMessageBytes: must be at least 4096"))
	}
	if s.GRPC.MaxConnectionAge == nil {
		d := 5 * time.Minute
		s.GRPC.MaxConnectionAge = &d
	}
	if s.GRPC.MaxConnectionAgeGrace == 0 {
		s.GRPC.MaxConnectionAgeGrace = 30 * time.Second
	}
	if s.GRPC.KeepaliveMinTime == 0 {
		s.GRPC.KeepaliveMinTime = 5 * time.Second
	}
	if s.HTTP.Address == "" && !s.HTTP.Disabled {
		s.HTTP.Address = DefaultHTTPAddress
	}
	if s.CheckTimeout == 0 {
		s.CheckTimeout = time.Second
	}
	if s.ShutdownTimeout == 0 {
		s.ShutdownTimeout = 15 * time.Second
	}
	for key, d := range map[string]time.Duration{"server.checkTimeout": s.CheckTimeout, "server.shutdownTimeout": s.ShutdownTimeout} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s: must not be negative", key))
		}
	}
	if c.Policies.Directory == "" {
		errs = append(errs, errors.New("policies.directory: value is required"))
	}
	if _, err := policies.ParseSchemaEnforcement(c.Policies.SchemaEnforcement); err != nil {
		errs = append(errs, fmt.Errorf("policies.schemaEnforcement: %v", err))
	}
	h := &c.Response.Headers
	for _, d := range []struct {
		field *string
		def   string
	}{
		{&h.Principal, "x-gatehouse-principal"},
		{&h.Roles, "x-gatehouse-roles"},
		{&h.DecisionID, "x-gatehouse-decision-id"},
		{&h.IdentitySource, "x-gatehouse-identity-source"},
	} {
		if *d.field == "" {
			*d.field = d.def
		}
		*d.field = strings.ToLower(*d.field)
	}
	for name := range h.Attributes {
		if !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("response.headers.attributes.%s: not a valid header name", name))
		}
	}
	for i, name := range append([]string{h.Principal, h.Roles, h.DecisionID, h.IdentitySource}, c.Response.RemoveHeaders...) {
		if !validHeaderName(name) {
			errs = append(errs, fmt.Errorf("response: %q (entry %d) is not a valid header name", name, i))
		}
	}
	if dc := c.Telemetry.DecisionLog; dc.Enabled {
		for _, err := range dc.options().Problems() {
			errs = append(errs, fmt.Errorf("telemetry.%w", err))
		}
	}
	if c.Response.WWWAuthenticate == "" {
		c.Response.WWWAuthenticate = `Bearer realm="gatehouse"`
	}
	c.resolvePaths()
	return errs
}

func validHeaderName(s string) bool {
	if s == "" || strings.HasPrefix(s, ":") || strings.EqualFold(s, "host") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// resolvePaths makes file paths relative to the configuration file.
func (c *Config) resolvePaths() {
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(c.dir, *p)
		}
	}
	rel(&c.Policies.Directory)
	if o := c.Telemetry.DecisionLog.Output; o != "" && o != "stdout" && o != "stderr" {
		rel(&c.Telemetry.DecisionLog.Output)
	}
	for i := range c.Identity.Sources {
		if j := c.Identity.Sources[i].JWT; j != nil {
			rel(&j.JWKS.File)
		}
	}
}

// annotate places "key.path: message" errors (one per line) in the configuration file.
func (c *Config) annotate(err error) error {
	if err == nil || c.name == "" {
		return err
	}
	return withLines(c.name, c.lines, []error{err})
}

// engineConfig is the policy engine configuration.
func (c *Config) engineConfig() policies.Config {
	enf, _ := policies.ParseSchemaEnforcement(c.Policies.SchemaEnforcement)
	return policies.Config{
		DefaultPolicyVersion: c.Policies.DefaultPolicyVersion,
		DefaultScope:         c.Policies.DefaultScope,
		LenientScopeSearch:   c.Policies.LenientScopeSearch,
		LenientEvaluation:    c.Policies.StrictEvaluation != nil && !*c.Policies.StrictEvaluation,
		SchemaEnforcement:    enf,
		Globals:              c.Policies.Globals,
	}
}
