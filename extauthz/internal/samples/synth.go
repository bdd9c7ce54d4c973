package samples

// The requests below are written by us, not captured from a deployment. They
// cover shapes that no public capture in shared/envoy-samples shows.

import (
	"fmt"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// JWTAuthnNamespace is the dynamic metadata namespace of Envoy's jwt_authn
// filter, which ext_authz forwards when it is listed in
// metadata_context_namespaces.
const JWTAuthnNamespace = "envoy.filters.http.jwt_authn"

// synthTime is the request time of every synthesised request.
var synthTime = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

// JWTAuthnRequest (ours) is a GET /orders/42 as Envoy sends it when jwt_authn
// ran before ext_authz with payload_in_metadata set to payloadKey and ext_authz
// lists JWTAuthnNamespace in metadata_context_namespaces: the verified claims
// are at metadata_context.filter_metadata[JWTAuthnNamespace][payloadKey], and
// the Authorization header is gone (jwt_authn's forward defaults to false,
// which strips the token after verifying it). claims must be convertible by
// structpb.NewStruct; a nil map gives a fixed example payload.
func JWTAuthnRequest(payloadKey string, claims map[string]any) (*authv3.CheckRequest, error) {
	if payloadKey == "" {
		return nil, fmt.Errorf("samples: JWTAuthnRequest: empty payload key")
	}
	if claims == nil {
		claims = map[string]any{
			"iss": "https://issuer.example", "sub": "alice", "aud": []any{"orders"},
			"exp": float64(synthTime.Add(time.Hour).Unix()), "iat": float64(synthTime.Unix()),
			"roles": []any{"customer"},
		}
	}
	payload, err := structpb.NewStruct(map[string]any{payloadKey: claims})
	if err != nil {
		return nil, fmt.Errorf("samples: JWTAuthnRequest: %w", err)
	}
	req := httpRequest("GET", "/orders/42", "orders.example", map[string]string{"accept": "application/json"})
	req.Attributes.MetadataContext = &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{
		JWTAuthnNamespace: payload,
	}}
	return req, nil
}

// RawHeadersRequest (ours) is a POST /upload with encode_raw_headers and
// with_request_body {max_request_bytes: 8, allow_partial_message,
// pack_as_bytes}, shaped like what Envoy 1.40 sent in envoytest: no headers
// map, header_map entries with raw_value only (pseudo-headers first, repeated
// headers not joined, bytes not forced to UTF-8), x-envoy-auth-partial-body:
// true, the body truncated in raw_body and size the full length.
func RawHeadersRequest() *authv3.CheckRequest {
	req := httpRequest("POST", "/upload?dry=1", "files.example", nil)
	h := req.Attributes.Request.Http
	h.Headers = nil
	h.HeaderMap = rawHeaderMap(
		":authority", "files.example",
		":path", "/upload?dry=1",
		":method", "POST",
		":scheme", "http",
		"content-type", "application/octet-stream",
		"content-length", "25",
		"x-tag", "one",
		"x-tag", "two",
		"x-latin1", "caf\xe9",
		"x-request-id", "6b1f4a52-3c2d-4e8f-9a10-2b3c4d5e6f70",
		"x-envoy-auth-partial-body", "true",
	)
	h.RawBody = []byte("this is ")
	h.Size = 25
	return req
}

// GRPCDataPlaneRequest (ours) is what a gRPC server implementing gRFC A92
// would send for a call to fullMethod ("/pkg.Service/Method") from the peer
// with SPIFFE ID principal: addresses and principals, request time, method
// POST, path, header_map (raw form, no pseudo-headers), size -1 and protocol
// HTTP/2; no id, scheme, host, headers map, body, context extensions or
// metadata. No released gRPC library sends this yet.
func GRPCDataPlaneRequest(fullMethod, principal string) *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: address("10.0.0.7", 51234), Principal: principal},
		Destination: &authv3.AttributeContext_Peer{Address: address("10.0.0.9", 8443), Principal: "spiffe://cluster.local/ns/shop/sa/orders"},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(synthTime),
			Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST",
				Path:   fullMethod,
				HeaderMap: rawHeaderMap(
					"content-type", "application/grpc",
					"te", "trailers",
					"user-agent", "grpc-go/1.85.0",
					"grpc-timeout", "1S",
					"authorization", "Bearer placeholder",
				),
				Size:     -1,
				Protocol: "HTTP/2",
			},
		},
	}}
}

// NetworkFilterRequest (ours) is what Envoy's network (TCP) ext_authz filter
// sends on a new mTLS connection: source and destination peers and an empty
// metadata_context, no request at all (the shape Envoy 1.40 sent over plain
// TCP, with the principals an mTLS connection adds).
func NetworkFilterRequest() *authv3.CheckRequest {
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:          &authv3.AttributeContext_Peer{Address: address("10.0.0.7", 40312), Principal: "spiffe://cluster.local/ns/shop/sa/web"},
		Destination:     &authv3.AttributeContext_Peer{Address: address("10.0.0.9", 5432), Principal: "spiffe://cluster.local/ns/shop/sa/db"},
		MetadataContext: &corev3.Metadata{},
	}}
}

// httpRequest is an HTTP/1.1 request with the headers map Envoy fills.
func httpRequest(method, path, host string, extra map[string]string) *authv3.CheckRequest {
	headers := map[string]string{
		":authority": host, ":method": method, ":path": path, ":scheme": "http",
		"user-agent": "curl/8.5.0", "x-forwarded-proto": "http",
		"x-request-id": "0f5e2a1c-7d43-4b9e-8c21-5a6b7c8d9e01",
	}
	for k, v := range extra {
		headers[k] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: address("10.0.0.7", 51234)},
		Destination: &authv3.AttributeContext_Peer{Address: address("10.0.0.9", 8080)},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(synthTime),
			Http: &authv3.AttributeContext_HttpRequest{
				Id:       "4235981123377216419",
				Method:   method,
				Headers:  headers,
				Path:     path,
				Host:     host,
				Scheme:   "http",
				Protocol: "HTTP/1.1",
			},
		},
		MetadataContext: &corev3.Metadata{},
	}}
}

func address(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}

// rawHeaderMap builds a header_map from key/value pairs, values in raw_value.
func rawHeaderMap(kv ...string) *corev3.HeaderMap {
	m := &corev3.HeaderMap{}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Headers = append(m.Headers, &corev3.HeaderValue{Key: kv[i], RawValue: []byte(kv[i+1])})
	}
	return m
}
