package envoylint

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"go.yaml.in/yaml/v3"
)

// istioDefaultTimeout is the timeout of Istio's ext_authz providers when none is set.
const istioDefaultTimeout = 600 * time.Second

// Fields of Istio's ext_authz providers (istio.mesh.v1alpha1.MeshConfig.ExtensionProvider).
// Istio reads both the JSON names listed here and the proto names (fail_open).
var (
	grpcProviderFields = []string{"service", "port", "timeout", "failOpen", "statusOnError", "clearRouteCache", "includeRequestBodyInCheck"}
	bodyFields         = []string{"maxRequestBytes", "allowPartialMessage", "packAsBytes"}
)

// istioLinter checks the ext_authz providers of one mesh configuration.
type istioLinter struct {
	reporter
	gh   *Gatehouse
	errs []lineError
}

// lintMesh checks the extensionProviders of a MeshConfig found at root.
func lintMesh(name string, mesh *yaml.Node, root path, gh *Gatehouse) ([]Finding, error) {
	l := &istioLinter{reporter: reporter{lines: map[string]int{root.key: mesh.Line}}, gh: gh}
	if mesh.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s:%d: %s: want a mapping (Istio's mesh configuration)", name, mesh.Line, root.text)
	}
	pp := root.field("extensionProviders")
	if k := lookupKey(mesh, "extensionProviders"); k != nil {
		l.lines[pp.key] = k.Line
	}
	providers := lookup(mesh, "extensionProviders")
	found := 0
	if providers != nil && !isNull(providers) {
		var list []*yaml.Node
		if providers.Kind == yaml.SequenceNode {
			list = providers.Content
		} else {
			l.fail(providers, pp, "want a list of providers")
		}
		for i, prov := range list {
			prov = resolve(prov)
			p := pp.index(i)
			l.lines[p.key] = prov.Line
			if prov.Kind != yaml.MappingNode {
				l.fail(prov, p, "want a mapping (a provider)")
				continue
			}
			p = p.named(scalarValue(lookup(prov, "name")))
			if g := lookup(prov, "envoyExtAuthzGrpc"); g != nil {
				found++
				l.grpcProvider(g, p.field("envoyExtAuthzGrpc"), lookupKey(prov, "envoyExtAuthzGrpc"))
			}
			if h := lookup(prov, "envoyExtAuthzHttp"); h != nil {
				found++
				hp := p.field("envoyExtAuthzHttp")
				l.lines[hp.key] = lookupKey(prov, "envoyExtAuthzHttp").Line
				l.add(Error, hp, "gatehouse serves ext_authz over gRPC only (it has no HTTP authorization mode yet): use envoyExtAuthzGrpc")
				if fo := lookup(h, "failOpen"); fo != nil && fo.Value == "true" {
					fp := hp.field("failOpen")
					l.lines[fp.key] = fo.Line
					l.add(Error, fp, "failOpen: true fails open: when the service is unreachable, times out or fails, Istio lets the request through unchecked; remove it")
				}
			}
		}
	}
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].line < l.errs[j].line })
		msgs := make([]string, 0, len(l.errs))
		for _, e := range l.errs {
			msgs = append(msgs, fmt.Sprintf("%s:%d: %s", name, e.line, e.msg))
		}
		return nil, errors.New(strings.Join(msgs, "\n"))
	}
	if found == 0 {
		l.add(Warning, pp, "no envoyExtAuthzGrpc provider in extensionProviders: an AuthorizationPolicy with action CUSTOM has no way to call gatehouse")
	}
	return l.findings, nil
}

func (l *istioLinter) fail(n *yaml.Node, p path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.text != "" {
		msg = p.text + ": " + msg
	}
	l.errs = append(l.errs, lineError{n.Line, msg})
}

// fields reads a mapping strictly: every key must be one of known (or its snake_case
// proto name). It returns the values by JSON name and records their lines.
func (l *istioLinter) fields(n *yaml.Node, p path, known []string) map[string]*yaml.Node {
	out := map[string]*yaml.Node{}
	if isNull(n) {
		return out
	}
	if n.Kind != yaml.MappingNode {
		l.fail(n, p, "want a mapping, got %s", describe(n))
		return out
	}
	for _, kv := range pairs(n) {
		k := kv[0].Value
		name := ""
		for _, f := range known {
			if k == f || k == snake(f) {
				name = f
			}
		}
		if name == "" {
			l.fail(kv[0], p, "unknown field %q (known: %s)", k, strings.Join(known, ", "))
			continue
		}
		if _, dup := out[name]; dup {
			l.fail(kv[0], p.field(name), "set twice")
			continue
		}
		l.lines[p.field(name).key] = kv[0].Line
		out[name] = resolve(kv[1])
	}
	return out
}

func snake(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// grpcProvider checks an envoyExtAuthzGrpc provider.
func (l *istioLinter) grpcProvider(n *yaml.Node, p path, key *yaml.Node) {
	l.lines[p.key] = key.Line
	f := l.fields(n, p, grpcProviderFields)
	if s := f["service"]; s == nil || l.str(s, p.field("service")) == "" {
		l.add(Error, p.field("service"), "service is required: Istio rejects the provider")
	}
	if port := f["port"]; port == nil {
		l.add(Error, p.field("port"), "port is required: Istio rejects the provider")
	} else if v, ok := l.uint(port, p.field("port")); ok && (v < 1 || v > 65535) {
		l.add(Error, p.field("port"), "port %d is not in 1-65535: Istio rejects the provider", v)
	}
	if fo := f["failOpen"]; fo != nil && l.bool(fo, p.field("failOpen")) {
		l.add(Error, p.field("failOpen"), "failOpen: true fails open: when gatehouse is unreachable, times out or fails, Istio lets the request through unchecked; remove it")
	}
	if c := f["clearRouteCache"]; c != nil {
		l.bool(c, p.field("clearRouteCache"))
	}
	l.statusOnError(f["statusOnError"], p.field("statusOnError"))
	l.timeout(f["timeout"], p.field("timeout"))
	l.body(f["includeRequestBodyInCheck"], p.field("includeRequestBodyInCheck"))
	if l.gh == nil {
		return
	}
	for _, src := range l.gh.JWTAuthn {
		l.add(Warning, p, "gatehouse's jwtAuthn identity source (%s) gets no claims under Istio: the CUSTOM provider runs before Istio's JWT filter and Istio forwards no metadata; verify tokens with a jwt source", src.Ref)
	}
	if rs := l.gh.ContextExtensionRoutes; len(rs) > 0 {
		l.add(Warning, p, "Istio's CUSTOM provider sends no context_extensions: gatehouse routes that match on contextExtensions (%s) never match", refs(rs))
	}
}

func (l *istioLinter) statusOnError(n *yaml.Node, p path) {
	if n == nil {
		l.add(Warning, p, "statusOnError is not set: when a check fails (gatehouse down, timeout) Istio answers 403, so an outage looks like a denial; set statusOnError: \"503\"")
		return
	}
	s := l.str(n, p)
	code, err := strconv.Atoi(s)
	if _, known := typev3.StatusCode_name[int32(code)]; err != nil || !known || code == 0 {
		l.add(Error, p, "statusOnError %q is not an HTTP status Envoy knows: Istio rejects the provider; use \"503\"", s)
		return
	}
	if code < 500 {
		l.add(Warning, p, "statusOnError %q hides outages: a failed check looks like a %s; use \"503\"", s, statusWords(code))
	}
}

func (l *istioLinter) timeout(n *yaml.Node, p path) {
	if n == nil {
		l.add(Warning, p, "timeout is not set: Istio's default for ext_authz providers is %.0fs, so when gatehouse hangs every request waits ten minutes; set timeout: 1s", istioDefaultTimeout.Seconds())
		return
	}
	s := l.str(n, p)
	if s == "" {
		return
	}
	if !durationRE.MatchString(s) {
		l.fail(n, p, "invalid duration %q: Istio wants seconds with an s suffix, such as 0.5s or 1s", s)
		return
	}
	d, _ := time.ParseDuration(s)
	switch {
	case d <= 0:
		l.add(Error, p, "timeout %v means no deadline: when gatehouse hangs, every request hangs with it; set a timeout such as 1s", d)
	case d > maxTimeout:
		l.add(Warning, p, "timeout %v is long: when gatehouse hangs, every request waits that long before failing; gatehouse answers in milliseconds, 1s is plenty", d)
	}
}

func (l *istioLinter) body(n *yaml.Node, p path) {
	var max uint64
	partial, set := false, n != nil && !isNull(n)
	if set {
		f := l.fields(n, p, bodyFields)
		if m := f["maxRequestBytes"]; m != nil {
			max, _ = l.uint(m, p.field("maxRequestBytes"))
		}
		if a := f["allowPartialMessage"]; a != nil {
			partial = l.bool(a, p.field("allowPartialMessage"))
		}
		if b := f["packAsBytes"]; b != nil {
			l.bool(b, p.field("packAsBytes"))
		}
	}
	if l.gh == nil {
		return
	}
	readers := l.gh.BodyReaders
	switch {
	case !set && len(readers) > 0:
		l.add(Warning, p, "includeRequestBodyInCheck is not set, but gatehouse expressions read request.body (%s): they will see null; set includeRequestBodyInCheck {maxRequestBytes, allowPartialMessage: false, packAsBytes: true}", refs(readers))
	case !set:
		return
	case len(readers) == 0:
		l.add(Note, p, "includeRequestBodyInCheck is set but no gatehouse expression reads request.body: Envoy buffers every body (and refuses larger ones with 413) for nothing")
	default:
		if partial {
			l.add(Warning, p.field("allowPartialMessage"), "allowPartialMessage: true sends bodies above maxRequestBytes truncated, and gatehouse does not parse partial JSON: expressions that read request.body (%s) see null for them", refs(readers))
		}
		if l.gh.MaxBodyBytes > 0 && max > uint64(l.gh.MaxBodyBytes) {
			l.add(Warning, p.field("maxRequestBytes"), "Envoy forwards bodies up to %d bytes but gatehouse parses at most %d (requests.maxBodyBytes): expressions that read request.body see null for bodies in between", max, l.gh.MaxBodyBytes)
		}
	}
	if l.gh.MaxReceiveMessageBytes > 0 && max+headerAllowance > uint64(l.gh.MaxReceiveMessageBytes) {
		l.add(Warning, p.field("maxRequestBytes"), "bodies up to %d bytes plus headers can exceed gatehouse's %d-byte message limit (server.grpc.maxReceiveMessageBytes): such checks fail; raise the limit or lower maxRequestBytes", max, l.gh.MaxReceiveMessageBytes)
	}
}

func (l *istioLinter) str(n *yaml.Node, p path) string {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		l.fail(n, p, "invalid value %s: want a string (quote it)", describe(n))
		return ""
	}
	return n.Value
}

func (l *istioLinter) bool(n *yaml.Node, p path) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		l.fail(n, p, "invalid value %s: want true or false", describe(n))
		return false
	}
	b, _ := strconv.ParseBool(strings.ToLower(n.Value))
	return b
}

// uint reads a number, which Istio also accepts quoted ("9191").
func (l *istioLinter) uint(n *yaml.Node, p path) (uint64, bool) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!str") {
		var v uint64
		if n.Tag == "!!int" && n.Decode(&v) == nil {
			return v, true
		}
		if v, err := strconv.ParseUint(n.Value, 10, 32); err == nil {
			return v, true
		}
	}
	l.fail(n, p, "invalid value %s: want a number", describe(n))
	return 0, false
}
