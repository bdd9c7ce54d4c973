package envoy_test

// Tests of envoy/istio, the deployment of gatehouse as Istio's CUSTOM authorization
// provider for the demo app. There is no Istio or Kubernetes here: the resources are
// decoded into Istio's and Kubernetes' own API types (strictly), the kustomization is
// built, and the pieces are checked against each other and against gatehouse's
// configuration, which is loaded from a directory laid out like the pod's volume.
// Every check is also shown to fail on a broken copy (TestIstioChecksCatchMistakes).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	meshv1alpha1 "istio.io/api/mesh/v1alpha1"
	securityv1beta1 "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse/gatehouse/envoy/internal/demotest"
	"github.com/gatehouse/gatehouse/extauthz"
	"github.com/gatehouse/gatehouse/mapping"
)

// The names that tie the pieces together.
const (
	istioProvider      = "gatehouse-ext-authz" // meshConfig.extensionProviders[].name
	istioAppNamespace  = "documents"
	istioAppLabel      = "documents" // the app's pods are labelled app: documents
	istioTrustDomain   = "cluster.local"
	istioGatehouseUser = 65532 // the image's nonroot user
)

// istioAppProbes are the app's own health paths: never sent to gatehouse.
var istioAppProbes = []string{"/healthz", "/readyz"}

// istioGatewayIDs are SPIFFE IDs that Istio's ingress gateways have in common
// installations (istioctl's default profile, the gateway Helm chart). A request from
// outside the mesh arrives at the app with one of them as its peer.
var istioGatewayIDs = []string{
	"spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
	"spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway",
	"spiffe://cluster.local/ns/istio-ingress/sa/istio-ingressgateway",
}

// istioCheck is one property of the deployment; it returns every problem it finds.
type istioCheck struct {
	name  string
	check func(d *istioDeployment) []error
}

var istioChecks = []istioCheck{
	{"mesh-provider", checkMeshProvider},
	{"provider-address", checkProviderAddress},
	{"provider-fails-closed", checkProviderFailsClosed},
	{"provider-timeout", checkProviderTimeout},
	{"provider-request-body", checkProviderRequestBody},
	{"custom-policy", checkCustomPolicy},
	{"custom-policy-paths", checkCustomPolicyPaths},
	{"peer-authentication", checkPeerAuthentication},
	{"request-authentication", checkRequestAuthentication},
	{"gatehouse-callers", checkGatehouseCallers},
	{"config-under-istio", checkConfigUnderIstio},
	{"config-routes-as-demo", checkConfigRoutesAsDemo},
	{"spiffe-not-gateway", checkSPIFFENotGateway},
	{"volume-contents", checkVolumeContents},
	{"workload-labels", checkWorkloadLabels},
	{"workload-probes", checkWorkloadProbes},
	{"workload-security", checkWorkloadSecurity},
	{"workload-shutdown", checkWorkloadShutdown},
	{"workload-resources", checkWorkloadResources},
	{"namespaces", checkNamespaces},
}

func TestIstioDeployment(t *testing.T) {
	d := loadIstio(t)
	for _, c := range istioChecks {
		t.Run(c.name, func(t *testing.T) {
			for _, err := range c.check(d) {
				t.Error(err)
			}
		})
	}
}

// --- mesh configuration ---------------------------------------------------------------

// providerGRPC is an envoyExtAuthzGrpc extension provider.
type providerGRPC = meshv1alpha1.MeshConfig_ExtensionProvider_EnvoyExternalAuthorizationGrpcProvider

func (d *istioDeployment) provider() (*providerGRPC, error) {
	for _, p := range d.mesh.GetExtensionProviders() {
		if p.GetName() == istioProvider {
			if g := p.GetEnvoyExtAuthzGrpc(); g != nil {
				return g, nil
			}
			return nil, fmt.Errorf("extension provider %s is not envoyExtAuthzGrpc", istioProvider)
		}
	}
	return nil, fmt.Errorf("mesh-config.yaml has no extension provider %s", istioProvider)
}

func checkMeshProvider(d *istioDeployment) []error {
	var errs []error
	if _, err := d.provider(); err != nil {
		errs = append(errs, err)
	}
	names := map[string]bool{}
	for _, p := range d.mesh.GetExtensionProviders() {
		if names[p.GetName()] {
			errs = append(errs, fmt.Errorf("extension provider %s is declared twice", p.GetName()))
		}
		names[p.GetName()] = true
	}
	// gatehouse's SPIFFE source trusts cluster.local; the mesh must issue IDs in it.
	if td := d.mesh.GetTrustDomain(); td != "" && td != istioTrustDomain {
		errs = append(errs, fmt.Errorf("meshConfig.trustDomain %q, gatehouse trusts %q", td, istioTrustDomain))
	}
	return errs
}

func checkProviderAddress(d *istioDeployment) []error {
	p, err := d.provider()
	if err != nil {
		return []error{err}
	}
	var errs []error
	svc := d.service
	if want := svc.Name + "." + svc.Namespace + ".svc." + istioTrustDomain; p.GetService() != want {
		errs = append(errs, fmt.Errorf("provider service %q, the gatehouse Service is %s", p.GetService(), want))
	}
	var port *corev1.ServicePort
	for i, sp := range svc.Spec.Ports {
		if int64(sp.Port) == int64(p.GetPort()) {
			port = &svc.Spec.Ports[i]
		}
	}
	if port == nil {
		return append(errs, fmt.Errorf("provider port %d is not a port of Service %s", p.GetPort(), svc.Name))
	}
	if port.Name != "grpc" || port.AppProtocol == nil || *port.AppProtocol != "grpc" {
		errs = append(errs, fmt.Errorf("Service port %d: name %q appProtocol %s; Istio must see gRPC (name grpc, appProtocol grpc)", port.Port, port.Name, deref(port.AppProtocol)))
	}
	c, err := istioContainer(d.deployment)
	if err != nil {
		return append(errs, err)
	}
	target, err := containerPort(c, port.TargetPort)
	if err != nil {
		return append(errs, fmt.Errorf("Service port %d: %v", port.Port, err))
	}
	if got := listenPort(istioFlag(c.Args, "--grpc-address")); got != target {
		errs = append(errs, fmt.Errorf("the Service sends port %d to container port %d, gatehouse listens for gRPC on %d (--grpc-address)", port.Port, target, got))
	}
	return errs
}

func checkProviderFailsClosed(d *istioDeployment) []error {
	p, err := d.provider()
	if err != nil {
		return []error{err}
	}
	var errs []error
	if p.GetFailOpen() {
		errs = append(errs, errors.New("failOpen: true lets every request through when gatehouse is unreachable"))
	}
	// A denial is 403; an outage must look different (and not like success).
	if s, err := strconv.Atoi(p.GetStatusOnError()); err != nil || s < 500 || s > 599 {
		errs = append(errs, fmt.Errorf("statusOnError %q: want a 5xx status, distinct from gatehouse's 401/403 denials", p.GetStatusOnError()))
	}
	if p.GetClearRouteCache() {
		errs = append(errs, errors.New("clearRouteCache: gatehouse's header changes must not re-route requests"))
	}
	return errs
}

func checkProviderTimeout(d *istioDeployment) []error {
	p, err := d.provider()
	if err != nil {
		return []error{err}
	}
	if p.GetTimeout() == nil {
		return []error{errors.New("provider timeout unset: Istio's default is 600s")}
	}
	timeout := p.GetTimeout().AsDuration()
	var errs []error
	if check := d.config.Server.CheckTimeout; timeout <= check {
		errs = append(errs, fmt.Errorf("provider timeout %v is not above gatehouse's checkTimeout %v: the sidecar would give up first", timeout, check))
	}
	if timeout > 5*time.Second {
		errs = append(errs, fmt.Errorf("provider timeout %v: every request waits that long when gatehouse hangs", timeout))
	}
	return errs
}

func checkProviderRequestBody(d *istioDeployment) []error {
	p, err := d.provider()
	if err != nil {
		return []error{err}
	}
	body := p.GetIncludeRequestBodyInCheck()
	var readers []string
	for _, r := range d.config.Routes {
		if slices.ContainsFunc(routeExprs(r), func(e string) bool { return strings.Contains(e, "request.body") }) {
			readers = append(readers, r.Name)
		}
	}
	if len(readers) == 0 {
		return nil
	}
	if body == nil {
		return []error{fmt.Errorf("routes %v read request.body, but the provider sends no body (includeRequestBodyInCheck)", readers)}
	}
	var errs []error
	if body.GetMaxRequestBytes() == 0 {
		errs = append(errs, errors.New("includeRequestBodyInCheck.maxRequestBytes unset"))
	}
	if body.GetAllowPartialMessage() {
		errs = append(errs, errors.New("allowPartialMessage: a truncated JSON body is no body to gatehouse; refuse large bodies instead"))
	}
	if !body.GetPackAsBytes() {
		errs = append(errs, errors.New("packAsBytes false: the body would be sent as a UTF-8 string"))
	}
	if n, limit := int(body.GetMaxRequestBytes()), maxBodyBytes(d.config); n > limit || n >= d.config.Server.GRPC.MaxReceiveMessageBytes {
		errs = append(errs, fmt.Errorf("maxRequestBytes %d exceeds what gatehouse reads (requests.maxBodyBytes %d, grpc.maxReceiveMessageBytes %d)", n, limit, d.config.Server.GRPC.MaxReceiveMessageBytes))
	}
	return errs
}

// maxBodyBytes is requests.maxBodyBytes with its documented default (1 MiB).
func maxBodyBytes(cfg *extauthz.Config) int {
	if cfg.Requests.MaxBodyBytes > 0 {
		return cfg.Requests.MaxBodyBytes
	}
	return 1 << 20
}

// routeExprs are the CEL expressions of a route.
func routeExprs(r mapping.Route) []string {
	out := []string{r.Match.When, r.Resource.KindExpr, r.Resource.ID, r.Resource.PolicyVersion, r.Resource.Scope, r.ActionExpr}
	for _, e := range r.Resource.Attr {
		out = append(out, e)
	}
	return out
}

// --- Istio security resources ---------------------------------------------------------

// customPolicy is the one CUSTOM AuthorizationPolicy.
func (d *istioDeployment) customPolicy() (istioAuthzPolicy, error) {
	var found []istioAuthzPolicy
	for _, p := range d.authzPolicies {
		if p.spec.GetAction() == securityv1beta1.AuthorizationPolicy_CUSTOM {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		return istioAuthzPolicy{}, fmt.Errorf("%d CUSTOM AuthorizationPolicies, want 1", len(found))
	}
	return found[0], nil
}

func checkCustomPolicy(d *istioDeployment) []error {
	p, err := d.customPolicy()
	if err != nil {
		return []error{err}
	}
	var errs []error
	if p.APIVersion != "security.istio.io/v1" {
		errs = append(errs, fmt.Errorf("%s: apiVersion %s, want security.istio.io/v1", p, p.APIVersion))
	}
	if got := p.spec.GetProvider().GetName(); got != istioProvider {
		errs = append(errs, fmt.Errorf("%s: provider %q, the mesh's extension provider is %q", p, got, istioProvider))
	}
	if p.Metadata.Namespace != istioAppNamespace {
		errs = append(errs, fmt.Errorf("%s: namespace %q, the app runs in %q", p, p.Metadata.Namespace, istioAppNamespace))
	}
	if sel := p.spec.GetSelector().GetMatchLabels(); !reflect.DeepEqual(sel, map[string]string{"app": istioAppLabel}) {
		errs = append(errs, fmt.Errorf("%s: selector %v, want app: %s", p, sel, istioAppLabel))
	}
	if p.spec.GetTargetRef() != nil || len(p.spec.GetTargetRefs()) > 0 {
		errs = append(errs, fmt.Errorf("%s: targetRefs select waypoints or gateways; this policy is for the app's sidecars", p))
	}
	return errs
}

func checkCustomPolicyPaths(d *istioDeployment) []error {
	p, err := d.customPolicy()
	if err != nil {
		return []error{err}
	}
	var errs []error
	// Only path conditions: anything else (methods, hosts, ports, sources, when) would
	// leave some requests to a route unchecked, which the samples below cannot see.
	for i, r := range p.spec.GetRules() {
		if len(r.GetFrom()) > 0 || len(r.GetWhen()) > 0 {
			errs = append(errs, fmt.Errorf("%s: rules[%d] has from/when conditions", p, i))
		}
		for j, to := range r.GetTo() {
			op := to.GetOperation()
			rest := proto.Clone(op).(*securityv1beta1.Operation)
			rest.Paths, rest.NotPaths = nil, nil
			if !proto.Equal(rest, &securityv1beta1.Operation{}) {
				errs = append(errs, fmt.Errorf("%s: rules[%d].to[%d] has conditions besides paths/notPaths: %v", p, i, j, rest))
			}
			for _, pat := range slices.Concat(op.GetPaths(), op.GetNotPaths()) {
				if strings.ContainsAny(pat, "{}") || strings.Count(pat, "*") > 1 || (strings.Contains(pat, "*") && pat != "*" && !strings.HasPrefix(pat, "*") && !strings.HasSuffix(pat, "*")) {
					errs = append(errs, fmt.Errorf("%s: path %q is not an exact, prefix or suffix match (this test cannot evaluate it)", p, pat))
				}
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	checked := func(path string) bool { return customPolicyMatches(p.spec, path) }
	for _, r := range d.config.Routes {
		for _, sample := range routeSamples(r.Match) {
			if !checked(sample) {
				errs = append(errs, fmt.Errorf("%s does not send %s (route %s) to gatehouse: it would reach the app unchecked", p, sample, r.Name))
			}
		}
	}
	for _, probe := range istioAppProbes {
		if checked(probe) {
			errs = append(errs, fmt.Errorf("%s sends the app's probe %s to gatehouse", p, probe))
		}
	}
	// Paths no route knows must reach gatehouse too, which denies them: a new endpoint
	// of the app, another spelling of an API path (Istio's default normalization keeps
	// repeated slashes; the app merges them).
	for _, other := range []string{"/", "/api", "/API/documents", "//api/documents", "/api//admin/x", "/internal", "/favicon.ico", "/healthz/", "/static/app.js"} {
		if !checked(other) {
			errs = append(errs, fmt.Errorf("%s does not send %s to gatehouse: a path outside its rules reaches the app unchecked", p, other))
		}
	}
	return errs
}

// customPolicyMatches reports whether a request for path matches a rule of the policy
// (Istio semantics for rules without from/when: the rules are ORed, the operations of
// one rule's `to` are ORed, paths and notPaths of an operation are ANDed).
func customPolicyMatches(spec *securityv1beta1.AuthorizationPolicy, p string) bool {
	for _, r := range spec.GetRules() {
		if len(r.GetTo()) == 0 {
			return true
		}
		for _, to := range r.GetTo() {
			op := to.GetOperation()
			inPaths := len(op.GetPaths()) == 0 || slices.ContainsFunc(op.GetPaths(), func(pat string) bool { return istioPathMatch(pat, p) })
			inNotPaths := slices.ContainsFunc(op.GetNotPaths(), func(pat string) bool { return istioPathMatch(pat, p) })
			if inPaths && !inNotPaths {
				return true
			}
		}
	}
	return false
}

// istioPathMatch is Istio's string match for paths: "*" (any), "prefix*", "*suffix", or
// exact.
func istioPathMatch(pattern, p string) bool {
	switch {
	case pattern == "*":
		return p != ""
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(p, strings.TrimSuffix(pattern, "*"))
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(p, strings.TrimPrefix(pattern, "*"))
	}
	return p == pattern
}

// routeSamples are concrete paths a route matches: its path, its prefix (and below), or
// its template with every parameter filled in.
func routeSamples(m mapping.RouteMatch) []string {
	switch {
	case m.Path != "":
		return []string{m.Path}
	case m.Prefix != "":
		return []string{m.Prefix, strings.TrimSuffix(m.Prefix, "/") + "/x"}
	case m.Template != "":
		re := regexp.MustCompile(`\{[^}]*\}`)
		return []string{re.ReplaceAllStringFunc(m.Template, func(p string) string {
			if strings.HasSuffix(p, "...}") {
				return "x/y"
			}
			return "x"
		})}
	}
	return nil
}

func checkPeerAuthentication(d *istioDeployment) []error {
	var errs []error
	for _, ns := range []string{istioAppNamespace, d.service.Namespace} {
		strict := false
		for _, pa := range d.peerAuths {
			if pa.Metadata.Namespace == ns && pa.spec.GetSelector() == nil &&
				pa.spec.GetMtls().GetMode() == securityv1beta1.PeerAuthentication_MutualTLS_STRICT && len(pa.spec.GetPortLevelMtls()) == 0 {
				strict = true
			}
		}
		if !strict {
			errs = append(errs, fmt.Errorf("no namespace-wide STRICT PeerAuthentication in %s", ns))
		}
	}
	return errs
}

func checkRequestAuthentication(d *istioDeployment) []error {
	if len(d.requestAuths) != 1 {
		return []error{fmt.Errorf("%d RequestAuthentications, want 1", len(d.requestAuths))}
	}
	ra := d.requestAuths[0]
	var errs []error
	if ra.Metadata.Namespace != istioAppNamespace || !reflect.DeepEqual(ra.spec.GetSelector().GetMatchLabels(), map[string]string{"app": istioAppLabel}) {
		errs = append(errs, fmt.Errorf("%s does not select the app (namespace %s, app: %s)", ra, istioAppNamespace, istioAppLabel))
	}
	var jwt *mapping.JWTSource
	for _, s := range d.config.Identity.Sources {
		if s.JWT != nil {
			jwt = s.JWT
		}
	}
	if jwt == nil {
		return append(errs, errors.New("gatehouse.yaml has no jwt source: under Istio gatehouse must verify tokens itself"))
	}
	jwks, err := os.ReadFile(filepath.Join(d.root, "envoy", "demo", "keys", "jwks.json"))
	if err != nil {
		return append(errs, err)
	}
	for i, rule := range ra.spec.GetJwtRules() {
		if !slices.Contains(jwt.Issuers, rule.GetIssuer()) {
			errs = append(errs, fmt.Errorf("%s: jwtRules[%d] issuer %q is not one gatehouse accepts (%v)", ra, i, rule.GetIssuer(), jwt.Issuers))
		}
		if !slices.Equal(rule.GetAudiences(), jwt.Audiences) {
			errs = append(errs, fmt.Errorf("%s: jwtRules[%d] audiences %v, gatehouse's %v", ra, i, rule.GetAudiences(), jwt.Audiences))
		}
		if rule.GetJwksUri() != "" {
			continue // a real issuer: gatehouse should then use jwks.url (not checked here)
		}
		if !sameJSON([]byte(rule.GetJwks()), jwks) {
			errs = append(errs, fmt.Errorf("%s: jwtRules[%d] inline jwks differs from envoy/demo/keys/jwks.json", ra, i))
		}
	}
	if len(ra.spec.GetJwtRules()) == 0 {
		errs = append(errs, fmt.Errorf("%s has no jwtRules", ra))
	}
	return errs
}

func checkGatehouseCallers(d *istioDeployment) []error {
	p, err := d.provider()
	if err != nil {
		return []error{err}
	}
	tmpl := d.deployment.Spec.Template
	var allowedFromApp bool
	var errs []error
	for _, ap := range d.authzPolicies {
		if ap.Metadata.Namespace != d.service.Namespace {
			continue
		}
		if ap.spec.GetAction() != securityv1beta1.AuthorizationPolicy_ALLOW || !labelsMatch(ap.spec.GetSelector().GetMatchLabels(), tmpl.Labels) {
			errs = append(errs, fmt.Errorf("%s: an ALLOW policy for gatehouse's pods is expected in its namespace", ap))
			continue
		}
		for _, r := range ap.spec.GetRules() {
			fromApp := false
			for _, f := range r.GetFrom() {
				if slices.Contains(f.GetSource().GetNamespaces(), istioAppNamespace) {
					fromApp = true
				}
			}
			toProvider := false
			for _, to := range r.GetTo() {
				if slices.Contains(to.GetOperation().GetPorts(), strconv.Itoa(int(p.GetPort()))) {
					toProvider = true
				}
			}
			if fromApp && toProvider && len(r.GetWhen()) == 0 {
				allowedFromApp = true
			}
		}
	}
	if !allowedFromApp {
		errs = append(errs, fmt.Errorf("no ALLOW rule lets the sidecars of namespace %s call gatehouse on port %d: every check would fail", istioAppNamespace, p.GetPort()))
	}
	return errs
}

// --- gatehouse's configuration --------------------------------------------------------

func checkConfigUnderIstio(d *istioDeployment) []error {
	var errs []error
	for _, r := range d.config.Routes {
		if len(r.Match.ContextExtensions) > 0 {
			errs = append(errs, fmt.Errorf("route %s matches on contextExtensions, which Istio never sends", r.Name))
		}
		for _, e := range routeExprs(r) {
			if regexp.MustCompile(`\bcontext\b`).MatchString(e) {
				errs = append(errs, fmt.Errorf("route %s reads context (%q), which Istio never sends", r.Name, e))
			}
		}
	}
	for i, s := range d.config.Identity.Sources {
		if s.JWTAuthn != nil {
			errs = append(errs, fmt.Errorf("identity.sources[%d]: jwtAuthn: Istio's JWT filter runs after CUSTOM authorization, so no claims reach gatehouse", i))
		}
	}
	if d.config.Requests.Unmatched == "allow" {
		errs = append(errs, errors.New("requests.unmatched: allow: the CUSTOM policy sends paths no route knows, which would then pass unchecked"))
	}
	if d.config.Requests.NonHTTP == "allow" {
		errs = append(errs, errors.New("requests.nonHTTP: allow: Istio's network filter would let TCP connections through"))
	}
	c, err := istioContainer(d.deployment)
	if err != nil {
		return append(errs, err)
	}
	for _, flag := range []string{"--grpc-address", "--http-address"} {
		if host, _, _ := net.SplitHostPort(istioFlag(c.Args, flag)); host != "0.0.0.0" && host != "" && host != "::" {
			errs = append(errs, fmt.Errorf("%s %s: the sidecar reaches gatehouse on the pod's address, not on loopback only", flag, istioFlag(c.Args, flag)))
		}
	}
	return errs
}

func checkConfigRoutesAsDemo(d *istioDeployment) []error {
	var errs []error
	if len(d.config.Routes) != len(d.demo.Routes) {
		return []error{fmt.Errorf("%d routes, the demo has %d", len(d.config.Routes), len(d.demo.Routes))}
	}
	for i, r := range d.config.Routes {
		demo := d.demo.Routes[i]
		if r.Name != demo.Name || !reflect.DeepEqual(r.Match, demo.Match) {
			errs = append(errs, fmt.Errorf("routes[%d] is %s %+v, the demo's %s %+v", i, r.Name, r.Match, demo.Name, demo.Match))
		}
		if !reflect.DeepEqual(r.Actions, demo.Actions) || r.Action != demo.Action || r.ActionExpr != demo.ActionExpr {
			errs = append(errs, fmt.Errorf("routes[%d] (%s): actions differ from the demo's", i, r.Name))
		}
	}
	return errs
}

func checkSPIFFENotGateway(d *istioDeployment) []error {
	var errs []error
	found := false
	for i, s := range d.config.Identity.Sources {
		if s.SPIFFE == nil {
			continue
		}
		found = true
		if !slices.Equal(s.SPIFFE.TrustDomains, []string{istioTrustDomain}) {
			errs = append(errs, fmt.Errorf("identity.sources[%d].spiffe.trustDomains %v, want [%s]", i, s.SPIFFE.TrustDomains, istioTrustDomain))
		}
		if len(s.SPIFFE.IDs) == 0 {
			errs = append(errs, fmt.Errorf("identity.sources[%d].spiffe.ids empty: the ingress gateway would be taken for the user", i))
		}
		for _, gw := range istioGatewayIDs {
			for _, pat := range s.SPIFFE.IDs {
				if ok, _ := path.Match(pat, gw); ok {
					errs = append(errs, fmt.Errorf("identity.sources[%d].spiffe.ids: %q accepts the ingress gateway %s", i, pat, gw))
				}
			}
		}
	}
	if !found {
		errs = append(errs, errors.New("gatehouse.yaml has no spiffe source"))
	}
	return errs
}

// --- the Kubernetes workload ----------------------------------------------------------

func checkVolumeContents(d *istioDeployment) []error {
	var errs []error
	// What the pod sees is what the repository holds: the configuration of envoy/istio,
	// every policy of envoy/demo/policies and nothing else, the demo JWKS.
	want := map[string]string{"gatehouse.yaml": filepath.Join(d.root, "envoy", "istio", "gatehouse.yaml"), "keys/jwks.json": filepath.Join(d.root, "envoy", "demo", "keys", "jwks.json")}
	entries, err := os.ReadDir(filepath.Join(d.root, "envoy", "demo", "policies"))
	if err != nil {
		return []error{err}
	}
	for _, e := range entries {
		want["policies/"+e.Name()] = filepath.Join(d.root, "envoy", "demo", "policies", e.Name())
	}
	got, err := projectedFiles(d)
	if err != nil {
		return []error{err}
	}
	for rel, src := range want {
		content, ok := got[rel]
		if !ok {
			errs = append(errs, fmt.Errorf("the pod's volume lacks %s", rel))
			continue
		}
		repo, err := os.ReadFile(src)
		if err != nil {
			errs = append(errs, err)
		} else if content != string(repo) {
			errs = append(errs, fmt.Errorf("the pod's %s differs from %s", rel, src))
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			errs = append(errs, fmt.Errorf("the pod's volume has %s, which the repository does not", rel))
		}
	}
	// Every key of a projected ConfigMap reaches the pod: a policy added to the
	// kustomization but not to the Deployment's items would be silently missing.
	for _, v := range d.deployment.Spec.Template.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			cm := d.configMaps[src.ConfigMap.Name]
			if cm == nil || len(src.ConfigMap.Items) == 0 {
				continue
			}
			for key := range cm.Data {
				if !slices.ContainsFunc(src.ConfigMap.Items, func(it corev1.KeyToPath) bool { return it.Key == key }) {
					errs = append(errs, fmt.Errorf("ConfigMap %s key %s is not projected into the pod", cm.Name, key))
				}
			}
		}
	}
	return errs
}

// projectedFiles reads back the materialized volume: relative path → content.
func projectedFiles(d *istioDeployment) (map[string]string, error) {
	out := map[string]string{}
	data, err := filepath.EvalSymlinks(filepath.Join(filepath.Dir(d.configPath), "..data"))
	if err != nil {
		return nil, err
	}
	err = filepath.WalkDir(data, func(p string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(data, p)
		out[filepath.ToSlash(rel)] = string(b)
		return err
	})
	return out, err
}

func checkWorkloadLabels(d *istioDeployment) []error {
	var errs []error
	tmpl := d.deployment.Spec.Template
	if d.deployment.Spec.Selector == nil || !labelsMatch(d.deployment.Spec.Selector.MatchLabels, tmpl.Labels) || len(d.deployment.Spec.Selector.MatchExpressions) > 0 {
		errs = append(errs, errors.New("the Deployment's selector does not select its pods"))
	}
	if !labelsMatch(d.service.Spec.Selector, tmpl.Labels) || len(d.service.Spec.Selector) == 0 {
		errs = append(errs, fmt.Errorf("the Service selector %v does not select the pods %v", d.service.Spec.Selector, tmpl.Labels))
	}
	if d.pdb.Spec.Selector == nil || !labelsMatch(d.pdb.Spec.Selector.MatchLabels, tmpl.Labels) || len(d.pdb.Spec.Selector.MatchLabels) == 0 {
		errs = append(errs, errors.New("the PodDisruptionBudget does not select the pods"))
	}
	if d.pdb.Namespace != d.deployment.Namespace || d.service.Namespace != d.deployment.Namespace {
		errs = append(errs, errors.New("the Deployment, Service and PodDisruptionBudget are not in one namespace"))
	}
	replicas := int32(1)
	if d.deployment.Spec.Replicas != nil {
		replicas = *d.deployment.Spec.Replicas
	}
	if replicas < 2 {
		errs = append(errs, fmt.Errorf("%d replica(s): with failOpen false, one pod's restart refuses every request", replicas))
	}
	if m := d.pdb.Spec.MinAvailable; m == nil || m.Type != intstr.Int || m.IntVal < 1 || m.IntVal >= replicas {
		errs = append(errs, fmt.Errorf("PodDisruptionBudget minAvailable %v: want at least 1 and fewer than the %d replicas (or drains block)", m, replicas))
	}
	if d.deployment.Spec.Template.Spec.ServiceAccountName != d.serviceAccount.Name || d.serviceAccount.Namespace != d.deployment.Namespace {
		errs = append(errs, fmt.Errorf("the pods run as service account %q, the manifest defines %s/%s", tmpl.Spec.ServiceAccountName, d.serviceAccount.Namespace, d.serviceAccount.Name))
	}
	c, err := istioContainer(d.deployment)
	if err != nil {
		return append(errs, err)
	}
	ref, tag, _ := strings.Cut(c.Image, ":")
	if tag == "" || tag == "latest" || strings.Contains(tag, "/") || strings.Contains(ref, "@") {
		errs = append(errs, fmt.Errorf("image %q: want a pinned tag", c.Image))
	}
	if v := tmpl.Labels["version"]; v != tag {
		errs = append(errs, fmt.Errorf("pod label version %q, image tag %q", v, tag))
	}
	return errs
}

func checkWorkloadProbes(d *istioDeployment) []error {
	c, err := istioContainer(d.deployment)
	if err != nil {
		return []error{err}
	}
	grpcPort := listenPort(istioFlag(c.Args, "--grpc-address"))
	httpPort := listenPort(istioFlag(c.Args, "--http-address"))
	var errs []error
	for _, want := range []struct {
		name string
		port int
	}{{"grpc", grpcPort}, {"http", httpPort}} {
		p, err := containerPort(c, intstr.FromString(want.name))
		if err != nil || p != want.port {
			errs = append(errs, fmt.Errorf("container port %s is %d (%v), gatehouse listens on %d", want.name, p, err, want.port))
		}
	}
	probeTarget := func(name string, pr *corev1.Probe) {
		switch {
		case pr == nil:
			errs = append(errs, fmt.Errorf("no %s probe", name))
		case pr.GRPC != nil:
			// gatehouse reports "" and the ext_authz service; "" is what a probe without a
			// service name asks for.
			if int(pr.GRPC.Port) != grpcPort {
				errs = append(errs, fmt.Errorf("%s probe: gRPC port %d, gatehouse serves gRPC on %d", name, pr.GRPC.Port, grpcPort))
			}
			if s := pr.GRPC.Service; s != nil && *s != "" && *s != "envoy.service.auth.v3.Authorization" {
				errs = append(errs, fmt.Errorf("%s probe: gRPC service %q is not one gatehouse reports", name, *s))
			}
		case pr.HTTPGet != nil:
			p, err := containerPort(c, pr.HTTPGet.Port)
			if err != nil || p != httpPort {
				errs = append(errs, fmt.Errorf("%s probe: HTTP port %v, gatehouse serves /healthz and /readyz on %d", name, pr.HTTPGet.Port.String(), httpPort))
			}
			if want := map[string]string{"readiness": "/readyz", "liveness": "/healthz"}[name]; pr.HTTPGet.Path != want {
				errs = append(errs, fmt.Errorf("%s probe: path %q, want %s", name, pr.HTTPGet.Path, want))
			}
		default:
			errs = append(errs, fmt.Errorf("%s probe is neither gRPC nor HTTP (a TCP probe always passes behind a sidecar)", name))
		}
	}
	probeTarget("readiness", c.ReadinessProbe)
	probeTarget("liveness", c.LivenessProbe)
	// Liveness must not follow readiness: a pod that has not loaded its policies yet, or
	// is draining, is not dead.
	if lp := c.LivenessProbe; lp != nil && lp.GRPC != nil {
		errs = append(errs, errors.New("liveness probe on gRPC health: gatehouse reports NOT_SERVING until policies load and while draining, which would restart it"))
	}
	return errs
}

func checkWorkloadSecurity(d *istioDeployment) []error {
	c, err := istioContainer(d.deployment)
	if err != nil {
		return []error{err}
	}
	pod := d.deployment.Spec.Template.Spec.SecurityContext
	if pod == nil {
		pod = &corev1.PodSecurityContext{}
	}
	sc := c.SecurityContext
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	var errs []error
	nonRoot := sc.RunAsNonRoot
	if nonRoot == nil {
		nonRoot = pod.RunAsNonRoot
	}
	user := sc.RunAsUser
	if user == nil {
		user = pod.RunAsUser
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = pod.SeccompProfile
	}
	if nonRoot == nil || !*nonRoot {
		errs = append(errs, errors.New("runAsNonRoot is not true"))
	}
	if user == nil || *user != istioGatehouseUser {
		errs = append(errs, fmt.Errorf("runAsUser %s, want %d (the image's nonroot user)", deref(user), istioGatehouseUser))
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		errs = append(errs, errors.New("readOnlyRootFilesystem is not true"))
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		errs = append(errs, errors.New("allowPrivilegeEscalation is not false"))
	}
	if sc.Privileged != nil && *sc.Privileged {
		errs = append(errs, errors.New("privileged"))
	}
	if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
		errs = append(errs, errors.New("capabilities: want drop [ALL] and nothing added"))
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errs = append(errs, errors.New("seccompProfile is not RuntimeDefault"))
	}
	for _, m := range c.VolumeMounts {
		if !m.ReadOnly {
			errs = append(errs, fmt.Errorf("volume mount %s is writable", m.MountPath))
		}
	}
	if t := d.deployment.Spec.Template.Spec; t.AutomountServiceAccountToken == nil || *t.AutomountServiceAccountToken {
		errs = append(errs, errors.New("the pod mounts a Kubernetes API token it does not use"))
	}
	return errs
}

func checkWorkloadShutdown(d *istioDeployment) []error {
	c, err := istioContainer(d.deployment)
	if err != nil {
		return []error{err}
	}
	var pause time.Duration
	if l := c.Lifecycle; l != nil && l.PreStop != nil {
		if l.PreStop.Sleep == nil {
			return []error{errors.New("preStop is not a sleep action (the image has no shell)")}
		}
		pause = time.Duration(l.PreStop.Sleep.Seconds) * time.Second
	}
	grace := 30 * time.Second // Kubernetes' default
	if g := d.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds; g != nil {
		grace = time.Duration(*g) * time.Second
	}
	if need := pause + d.config.Server.ShutdownTimeout; grace <= need {
		return []error{fmt.Errorf("terminationGracePeriodSeconds %v does not cover the preStop pause %v plus shutdownTimeout %v: the kubelet would kill in-flight checks", grace, pause, d.config.Server.ShutdownTimeout)}
	}
	if ru := d.deployment.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		return []error{errors.New("rolling updates may take a replica away before its successor is ready (want maxUnavailable: 0)")}
	}
	return nil
}

func checkWorkloadResources(d *istioDeployment) []error {
	c, err := istioContainer(d.deployment)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[r]
		lim, hasLim := c.Resources.Limits[r]
		if !hasReq || !hasLim {
			errs = append(errs, fmt.Errorf("%s: want a request and a limit", r))
		} else if req.Cmp(lim) > 0 {
			errs = append(errs, fmt.Errorf("%s: request %s above limit %s", r, req.String(), lim.String()))
		}
	}
	return errs
}

func checkNamespaces(d *istioDeployment) []error {
	var errs []error
	found := false
	for _, ns := range d.namespaces {
		if ns.Name != d.deployment.Namespace {
			continue
		}
		found = true
		// Injected: the provider call is then mTLS and gatehouse-callers.yaml applies.
		if ns.Labels["istio-injection"] != "enabled" && ns.Labels["istio.io/rev"] == "" {
			errs = append(errs, fmt.Errorf("namespace %s is not labelled for sidecar injection", ns.Name))
		}
	}
	if !found {
		errs = append(errs, fmt.Errorf("the build does not create namespace %s", d.deployment.Namespace))
	}
	return errs
}

// --- helpers --------------------------------------------------------------------------

// deref renders an optional value.
func deref[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// containerPort resolves a Service targetPort or probe port (number or name).
func containerPort(c *corev1.Container, p intstr.IntOrString) (int, error) {
	if p.Type == intstr.Int {
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	return 0, fmt.Errorf("no container port named %q", p.StrVal)
}

// listenPort is the port of a "host:port" address (0 if there is none).
func listenPort(addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// --- the files around the manifests ---------------------------------------------------

// TestIstioKustomization checks what the build alone cannot: that the build needs the
// load restrictor flag the README gives (the demo's policies are outside envoy/istio),
// and that every manifest of the folder is either built or applied another way.
func TestIstioKustomization(t *testing.T) {
	root := demotest.Root(t)
	dir := filepath.Join(root, filepath.FromSlash(istioDir))
	if _, err := istioKustomize(dir, types.LoadRestrictionsRootOnly); err == nil {
		t.Error("the kustomization builds with kustomize's default load restrictor; the README's --load-restrictor flag is unnecessary")
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if cmd := "kubectl kustomize --load-restrictor LoadRestrictionsNone envoy/istio"; !bytes.Contains(readme, []byte(cmd)) {
		t.Errorf("README.md does not give the build command %q", cmd)
	}

	var k struct {
		Resources          []string `json:"resources"`
		ConfigMapGenerator []struct {
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
	}
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{"kustomization.yaml": true, "mesh-config.yaml": true}
	for _, r := range k.Resources {
		used[r] = true
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.Files {
			used[f] = true
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !used[filepath.Base(f)] {
			t.Errorf("%s is neither in kustomization.yaml nor applied another way", filepath.Base(f))
		}
	}
}

// TestIstioMeshConfigForms checks that the README's other forms of the mesh configuration
// (Helm values, the istio ConfigMap's mesh) declare the same provider as mesh-config.yaml.
func TestIstioMeshConfigForms(t *testing.T) {
	root := demotest.Root(t)
	dir := filepath.Join(root, filepath.FromSlash(istioDir))
	overlay, err := os.ReadFile(filepath.Join(dir, "mesh-config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	_, want, err := istioDecodeOperator(overlay)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	forms := 0
	for _, b := range blocks {
		if !bytes.Contains(b[1], []byte("envoyExtAuthzGrpc")) {
			continue
		}
		forms++
		var values struct {
			MeshConfig json.RawMessage `json:"meshConfig"`
		}
		mesh := b[1]
		if yaml.Unmarshal(b[1], &values) == nil && len(values.MeshConfig) > 0 {
			mesh = values.MeshConfig // Helm values of the istiod chart
		}
		got, err := istioDecodeMesh(mesh)
		if err != nil {
			t.Errorf("README.md block %d: %v\n%s", forms, err, b[1])
			continue
		}
		if !proto.Equal(&meshv1alpha1.MeshConfig{ExtensionProviders: got.ExtensionProviders}, &meshv1alpha1.MeshConfig{ExtensionProviders: want.ExtensionProviders}) {
			t.Errorf("README.md block %d declares other extension providers than mesh-config.yaml:\n%s", forms, b[1])
		}
	}
	if forms < 2 {
		t.Errorf("README.md shows %d other forms of the mesh configuration, want the Helm values and the ConfigMap's mesh", forms)
	}
}
