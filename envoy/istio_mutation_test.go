package envoy_test

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/durationpb"
	securityv1beta1 "istio.io/api/security/v1beta1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestIstioChecksCatchMistakes breaks a copy of the deployment in one place at a time and
// expects the named check of TestIstioDeployment to notice.
func TestIstioChecksCatchMistakes(t *testing.T) {
	d := loadIstio(t)
	prov := func(d *istioDeployment) *providerGRPC {
		p, err := d.provider()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	custom := func(d *istioDeployment) *securityv1beta1.AuthorizationPolicy {
		p, err := d.customPolicy()
		if err != nil {
			t.Fatal(err)
		}
		return p.spec
	}
	callers := func(d *istioDeployment) *securityv1beta1.AuthorizationPolicy {
		for _, p := range d.authzPolicies {
			if p.spec.GetAction() == securityv1beta1.AuthorizationPolicy_ALLOW {
				return p.spec
			}
		}
		t.Fatal("no ALLOW policy")
		return nil
	}
	container := func(d *istioDeployment) *corev1.Container {
		c, err := istioContainer(d.deployment)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	setArg := func(d *istioDeployment, flag, value string) {
		c := container(d)
		for i, a := range c.Args {
			if a == flag {
				c.Args[i+1] = value
				return
			}
		}
		t.Fatalf("no %s argument", flag)
	}
	route := func(d *istioDeployment, name string) int {
		for i, r := range d.config.Routes {
			if r.Name == name {
				return i
			}
		}
		t.Fatalf("no route %s", name)
		return -1
	}
	spiffe := func(d *istioDeployment) *[]string {
		for _, s := range d.config.Identity.Sources {
			if s.SPIFFE != nil {
				return &s.SPIFFE.IDs
			}
		}
		t.Fatal("no spiffe source")
		return nil
	}

	for _, tc := range []struct {
		check, name string
		mutate      func(d *istioDeployment)
	}{
		{"mesh-provider", "provider renamed", func(d *istioDeployment) { d.mesh.ExtensionProviders[0].Name = "gatehouse" }},
		{"mesh-provider", "other trust domain", func(d *istioDeployment) { d.mesh.TrustDomain = "example.org" }},
		{"custom-policy", "policy names another provider", func(d *istioDeployment) { custom(d).GetProvider().Name = "gatehouse" }},
		{"provider-address", "provider in another namespace", func(d *istioDeployment) { prov(d).Service = "gatehouse.default.svc.cluster.local" }},
		{"provider-address", "provider on the HTTP port", func(d *istioDeployment) { prov(d).Port = 9192 }},
		{"provider-address", "Service port to the HTTP listener", func(d *istioDeployment) { d.service.Spec.Ports[0].TargetPort = intstr.FromString("http") }},
		{"provider-address", "Service port not gRPC", func(d *istioDeployment) { d.service.Spec.Ports[0].AppProtocol = istioPtr("http") }},
		{"provider-address", "gatehouse listens elsewhere", func(d *istioDeployment) { setArg(d, "--grpc-address", "0.0.0.0:9000") }},
		{"provider-fails-closed", "fail open", func(d *istioDeployment) { prov(d).FailOpen = true }},
		{"provider-fails-closed", "outage looks like a denial", func(d *istioDeployment) { prov(d).StatusOnError = "403" }},
		{"provider-fails-closed", "outage looks like success", func(d *istioDeployment) { prov(d).StatusOnError = "200" }},
		{"provider-timeout", "Istio's default timeout", func(d *istioDeployment) { prov(d).Timeout = nil }},
		{"provider-timeout", "timeout below checkTimeout", func(d *istioDeployment) { prov(d).Timeout = durationpb.New(100e6) }},
		{"provider-timeout", "ten minute timeout", func(d *istioDeployment) { prov(d).Timeout = durationpb.New(600e9) }},
		{"provider-request-body", "no body", func(d *istioDeployment) { prov(d).IncludeRequestBodyInCheck = nil }},
		{"provider-request-body", "partial bodies", func(d *istioDeployment) { prov(d).IncludeRequestBodyInCheck.AllowPartialMessage = true }},
		{"provider-request-body", "bodies beyond gatehouse's limits", func(d *istioDeployment) { prov(d).IncludeRequestBodyInCheck.MaxRequestBytes = 8 << 20 }},
		{"custom-policy", "ALLOW instead of CUSTOM", func(d *istioDeployment) {
			custom(d).Action = securityv1beta1.AuthorizationPolicy_ALLOW
		}},
		{"custom-policy", "selects other pods", func(d *istioDeployment) { custom(d).Selector.MatchLabels["app"] = "document" }},
		{"custom-policy-paths", "only /api/* and /internal/*", func(d *istioDeployment) {
			custom(d).Rules[0].To[0].Operation.Paths = []string{"/api/*", "/internal/*"}
		}},
		{"custom-policy-paths", "probes sent", func(d *istioDeployment) { custom(d).Rules[0].To[0].Operation.NotPaths = nil }},
		{"custom-policy-paths", "admin exempt", func(d *istioDeployment) {
			op := custom(d).Rules[0].To[0].Operation
			op.NotPaths = append(op.NotPaths, "/api/admin/*")
		}},
		{"custom-policy-paths", "only some methods", func(d *istioDeployment) {
			custom(d).Rules[0].To[0].Operation.Methods = []string{"GET", "POST"}
		}},
		{"peer-authentication", "app namespace permissive", func(d *istioDeployment) {
			for _, pa := range d.peerAuths {
				if pa.Metadata.Namespace == istioAppNamespace {
					pa.spec.Mtls.Mode = securityv1beta1.PeerAuthentication_MutualTLS_PERMISSIVE
				}
			}
		}},
		{"peer-authentication", "gatehouse namespace without one", func(d *istioDeployment) {
			var keep []istioPeerAuth
			for _, pa := range d.peerAuths {
				if pa.Metadata.Namespace != d.service.Namespace {
					keep = append(keep, pa)
				}
			}
			d.peerAuths = keep
		}},
		{"request-authentication", "other issuer", func(d *istioDeployment) {
			d.requestAuths[0].spec.JwtRules[0].Issuer = "https://auth.example.com"
		}},
		{"request-authentication", "other keys", func(d *istioDeployment) {
			r := d.requestAuths[0].spec.JwtRules[0]
			r.Jwks = strings.Replace(r.Jwks, `"kid":"demo-2026"`, `"kid":"other"`, 1)
		}},
		{"request-authentication", "other audience", func(d *istioDeployment) { d.requestAuths[0].spec.JwtRules[0].Audiences = []string{"x"} }},
		{"gatehouse-callers", "app namespace not allowed", func(d *istioDeployment) {
			callers(d).Rules[0].From[0].Source.Namespaces = []string{"default"}
		}},
		{"gatehouse-callers", "provider port not allowed", func(d *istioDeployment) {
			callers(d).Rules[0].To[0].Operation.Ports = []string{"9192"}
		}},
		{"config-under-istio", "kind from context", func(d *istioDeployment) {
			r := &d.config.Routes[route(d, "published-documents")].Resource
			r.Kind, r.KindExpr = "", `context.?kind.orValue("document")`
		}},
		{"config-under-istio", "unmatched allowed", func(d *istioDeployment) { d.config.Requests.Unmatched = "allow" }},
		{"config-under-istio", "gRPC on loopback", func(d *istioDeployment) { setArg(d, "--grpc-address", "127.0.0.1:9191") }},
		{"config-routes-as-demo", "route dropped", func(d *istioDeployment) { d.config.Routes = d.config.Routes[1:] }},
		{"config-routes-as-demo", "template changed", func(d *istioDeployment) {
			d.config.Routes[route(d, "reports")].Match.Template = "/internal/report/{id}"
		}},
		{"spiffe-not-gateway", "any service", func(d *istioDeployment) { *spiffe(d) = []string{"spiffe://cluster.local/ns/*/sa/*"} }},
		{"spiffe-not-gateway", "no ids", func(d *istioDeployment) { *spiffe(d) = nil }},
		{"volume-contents", "policy not projected", func(d *istioDeployment) {
			for _, v := range d.deployment.Spec.Template.Spec.Volumes {
				for _, s := range v.Projected.Sources {
					if strings.HasPrefix(s.ConfigMap.Name, "gatehouse-policies") {
						s.ConfigMap.Items = s.ConfigMap.Items[1:]
					}
				}
			}
			rematerialize(t, d)
		}},
		{"volume-contents", "stale policy", func(d *istioDeployment) {
			for name, cm := range d.configMaps {
				if strings.HasPrefix(name, "gatehouse-policies") {
					cm.Data["report.yaml"] += "\n# changed\n"
				}
			}
			rematerialize(t, d)
		}},
		{"workload-labels", "Service selects other pods", func(d *istioDeployment) { d.service.Spec.Selector["app"] = "gatehouse-v2" }},
		{"workload-labels", "PDB selects other pods", func(d *istioDeployment) { d.pdb.Spec.Selector.MatchLabels["app"] = "other" }},
		{"workload-labels", "image tag latest", func(d *istioDeployment) { container(d).Image = "ghcr.io/gatehouse/gatehouse:latest" }},
		{"workload-labels", "version label behind the image", func(d *istioDeployment) {
			container(d).Image = "ghcr.io/gatehouse/gatehouse:0.2.0"
		}},
		{"workload-labels", "one replica", func(d *istioDeployment) { d.deployment.Spec.Replicas = istioPtr[int32](1) }},
		{"workload-labels", "PDB blocks drains", func(d *istioDeployment) { d.pdb.Spec.MinAvailable = istioPtr(intstr.FromInt32(2)) }},
		{"workload-probes", "readiness on the HTTP port", func(d *istioDeployment) { container(d).ReadinessProbe.GRPC.Port = 9192 }},
		{"workload-probes", "liveness on gRPC health", func(d *istioDeployment) {
			c := container(d)
			c.LivenessProbe.HTTPGet, c.LivenessProbe.GRPC = nil, &corev1.GRPCAction{Port: 9191}
		}},
		{"workload-probes", "liveness on /readyz", func(d *istioDeployment) { container(d).LivenessProbe.HTTPGet.Path = "/readyz" }},
		{"workload-probes", "readiness by TCP", func(d *istioDeployment) {
			c := container(d)
			c.ReadinessProbe.GRPC, c.ReadinessProbe.TCPSocket = nil, &corev1.TCPSocketAction{Port: intstr.FromInt32(9191)}
		}},
		{"workload-probes", "container port renamed", func(d *istioDeployment) { container(d).Ports[0].ContainerPort = 9000 }},
		{"workload-security", "root", func(d *istioDeployment) {
			container(d).SecurityContext.RunAsUser = istioPtr[int64](0)
			d.deployment.Spec.Template.Spec.SecurityContext.RunAsUser = istioPtr[int64](0)
		}},
		{"workload-security", "writable root filesystem", func(d *istioDeployment) {
			container(d).SecurityContext.ReadOnlyRootFilesystem = nil
		}},
		{"workload-security", "privilege escalation", func(d *istioDeployment) {
			container(d).SecurityContext.AllowPrivilegeEscalation = istioPtr(true)
		}},
		{"workload-security", "capabilities kept", func(d *istioDeployment) { container(d).SecurityContext.Capabilities = nil }},
		{"workload-security", "no seccomp profile", func(d *istioDeployment) {
			container(d).SecurityContext.SeccompProfile = nil
			d.deployment.Spec.Template.Spec.SecurityContext.SeccompProfile = nil
		}},
		{"workload-security", "API token mounted", func(d *istioDeployment) {
			d.deployment.Spec.Template.Spec.AutomountServiceAccountToken = nil
		}},
		{"workload-shutdown", "grace period too short", func(d *istioDeployment) {
			d.deployment.Spec.Template.Spec.TerminationGracePeriodSeconds = istioPtr[int64](15)
		}},
		{"workload-shutdown", "rollout takes a replica away", func(d *istioDeployment) {
			d.deployment.Spec.Strategy.RollingUpdate.MaxUnavailable = istioPtr(intstr.FromInt32(1))
		}},
		{"workload-resources", "no limits", func(d *istioDeployment) { container(d).Resources.Limits = nil }},
		{"namespaces", "no injection", func(d *istioDeployment) {
			for _, ns := range d.namespaces {
				delete(ns.Labels, "istio-injection")
			}
		}},
	} {
		t.Run(tc.check+"/"+tc.name, func(t *testing.T) {
			var check func(*istioDeployment) []error
			for _, c := range istioChecks {
				if c.name == tc.check {
					check = c.check
				}
			}
			if check == nil {
				t.Fatalf("no check %s", tc.check)
			}
			c := d.clone(t)
			tc.mutate(c)
			errs := check(c)
			if len(errs) == 0 {
				t.Fatalf("check %s did not notice", tc.check)
			}
			t.Log(errs)
		})
	}
}

// rematerialize lays out the pod's volume again after a change to the Deployment or the
// ConfigMaps.
func rematerialize(t *testing.T, d *istioDeployment) {
	t.Helper()
	d.mountDir = t.TempDir()
	p, err := istioMaterializeMount(d.deployment, d.configMaps, d.mountDir)
	if err != nil {
		t.Fatal(err)
	}
	d.configPath = p
}

func istioPtr[T any](v T) *T { return &v }
