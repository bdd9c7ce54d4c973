package extauthz

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/gatehouse/gatehouse/extauthz/internal/samples"
)

const samplesDir = "../../shared/envoy-samples"

// TestReplayEnvoySamples replays every third-party CheckRequest capture against a server
// configured for them (testdata/samples) and asserts the decision and identity headers.
func TestReplayEnvoySamples(t *testing.T) {
	if _, err := os.Stat(samplesDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("envoy samples missing: %v", err)
		}
		t.Skipf("envoy samples not available: %v", err)
	}
	reqs, err := samples.LoadDir(samplesDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig("testdata/samples/gatehouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.GRPC.Address, cfg.Server.HTTP.Address = "127.0.0.1:0", "127.0.0.1:0"
	_, client, _ := startService(t, cfg)

	guest := map[string]string{"x-gatehouse-principal": "YWxpY2U=", "x-gatehouse-roles": "guest", "x-gatehouse-identity-source": "jwt"}
	anon := map[string]string{"x-gatehouse-principal": "anonymous", "x-gatehouse-identity-source": "anonymous"}
	want := map[string]outcome{
		// A Kubernetes service-account token signed by a key gatehouse does not trust.
		"authorino_observability-doc_debug-checkrequest-1.json": {status: 401, reason: "invalid_token"},
		// "Authorization: APIKEY ..." is not a bearer token: anonymous, and /hello needs a role.
		"authorino_observability-doc_debug-checkrequest-2.json": {status: 403, reason: "policy_denied"},
		"authorino_observability-doc_debug-checkrequest-3.json": {status: 403, reason: "policy_denied"},
		// Istio sidecars with mTLS: the SPIFFE identity of ns/foo/sa/curl, header x-ext-authz.
		"istio-docs_authz-custom_sidecar-mtls-allowed.attrctx.txtpb": {status: 200, headers: map[string]string{
			"x-gatehouse-principal": "spiffe://cluster.local/ns/foo/sa/curl", "x-gatehouse-roles": "service", "x-gatehouse-identity-source": "spiffe"}},
		"istio-docs_authz-custom_sidecar-mtls-denied.attrctx.txtpb":        {status: 403, reason: "policy_denied"},
		"kyverno-envoy-plugin_demo-istio-mtls_checkrequest-protojson.json": {status: 200, headers: anon},
		// The public HS256 demo token of alice (role guest), valid until 2031.
		"kyverno-envoy-plugin_docs-architecture_checkrequest-snake-case.json": {status: 200, headers: guest},
		// bob's admin token expired in 2022.
		"opa-docs_envoy-primer_v3-input-with-body.json":                   {status: 401, reason: "invalid_token"},
		"opa-envoy-plugin_examples-istio_opa-input-v2-encoding.json":      {status: 403, reason: "policy_denied"},
		"opa-envoy-plugin_internal-test_allowed-istio-ingress.json":       {status: 403, reason: "policy_denied"},
		"opa-envoy-plugin_internal-test_denied-istio-ingress.json":        {status: 403, reason: "policy_denied"},
		"opa-envoy-plugin_protomap-test_metadata-context-extensions.json": {status: 200, headers: anon},
		"opa-envoy-plugin_request-test_grpc-raw-body.json":                {status: 200, headers: anon},
	}
	names := make([]string, 0, len(reqs))
	for name := range reqs {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) != len(want) {
		t.Errorf("%d samples, %d expectations: keep them in step", len(names), len(want))
	}
	for _, name := range names {
		t.Run(filepath.Base(name), func(t *testing.T) {
			w, ok := want[filepath.Base(name)]
			if !ok {
				t.Fatalf("no expectation for %s", name)
			}
			resp, err := client.Check(context.Background(), reqs[name])
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			checkOutcome(t, resp, w)
		})
	}
}
