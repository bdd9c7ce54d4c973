package envoylint

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestLintParseErrors(t *testing.T) {
	if _, err := Lint("envoy.yaml", []byte("static_resources:\n  listeners: [\n"), nil); err == nil || !strings.HasPrefix(err.Error(), "envoy.yaml: line 2: ") {
		t.Errorf("YAML syntax error: %v", err)
	}
	for _, tc := range []struct {
		name, doc string
		at        []string // lineAt arguments
		want      string
	}{
		{"unknown field", edit(t, "failure_mode_allow: false", "failure_mode: false"), []string{"failure_mode:"},
			authzPath + `.typed_config: unknown field "failure_mode" in envoy.extensions.filters.http.ext_authz.v3.ExtAuthz`},
		{"wrong type", edit(t, "failure_mode_allow: false", `failure_mode_allow: "no"`), []string{"failure_mode_allow:"},
			authzPath + `.typed_config.failure_mode_allow: invalid value "no": want true or false`},
		{"number for a string", edit(t, "stat_prefix: ingress", "stat_prefix: 8080"), []string{"stat_prefix:"},
			hcmPath + `.stat_prefix: invalid value 8080: want a string (quote it)`},
		{"unknown enum value", edit(t, "transport_api_version: V3", "transport_api_version: v3"), []string{"transport_api_version:"},
			authzPath + `.typed_config.transport_api_version: invalid value "v3" for ApiVersion: want one of AUTO, V2, V3`},
		{"Go duration", edit(t, "timeout: 1s", "timeout: 1m"), []string{"timeout: 1m"},
			authzPath + `.typed_config.grpc_service.timeout: invalid duration "1m"`},
		{"two members of a oneof", edit(t, "timeout: 1s", "timeout: 1s\n              http_service: {server_uri: {uri: \"http://x\", cluster: x, timeout: 1s}}"), []string{"http_service:"},
			authzPath + `.typed_config.http_service: grpc_service and http_service are both set`},
		{"list for a mapping", edit(t, "status_on_error: {code: ServiceUnavailable}", "status_on_error: [503]"), []string{"status_on_error:"},
			authzPath + `.typed_config.status_on_error: want a mapping (HttpStatus), got a list`},
		{"set twice", edit(t, "failure_mode_allow: false", "failure_mode_allow: false\n              failureModeAllow: true"), []string{"failureModeAllow"},
			authzPath + `.typed_config.failure_mode_allow: set twice`},
		{"type URL without a host", edit(t, `"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router`, `"@type": Router`), []string{`"@type": Router`},
			hcmPath + `.http_filters[1](envoy.filters.http.router).typed_config: invalid @type "Router"`},
		{"not a bootstrap", "server:\n  grpc: {address: 127.0.0.1:9191}\npolicies: {directory: policies}\n", []string{"server:"}, "neither an Envoy bootstrap"},
		{"not a mapping", "- a\n- b\n", []string{"- a"}, "want a mapping at the top"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := fmt.Sprintf("envoy.yaml:%d: %s", lineAt(t, tc.doc, tc.at...), tc.want)
			_, err := Lint("envoy.yaml", []byte(tc.doc), nil)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("error:\n  %v\nwant it to contain\n  %s", err, want)
			}
		})
	}
	if _, err := Lint("envoy.yaml", []byte("# nothing\n"), nil); err == nil || !strings.Contains(err.Error(), "envoy.yaml: empty") {
		t.Errorf("empty file: %v", err)
	}
}

// Every problem of a file is reported, in line order.
func TestLintReportsEveryParseError(t *testing.T) {
	doc := edit(t, "stat_prefix: ingress", "stat_prefx: ingress", "failure_mode_allow: false", "failure_mode_allow: 1")
	_, err := Lint("envoy.yaml", []byte(doc), nil)
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	first := fmt.Sprintf("envoy.yaml:%d: ", lineAt(t, doc, "stat_prefx"))
	second := fmt.Sprintf("envoy.yaml:%d: ", lineAt(t, doc, "failure_mode_allow: 1"))
	if len(lines) != 2 || !strings.HasPrefix(lines[0], first) || !strings.HasPrefix(lines[1], second) {
		t.Errorf("want two errors starting %q and %q, got:\n%v", first, second, err)
	}
}

// JSON is YAML: a JSON bootstrap gets the same findings, with its own lines.
func TestLintJSON(t *testing.T) {
	var v any
	if err := yaml.Unmarshal([]byte(edit(t, "failure_mode_allow: false", "failure_mode_allow: true")), &v); err != nil {
		t.Fatal(err)
	}
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(data)
	runLintCases(t, []lintCase{{name: "json", doc: doc, want: []finding{{Error, []string{`"failure_mode_allow": true`}, authzPath + ".typed_config.failure_mode_allow", "fails open"}}}})
}

// Anchors, aliases and merge keys are read as Envoy reads them.
func TestLintAnchorsAndMerges(t *testing.T) {
	doc := edit(t,
		"              grpc_service:\n                envoy_grpc: {cluster_name: gatehouse}\n                timeout: 1s\n",
		"              grpc_service:\n                <<: &svc {envoy_grpc: {cluster_name: gatehouse}, timeout: 60s}\n                timeout: 2s\n",
		"failure_mode_allow: false", "failure_mode_allow: &open true")
	runLintCases(t, []lintCase{{name: "anchors", doc: doc, want: []finding{{Error, []string{"failure_mode_allow: &open true"}, authzPath + ".typed_config.failure_mode_allow", "fails open"}}}})
	bomb := "node:\n  metadata:\n    a: &a [x, x, x, x, x, x, x, x, x, x]\n    b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n    c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n" +
		"    d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n    e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n    f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n    g: [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
	if _, err := Lint("bomb.yaml", []byte(bomb), nil); err == nil || !strings.Contains(err.Error(), "too many nodes") {
		t.Errorf("an alias bomb gave %v, want a refusal", err)
	}
	// Merge keys over merge keys: each mapping is merged once, or this never ends.
	var b strings.Builder
	b.WriteString("node:\n  metadata:\n    m0: &m0 {x: 1}\n")
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&b, "    m%d: &m%d {<<: [%s]}\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*m%d, ", i-1), 10), ", "))
	}
	if _, err := Lint("merges.yaml", []byte(b.String()), nil); err != nil {
		t.Errorf("nested merges: %v", err)
	}
}

// A bootstrap kept in a ConfigMap is found, with the lines of the outer file.
func TestLintConfigMapBootstrap(t *testing.T) {
	inner := edit(t, "failure_mode_allow: false", "failure_mode_allow: true")
	doc := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: envoy}\ndata:\n  README: not yaml\n  envoy.yaml: |\n    " +
		strings.ReplaceAll(strings.TrimSuffix(inner, "\n"), "\n", "\n    ") + "\n"
	runLintCases(t, []lintCase{{name: "configmap", doc: doc, want: []finding{{Error, []string{"failure_mode_allow: true"}, "data[envoy.yaml]." + authzPath + ".typed_config.failure_mode_allow", "fails open"}}}})
}

func TestLintSkipsOtherKubernetesObjects(t *testing.T) {
	got, err := Lint("k8s.yaml", []byte("apiVersion: v1\nkind: Service\n---\napiVersion: v1\nkind: Namespace\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Severity != Note || !strings.Contains(got[0].Message, "Kubernetes Service, Namespace") {
		t.Errorf("got:\n%s", render(got))
	}
}

func FuzzLint(f *testing.F) {
	f.Add([]byte(baseBootstrap))
	f.Add([]byte(baseMesh))
	f.Add([]byte(networkBootstrap))
	f.Add([]byte("kind: ConfigMap\ndata:\n  mesh: |\n    extensionProviders: [{name: a, envoyExtAuthzGrpc: {}}]\n"))
	f.Add([]byte(`{"static_resources": {"clusters": [{"name": "x", "typed_extension_protocol_options": {"k": {"@type": "type.googleapis.com/x.Y"}}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := Lint("fuzz.yaml", data, testGatehouse())
		if err != nil && fs != nil {
			t.Errorf("findings with an error")
		}
	})
}
