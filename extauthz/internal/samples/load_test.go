package samples_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/extauthz/internal/samples"
)

// samplesDir is shared/envoy-samples, reached from this package's directory.
const samplesDir = "../../../../shared/envoy-samples"

func requireSamples(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat(samplesDir); err != nil || !fi.IsDir() {
		if os.Getenv("CI") == "true" {
			t.Fatalf("samples folder %s not found (CI=true, so this is a failure)", samplesDir)
		}
		t.Skipf("samples folder %s not found", samplesDir)
	}
	return samplesDir
}

// want is what a sample must contain; zero fields are not checked.
type want struct {
	wrapper    samples.Wrapper
	goJSON     bool
	dropped    []string
	method     string
	path       string
	host       string
	header     [2]string // name, value
	sourceIP   string
	sourcePort uint32
	destIP     string
	principal  string // source.principal
	destPrinc  string // destination.principal
	time       string // request.time, RFC 3339
	ctxExt     map[string]string
	metaNS     string // a metadata_context.filter_metadata namespace
	metaKey    [2]string
	body       string
	rawBody    string
	size       int64
	id         string
}

var expectations = map[string]want{
	"authorino_observability-doc_debug-checkrequest-1.json": {
		wrapper: samples.WrapperAttributeContext, goJSON: true,
		method: "GET", path: "/hello", host: "talker-api", header: [2]string{"x-envoy-internal", "true"},
		sourceIP: "127.0.0.1", sourcePort: 53144, destIP: "127.0.0.1",
		time: "2021-10-21T15:34:20.147259Z", ctxExt: map[string]string{"virtual_host": "local_service"},
		id: "8157480586935853928",
	},
	"authorino_observability-doc_debug-checkrequest-2.json": {
		wrapper: samples.WrapperAttributeContext, goJSON: true,
		method: "GET", path: "/hello", host: "talker-api",
		header:   [2]string{"authorization", "APIKEY ndyBzreUzF4zqDQsqSPMHkRhriEOtcRx"},
		sourceIP: "127.0.0.1", sourcePort: 52702, time: "2021-10-21T15:33:33.240094Z",
		ctxExt: map[string]string{"virtual_host": "local_service"},
	},
	"authorino_observability-doc_debug-checkrequest-3.json": {
		wrapper: samples.WrapperAttributeContext, goJSON: true,
		method: "GET", path: "/hello", header: [2]string{"authorization", "APIKEY invalid"},
		sourcePort: 52288, id: "12947265773116138711",
	},
	"istio-docs_authz-custom_sidecar-mtls-allowed.attrctx.txtpb": {
		wrapper: samples.WrapperAttributeContext,
		method:  "GET", path: "/headers", host: "httpbin.foo:8000", header: [2]string{"x-ext-authz", "allow"},
		sourceIP: "10.44.0.22", sourcePort: 52184, destIP: "10.44.3.30",
		principal: "spiffe://cluster.local/ns/foo/sa/curl", destPrinc: "spiffe://cluster.local/ns/foo/sa/httpbin",
		time: "2021-01-08T03:25:00.925912Z",
	},
	"istio-docs_authz-custom_sidecar-mtls-denied.attrctx.txtpb": {
		wrapper: samples.WrapperAttributeContext,
		method:  "GET", path: "/headers", host: "httpbin.foo:8000", header: [2]string{"x-ext-authz", "deny"},
		principal: "spiffe://cluster.local/ns/foo/sa/curl", destPrinc: "spiffe://cluster.local/ns/foo/sa/httpbin",
		id: "13869142855783664817",
	},
	"kyverno-envoy-plugin_demo-istio-mtls_checkrequest-protojson.json": {
		wrapper: samples.WrapperAttributeContext,
		method:  "GET", path: "/movie", host: "testapp-2.demo.svc.cluster.local:8080",
		header:   [2]string{"user-agent", "Wget"},
		sourceIP: "10.244.0.71", sourcePort: 33880, destIP: "10.244.0.65",
		time: "2024-05-20T07:52:01.566887Z",
	},
	"kyverno-envoy-plugin_docs-architecture_checkrequest-snake-case.json": {
		wrapper: samples.WrapperAttributeContext, goJSON: true,
		method: "GET", path: "/foo", host: "echo.demo.svc.cluster.local:8080",
		header:   [2]string{"x-request-id", "ee4c2a8e-1c4b-46b9-b54a-df5e042fe652"},
		sourceIP: "10.244.0.10", sourcePort: 43466, time: "2024-03-19T05:27:11.49717Z",
	},
	"opa-docs_envoy-primer_v3-input-with-body.json": {
		wrapper: samples.WrapperOPAInput,
		dropped: []string{"parsed_body", "parsed_path", "parsed_query", "truncated_body", "version"},
		method:  "POST", path: "/people?lang=en", host: "192.168.99.206:30164",
		header:   [2]string{"content-type", "application/json"},
		sourceIP: "172.17.0.1", destIP: "172.17.06", // malformed as published
		body: `{"firstname":"Charlie", "lastname":"Opa"}`, size: 41,
		time: "2020-11-20T09:47:47.722473Z",
	},
	"opa-envoy-plugin_examples-istio_opa-input-v2-encoding.json": {
		wrapper: samples.WrapperOPAInput, goJSON: true,
		dropped: []string{"parsed_body", "parsed_path", "parsed_query"},
		method:  "GET", path: "/api/v1/products?lang=en", host: "192.168.99.100:31380",
		header:   [2]string{"authorization", "Basic YWxpY2U6cGFzc3dvcmQ="},
		sourceIP: "172.17.0.10", sourcePort: 36472, destIP: "172.17.0.17",
		body: `{"id": "ext1", "name": "opa_authz"}`,
	},
	"opa-envoy-plugin_internal-test_allowed-istio-ingress.json": {
		wrapper: samples.WrapperCheckRequest,
		method:  "GET", path: "/api/v1/products", host: "192.168.99.100:31380",
		header: [2]string{"authorization", "Basic Ym9iOnBhc3N3b3Jk"},
		body:   `{"firstname": "foo", "lastname": "bar"}`,
	},
	"opa-envoy-plugin_internal-test_denied-istio-ingress.json": {
		wrapper: samples.WrapperCheckRequest,
		method:  "GET", path: "/api/v1/products",
		header: [2]string{"authorization", "Basic YWxpY2U6cGFzc3dvcmQ="}, body: "foo",
	},
	"opa-envoy-plugin_protomap-test_metadata-context-extensions.json": {
		wrapper: samples.WrapperCheckRequest,
		method:  "GET", path: "/api/v1/products", header: [2]string{"accept", "*/*"},
		sourceIP: "127.0.0.1", ctxExt: map[string]string{"hello": "world"},
		metaNS: "dummy", metaKey: [2]string{"hello", "world"},
	},
	"opa-envoy-plugin_request-test_grpc-raw-body.json": {
		wrapper: samples.WrapperCheckRequest,
		method:  "POST", path: "/com.book.BookService/GetBooksViaAuthor",
		header:  [2]string{"content-type", "application/grpc"},
		rawBody: "\x00\x00\x00\x00\x06\x0a\x04John",
	},
}

// TestLoadDir loads every sample in shared/envoy-samples and checks key
// fields of each against the file's content.
func TestLoadDir(t *testing.T) {
	dir := requireSamples(t)
	got, err := samples.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "README.md" {
			continue
		}
		if _, ok := got[e.Name()]; !ok {
			t.Errorf("%s was not loaded", e.Name())
		}
		if _, ok := expectations[e.Name()]; !ok {
			t.Errorf("%s has no expectations in this test", e.Name())
		}
	}
	for name, w := range expectations {
		t.Run(name, func(t *testing.T) {
			req, info, err := samples.LoadInfo(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req.GetAttributes(), got[name].GetAttributes()) {
				t.Error("LoadInfo and LoadDir disagree")
			}
			if info.Wrapper != w.wrapper || info.GoJSON() != w.goJSON {
				t.Errorf("info %+v, want wrapper %q, Go JSON %v", info, w.wrapper, w.goJSON)
			}
			if !reflect.DeepEqual(info.Dropped, w.dropped) {
				t.Errorf("dropped %q, want %q", info.Dropped, w.dropped)
			}
			checkRequest(t, req, w)
		})
	}
}

func checkRequest(t *testing.T, req *authv3.CheckRequest, w want) {
	t.Helper()
	a := req.GetAttributes()
	h := a.GetRequest().GetHttp()
	eq := func(field string, got, want any) {
		t.Helper()
		if !reflect.ValueOf(want).IsZero() && !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", field, got, want)
		}
	}
	eq("method", h.GetMethod(), w.method)
	eq("path", h.GetPath(), w.path)
	eq("host", h.GetHost(), w.host)
	eq("id", h.GetId(), w.id)
	eq("body", h.GetBody(), w.body)
	eq("raw_body", string(h.GetRawBody()), w.rawBody)
	eq("size", h.GetSize(), w.size)
	if w.header[0] != "" {
		eq("headers["+w.header[0]+"]", h.GetHeaders()[w.header[0]], w.header[1])
	}
	src, dst := a.GetSource(), a.GetDestination()
	eq("source ip", src.GetAddress().GetSocketAddress().GetAddress(), w.sourceIP)
	eq("source port", src.GetAddress().GetSocketAddress().GetPortValue(), w.sourcePort)
	eq("destination ip", dst.GetAddress().GetSocketAddress().GetAddress(), w.destIP)
	eq("source principal", src.GetPrincipal(), w.principal)
	eq("destination principal", dst.GetPrincipal(), w.destPrinc)
	if w.time != "" {
		eq("time", a.GetRequest().GetTime().AsTime().Format(time.RFC3339Nano), w.time)
	}
	eq("context_extensions", a.GetContextExtensions(), w.ctxExt)
	if w.metaNS != "" {
		ns := a.GetMetadataContext().GetFilterMetadata()[w.metaNS]
		eq("metadata "+w.metaNS+"."+w.metaKey[0], ns.GetFields()[w.metaKey[0]].GetStringValue(), w.metaKey[1])
	}
	if w.principal != "" && !strings.HasPrefix(w.principal, "spiffe://") {
		t.Errorf("principal %q is not a SPIFFE ID", w.principal)
	}
}
