// Package extauthztest builds CheckRequests for tests, the way httptest.NewRequest builds
// HTTP requests: NewCheckRequest("GET", "/api/documents/7", "authorization", "Bearer x").
package extauthztest

import (
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// NewCheckRequest returns a CheckRequest as Envoy's HTTP ext_authz filter sends it:
// pseudo-headers included, header names lower-cased, host "docs.example.com".
// headers are name/value pairs.
func NewCheckRequest(method, path string, headers ...string) *authv3.CheckRequest {
	h := map[string]string{
		":method":    method,
		":path":      path,
		":authority": "docs.example.com",
		":scheme":    "http",
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h[strings.ToLower(headers[i])] = headers[i+1]
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: address("10.0.0.7", 40000)},
		Destination: &authv3.AttributeContext_Peer{Address: address("10.0.0.9", 8080)},
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Id:       "17",
			Method:   method,
			Path:     path,
			Host:     "docs.example.com",
			Scheme:   "http",
			Protocol: "HTTP/1.1",
			Headers:  h,
		}},
	}}
}

// WithPeer sets the mTLS peer identity (source.principal), e.g. a SPIFFE ID.
func WithPeer(req *authv3.CheckRequest, principal string) *authv3.CheckRequest {
	req.Attributes.Source.Principal = principal
	return req
}

// WithBody sets a JSON body and its content type.
func WithBody(req *authv3.CheckRequest, body string) *authv3.CheckRequest {
	h := req.Attributes.Request.Http
	h.Body = body
	h.Headers["content-type"] = "application/json"
	return req
}

// WithContextExtensions sets Envoy's per-route context extensions.
func WithContextExtensions(req *authv3.CheckRequest, kv ...string) *authv3.CheckRequest {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	req.Attributes.ContextExtensions = m
	return req
}

// RawHeaders moves the headers into header_map with raw values, as Envoy sends them with
// encode_raw_headers: true (and gRPC data planes per gRFC A92).
func RawHeaders(req *authv3.CheckRequest) *authv3.CheckRequest {
	h := req.Attributes.Request.Http
	hm := &corev3.HeaderMap{}
	for k, v := range h.Headers {
		hm.Headers = append(hm.Headers, &corev3.HeaderValue{Key: k, RawValue: []byte(v)})
	}
	h.Headers, h.HeaderMap = nil, hm
	return req
}

// NetworkRequest is a CheckRequest from Envoy's network (TCP) filter: peers only.
func NetworkRequest() *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: address("10.0.0.7", 40000)},
		Destination: &authv3.AttributeContext_Peer{Address: address("10.0.0.9", 5432)},
	}}
}

func address(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       ip,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
