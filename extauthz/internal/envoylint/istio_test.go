package envoylint

import (
	"strings"
	"testing"
)

// baseMesh is a MeshConfig whose provider has no findings against testGatehouse.
const baseMesh = `# mesh config
extensionProviders:
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}
- name: gatehouse
  envoyExtAuthzGrpc:
    service: gatehouse.gatehouse.svc.cluster.local
    port: "9191"
    timeout: 1s
    failOpen: false
    statusOnError: "503"
    includeRequestBodyInCheck:
      maxRequestBytes: 8192
      allowPartialMessage: false
      packAsBytes: true
`

const providerPath = "extensionProviders[1](gatehouse).envoyExtAuthzGrpc"

func editMesh(t *testing.T, pairs ...string) string {
	t.Helper()
	s := baseMesh
	for i := 0; i+1 < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("editMesh: %q is not in the base mesh config", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return s
}

func TestLintIstio(t *testing.T) {
	gh := testGatehouse()
	body := "    includeRequestBodyInCheck:\n      maxRequestBytes: 8192\n      allowPartialMessage: false\n      packAsBytes: true\n"
	jwtAuthn := testGatehouse()
	jwtAuthn.JWTAuthn = []NamespaceRef{{Namespace: jwtAuthnNamespace, Ref: "gatehouse.yaml:20 identity.sources[1].jwtAuthn"}}
	ctxRoutes := testGatehouse()
	ctxRoutes.ContextExtensionRoutes = []Ref{"gatehouse.yaml:50 routes[3].match.contextExtensions"}
	runLintCases(t, []lintCase{
		{name: "clean", doc: baseMesh, gh: gh},
		{
			name: "fail open",
			doc:  editMesh(t, "failOpen: false", "failOpen: true"),
			want: []finding{{Error, []string{"failOpen: true"}, providerPath + ".failOpen", "fails open"}},
		},
		{
			name: "fail open in proto names",
			doc:  editMesh(t, "failOpen: false", "fail_open: true"),
			want: []finding{{Error, []string{"fail_open: true"}, providerPath + ".failOpen", "fails open"}},
		},
		{
			name: "statusOnError unset",
			doc:  editMesh(t, "    statusOnError: \"503\"\n", ""),
			want: []finding{{Warning, []string{"envoyExtAuthzGrpc:"}, providerPath + ".statusOnError", "Istio answers 403"}},
		},
		{
			name: "statusOnError 403",
			doc:  editMesh(t, `statusOnError: "503"`, `statusOnError: "403"`),
			want: []finding{{Warning, []string{"statusOnError"}, providerPath + ".statusOnError", `statusOnError "403" hides outages`}},
		},
		{
			name: "statusOnError not a status",
			doc:  editMesh(t, `statusOnError: "503"`, `statusOnError: "5O3"`),
			want: []finding{{Error, []string{"statusOnError"}, providerPath + ".statusOnError", "Istio rejects the provider"}},
		},
		{
			name: "timeout unset",
			doc:  editMesh(t, "    timeout: 1s\n", ""),
			want: []finding{{Warning, []string{"envoyExtAuthzGrpc:"}, providerPath + ".timeout", "default for ext_authz providers is 600s"}},
		},
		{
			name: "timeout zero",
			doc:  editMesh(t, "timeout: 1s", "timeout: 0s"),
			want: []finding{{Error, []string{"timeout: 0s"}, providerPath + ".timeout", "no deadline"}},
		},
		{
			name: "timeout long",
			doc:  editMesh(t, "timeout: 1s", "timeout: 10.5s"),
			want: []finding{{Warning, []string{"timeout: 10.5s"}, providerPath + ".timeout", "10.5s is long"}},
		},
		{
			name: "service and port missing",
			doc:  editMesh(t, "    service: gatehouse.gatehouse.svc.cluster.local\n    port: \"9191\"\n", ""),
			want: []finding{
				{Error, []string{"envoyExtAuthzGrpc:"}, providerPath + ".port", "port is required"},
				{Error, []string{"envoyExtAuthzGrpc:"}, providerPath + ".service", "service is required"},
			},
		},
		{
			name: "body read but not sent",
			doc:  editMesh(t, body, ""),
			gh:   gh,
			want: []finding{{Warning, []string{"envoyExtAuthzGrpc:"}, providerPath + ".includeRequestBodyInCheck", "routes[2].resource.attr.classification"}},
		},
		{
			name: "partial bodies",
			doc:  editMesh(t, "allowPartialMessage: false", "allowPartialMessage: true"),
			gh:   gh,
			want: []finding{{Warning, []string{"allowPartialMessage: true"}, providerPath + ".includeRequestBodyInCheck.allowPartialMessage", "partial JSON"}},
		},
		{
			name: "jwtAuthn under Istio",
			doc:  baseMesh,
			gh:   jwtAuthn,
			want: []finding{{Warning, []string{"envoyExtAuthzGrpc:"}, providerPath, "identity.sources[1].jwtAuthn"}},
		},
		{
			name: "context extensions under Istio",
			doc:  baseMesh,
			gh:   ctxRoutes,
			want: []finding{{Warning, []string{"envoyExtAuthzGrpc:"}, providerPath, "routes[3].match.contextExtensions"}},
		},
		{
			name: "HTTP provider",
			doc:  editMesh(t, "envoyExtAuthzGrpc:", "envoyExtAuthzHttp:"),
			want: []finding{{Error, []string{"envoyExtAuthzHttp:"}, "extensionProviders[1](gatehouse).envoyExtAuthzHttp", "gRPC only"}},
		},
		{
			name: "no ext_authz provider",
			doc:  "extensionProviders:\n- name: zipkin\n  zipkin: {service: zipkin, port: 9411}\n",
			want: []finding{{Warning, []string{"extensionProviders:"}, "extensionProviders", "no envoyExtAuthzGrpc provider"}},
		},
	})
}

// The shapes a mesh configuration comes in, each with the provider failing open.
func TestLintIstioShapes(t *testing.T) {
	provider := strings.TrimPrefix(strings.Replace(baseMesh, "failOpen: false", "failOpen: true", 1), "# mesh config\n")
	indent := func(s, pad string) string {
		return pad + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n"+pad) + "\n"
	}
	for _, tc := range []struct {
		name, doc, path string
	}{
		{"IstioOperator", "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig:\n" + indent(provider, "    "), "spec.meshConfig." + providerPath},
		{"Helm values", "global: {hub: docker.io/istio}\nmeshConfig:\n" + indent(provider, "  "), "meshConfig." + providerPath},
		{"ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |-\n" + indent(provider, "    "), "data[mesh]." + providerPath},
		{"several documents", "apiVersion: v1\nkind: Namespace\nmetadata: {name: gatehouse}\n---\n" + provider, providerPath},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runLintCases(t, []lintCase{{name: tc.name, doc: tc.doc, want: []finding{{Error, []string{"failOpen: true"}, tc.path + ".failOpen", "fails open"}}}})
		})
	}
	// A ConfigMap value that is not a literal block: every line is the value's.
	doc := "kind: ConfigMap\ndata:\n  mesh: \"extensionProviders: [{name: g, envoyExtAuthzGrpc: {service: g, port: 1, timeout: 1s, statusOnError: '503', failOpen: true}}]\"\n"
	runLintCases(t, []lintCase{{name: "quoted mesh", doc: doc, want: []finding{{Error, []string{"mesh:"}, "data[mesh].extensionProviders[0](g).envoyExtAuthzGrpc.failOpen", "fails open"}}}})
}

func TestLintIstioErrors(t *testing.T) {
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown field", editMesh(t, "failOpen: false", "failOpn: false"), `mesh.yaml:10: extensionProviders[1](gatehouse).envoyExtAuthzGrpc: unknown field "failOpn"`},
		{"Go duration", editMesh(t, "timeout: 1s", "timeout: 500ms"), `mesh.yaml:9: extensionProviders[1](gatehouse).envoyExtAuthzGrpc.timeout: invalid duration "500ms"`},
		{"unquoted status", editMesh(t, `statusOnError: "503"`, `statusOnError: 503`), `mesh.yaml:11: extensionProviders[1](gatehouse).envoyExtAuthzGrpc.statusOnError: invalid value "503": want a string`},
		{"bool as string", editMesh(t, "failOpen: false", `failOpen: "no"`), `mesh.yaml:10: extensionProviders[1](gatehouse).envoyExtAuthzGrpc.failOpen: invalid value "no": want true or false`},
		{"providers not a list", "extensionProviders: {name: x}\n", `mesh.yaml:1: extensionProviders: want a list`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Lint("mesh.yaml", []byte(tc.doc), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}
