package samples_test

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/gatehouse/gatehouse/extauthz/internal/samples"
)

func synthesised(t *testing.T) map[string]*authv3.CheckRequest {
	t.Helper()
	jwt, err := samples.JWTAuthnRequest("payload", nil)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*authv3.CheckRequest{
		"jwt_authn":   jwt,
		"raw headers": samples.RawHeadersRequest(),
		"A92":         samples.GRPCDataPlaneRequest("/shop.v1.Orders/Get", "spiffe://cluster.local/ns/shop/sa/web"),
		"network":     samples.NetworkFilterRequest(),
	}
}

// TestSynthesisedRoundTrip checks that every synthesised request passes the
// proto validation rules and survives both loader encodings unchanged.
func TestSynthesisedRoundTrip(t *testing.T) {
	for name, req := range synthesised(t) {
		if err := req.ValidateAll(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		js, err := protojson.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		fromJSON, _, err := samples.ParseJSON(js)
		if err != nil {
			t.Errorf("%s: ParseJSON: %v", name, err)
		} else if !proto.Equal(fromJSON, req) {
			t.Errorf("%s: JSON round trip changed the request", name)
		}
		txt, err := prototext.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		fromText, _, err := samples.ParseText(txt)
		if err != nil {
			t.Errorf("%s: ParseText: %v", name, err)
		} else if !proto.Equal(fromText, req) {
			t.Errorf("%s: text round trip changed the request", name)
		}
	}
}

func TestSynthesisedShapes(t *testing.T) {
	reqs := synthesised(t)

	jwt := reqs["jwt_authn"].GetAttributes()
	claims := jwt.GetMetadataContext().GetFilterMetadata()[samples.JWTAuthnNamespace].GetFields()["payload"].GetStructValue()
	if claims.GetFields()["sub"].GetStringValue() != "alice" {
		t.Errorf("jwt_authn claims %v", claims)
	}
	if _, ok := jwt.GetRequest().GetHttp().GetHeaders()["authorization"]; ok {
		t.Error("jwt_authn: authorization header present; jwt_authn strips it by default")
	}
	if _, err := samples.JWTAuthnRequest("", nil); err == nil {
		t.Error("empty payload key accepted")
	}
	if _, err := samples.JWTAuthnRequest("p", map[string]any{"bad": make(chan int)}); err == nil {
		t.Error("unconvertible claim accepted")
	}

	raw := reqs["raw headers"].GetAttributes().GetRequest().GetHttp()
	if raw.GetHeaders() != nil || len(raw.GetHeaderMap().GetHeaders()) == 0 {
		t.Error("raw headers: want header_map only")
	}
	var tags []string
	for _, h := range raw.GetHeaderMap().GetHeaders() {
		if h.GetValue() != "" {
			t.Errorf("raw headers: %s has value set", h.GetKey())
		}
		if h.GetKey() == "x-tag" {
			tags = append(tags, string(h.GetRawValue()))
		}
	}
	if len(tags) != 2 || string(raw.GetRawBody()) != "this is " || raw.GetSize() != 25 {
		t.Errorf("raw headers: x-tag %q raw_body %q size %d", tags, raw.GetRawBody(), raw.GetSize())
	}

	a92 := reqs["A92"].GetAttributes()
	h := a92.GetRequest().GetHttp()
	if h.GetMethod() != "POST" || h.GetSize() != -1 || h.GetProtocol() != "HTTP/2" || h.GetHeaders() != nil ||
		h.GetId() != "" || h.GetHost() != "" || h.GetScheme() != "" || a92.GetMetadataContext() != nil {
		t.Errorf("A92 shape: %v", a92)
	}
	if a92.GetSource().GetPrincipal() != "spiffe://cluster.local/ns/shop/sa/web" || h.GetPath() != "/shop.v1.Orders/Get" {
		t.Errorf("A92 principal %q path %q", a92.GetSource().GetPrincipal(), h.GetPath())
	}

	network := reqs["network"].GetAttributes()
	if network.GetRequest() != nil || network.GetSource().GetPrincipal() == "" {
		t.Errorf("network: %v", network)
	}
}

// TestSynthesisedFresh checks that callers get independent messages.
func TestSynthesisedFresh(t *testing.T) {
	a := samples.RawHeadersRequest()
	a.Attributes.Request.Http.HeaderMap.Headers[0].RawValue[0] = 'X'
	if b := samples.RawHeadersRequest(); proto.Equal(a, b) {
		t.Error("RawHeadersRequest returns shared state")
	}
}
