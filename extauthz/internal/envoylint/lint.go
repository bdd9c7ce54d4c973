package envoylint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Severity ranks findings. Errors are settings that fail open, leave traffic unchecked or
// make every check fail; warnings are risky defaults and mismatches; notes say what could
// not be checked.
type Severity int

// Severities, lowest first.
const (
	Note Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "note"
}

// Finding is one risky or unchecked setting.
type Finding struct {
	Severity Severity
	// Line is the 1-based line of the setting, or of the nearest enclosing setting when
	// it is missing; 0 when unknown.
	Line int
	// Path is the setting's location in the file, with names in parentheses:
	// static_resources.listeners[0](ingress).filter_chains[0].filters[0](...).typed_config.failure_mode_allow.
	Path    string
	Message string
}

// Ref points into gatehouse's own configuration, for messages:
// "gatehouse.yaml:67 routes[2].resource.attr.classification".
type Ref string

// Gatehouse is what the checks need to know of gatehouse's configuration. A nil
// *Gatehouse skips the checks that compare the two.
type Gatehouse struct {
	// BodyReaders are the expressions that read request.body.
	BodyReaders []Ref
	// JWTAuthn are the jwtAuthn identity sources with the metadata namespace each reads.
	JWTAuthn []NamespaceRef
	// Headers are request headers that identity sources read (the JWT header, trusted
	// identity headers).
	Headers []HeaderRef
	// ContextExtensionRoutes are routes that match on Envoy's context_extensions.
	ContextExtensionRoutes []Ref
	// NonHTTPAllow is requests.nonHTTP: allow.
	NonHTTPAllow bool
	// MaxBodyBytes is requests.maxBodyBytes: larger bodies are not parsed.
	MaxBodyBytes int
	// MaxReceiveMessageBytes is server.grpc.maxReceiveMessageBytes: larger
	// CheckRequests fail.
	MaxReceiveMessageBytes int
}

// NamespaceRef is a dynamic metadata namespace a source reads.
type NamespaceRef struct {
	Namespace string
	Ref       Ref
}

// HeaderRef is a request header a source reads (lower case).
type HeaderRef struct {
	Header string
	Ref    Ref
}

// Lint reads an Envoy bootstrap or an Istio mesh configuration (YAML or JSON; several
// YAML documents are read one by one) and returns its findings sorted by line. name is
// used in error messages. The error lists every problem that stops the file from being
// read, each as "name:line: message". Kubernetes objects of other kinds are skipped; a
// file with nothing else gets a note.
func Lint(name string, data []byte, gh *Gatehouse) ([]Finding, error) {
	if _, err := loadTypes(); err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var findings []Finding
	var skipped []string
	recognised := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
		}
		root := resolve(&doc)
		if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
			root = resolve(root.Content[0])
		}
		if isNull(root) {
			continue
		}
		if root.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s:%d: want a mapping at the top (an Envoy bootstrap or an Istio mesh configuration)", name, root.Line)
		}
		fs, ok, err := lintDocument(name, root, gh)
		if err != nil {
			return nil, err
		}
		if !ok {
			if k := scalarValue(lookup(root, "kind")); !slices.Contains(skipped, k) {
				skipped = append(skipped, k)
			}
			continue
		}
		recognised++
		findings = append(findings, fs...)
	}
	switch {
	case recognised > 0:
	case len(skipped) > 0:
		findings = append(findings, Finding{Severity: Note, Message: fmt.Sprintf(
			"no Envoy bootstrap or Istio mesh configuration here (Kubernetes %s): nothing checked", strings.Join(skipped, ", "))})
	default:
		return nil, fmt.Errorf("%s: empty: no Envoy bootstrap or Istio mesh configuration", name)
	}
	return sortFindings(findings), nil
}

// lintDocument recognises one YAML document by its shape; ok is false for Kubernetes
// objects that carry neither kind of configuration.
func lintDocument(name string, root *yaml.Node, gh *Gatehouse) (fs []Finding, ok bool, err error) {
	kind := scalarValue(lookup(root, "kind"))
	switch {
	case kind == "IstioOperator":
		mesh := lookup(lookup(root, "spec"), "meshConfig")
		if mesh == nil {
			return nil, false, nil
		}
		fs, err := lintMesh(name, mesh, path{}.field("spec").field("meshConfig"), gh)
		return fs, true, err
	case kind == "ConfigMap":
		return lintConfigMap(name, root, gh)
	case kind != "":
		return nil, false, nil
	case lookup(root, "extensionProviders") != nil:
		fs, err := lintMesh(name, root, path{}, gh)
		return fs, true, err
	case lookup(root, "meshConfig") != nil:
		fs, err := lintMesh(name, lookup(root, "meshConfig"), path{}.field("meshConfig"), gh)
		return fs, true, err
	case !looksLikeBootstrap(root):
		return nil, false, fmt.Errorf("%s:%d: neither an Envoy bootstrap (no static_resources, dynamic_resources, admin, node...) nor an Istio mesh configuration (no extensionProviders or meshConfig)", name, root.Line)
	}
	fs, err = lintBootstrap(name, root, path{}, gh)
	return fs, true, err
}

// lintConfigMap reads Istio's mesh configuration (data.mesh) or Envoy bootstraps kept in a
// ConfigMap (data keys ending in .yaml, .yml or .json).
func lintConfigMap(name string, root *yaml.Node, gh *Gatehouse) ([]Finding, bool, error) {
	data := lookup(root, "data")
	if data == nil || data.Kind != yaml.MappingNode {
		return nil, false, nil
	}
	var out []Finding
	found := false
	for _, kv := range pairs(data) {
		key, val := kv[0].Value, kv[1]
		isMesh := key == "mesh"
		isFile := strings.HasSuffix(key, ".yaml") || strings.HasSuffix(key, ".yml") || strings.HasSuffix(key, ".json")
		if !isMesh && !isFile || val.Kind != yaml.ScalarNode {
			continue
		}
		inner, err := embedded(name, val)
		if err != nil {
			return nil, false, err
		}
		if inner == nil {
			continue
		}
		p := path{}.field("data").mapKey(key)
		var fs []Finding
		switch {
		case isMesh:
			fs, err = lintMesh(name, inner, p, gh)
		case looksLikeBootstrap(inner):
			fs, err = lintBootstrap(name, inner, p, gh)
		default:
			continue
		}
		if err != nil {
			return nil, false, err
		}
		found = true
		out = append(out, fs...)
	}
	return out, found, nil
}

func sortFindings(fs []Finding) []Finding {
	seen := map[Finding]bool{}
	out := fs[:0]
	for _, f := range fs {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Line != out[j].Line {
			return out[i].Line < out[j].Line
		}
		return out[i].Path < out[j].Path
	})
	return out
}

// reporter collects the findings of one document.
type reporter struct {
	lines    map[string]int
	findings []Finding
}

func (r *reporter) add(sev Severity, p path, format string, args ...any) {
	r.findings = append(r.findings, Finding{Severity: sev, Line: r.line(p), Path: p.text, Message: fmt.Sprintf(format, args...)})
}

// line is the line of p's key, or of its nearest recorded ancestor.
func (r *reporter) line(p path) int {
	for k := p.key; k != ""; k = parentKey(k) {
		if l, ok := r.lines[k]; ok {
			return l
		}
	}
	return r.lines[""]
}

// refs lists up to three references for a message.
func refs(rs []Ref) string {
	var b strings.Builder
	for i, r := range rs {
		if i == 3 {
			fmt.Fprintf(&b, " and %d more", len(rs)-3)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(string(r))
	}
	return b.String()
}
