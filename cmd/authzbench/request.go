package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Benchmark requests (--request). Both are allowed by the demo configuration.
const (
	// requestAlice is alice updating her own draft: JWT verification, the
	// user-document route, and a policy decision through a derived role.
	requestAlice = "alice"
	// requestAnonymous is an anonymous read of a published document: no credential,
	// the anonymous identity source and a condition on a resource attribute.
	requestAnonymous = "anonymous"
)

// newCheckRequest returns the fixed CheckRequest of the benchmark, shaped as Envoy's HTTP
// ext_authz filter sends it: pseudo-headers included, names lower-cased, 16 headers, a
// plaintext downstream (source.principal empty). token is the bearer token of alice.
func newCheckRequest(kind, token string) (*authv3.CheckRequest, error) {
	method, path := "PUT", "/api/users/alice/documents/3"
	headers := map[string]string{
		"authorization":  "Bearer " + token,
		"content-type":   "application/json",
		"content-length": "58",
	}
	switch kind {
	case requestAlice:
		if token == "" {
			return nil, fmt.Errorf("--request %s needs a token", kind)
		}
	case requestAnonymous:
		method, path = "GET", "/api/documents/7"
		headers = map[string]string{"if-none-match": `W/"4f-1b2c"`, "cache-control": "max-age=0", "dnt": "1"}
	default:
		return nil, fmt.Errorf("--request %q: want %s or %s", kind, requestAlice, requestAnonymous)
	}
	const host = "docs.example.com"
	for k, v := range map[string]string{
		":method":           method,
		":path":             path,
		":authority":        host,
		":scheme":           "https",
		"user-agent":        "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"accept":            "application/json, text/plain, */*",
		"accept-encoding":   "gzip, deflate, br",
		"accept-language":   "en-US,en;q=0.5",
		"x-forwarded-for":   "203.0.113.42",
		"x-forwarded-proto": "https",
		"x-request-id":      "4d8a5f0e-7c1b-4e8f-9a2d-3b6c1e0f5a97",
		"traceparent":       "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"cookie":            "theme=dark; lang=en",
	} {
		headers[k] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      &authv3.AttributeContext_Peer{Address: socketAddress("203.0.113.42", 51234)},
		Destination: &authv3.AttributeContext_Peer{Address: socketAddress("10.0.0.9", 8443)},
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)),
			Http: &authv3.AttributeContext_HttpRequest{
				Id:       "13817440722427212341",
				Method:   method,
				Path:     path,
				Host:     host,
				Scheme:   "https",
				Protocol: "HTTP/2",
				Headers:  headers,
			},
		},
	}}, nil
}

// readToken reads a JWT from a file such as envoy/demo/tokens/alice.jwt.
func readToken(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	token := strings.TrimSpace(string(data))
	if strings.Count(token, ".") != 2 {
		return "", fmt.Errorf("%s: not a JWT", path)
	}
	return token, nil
}

func socketAddress(ip string, port uint32) *corev3.Address {
	return &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
		Address:       ip,
		PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
	}}}
}
