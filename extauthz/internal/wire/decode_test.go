package wire

import (
	"math/rand/v2"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func sampleRequests() []*authv3.CheckRequest {
	md, _ := structpb.NewStruct(map[string]any{"payload": map[string]any{"sub": "alice", "n": 1.0}})
	full := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source: &authv3.AttributeContext_Peer{
			Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
				Address: "10.0.0.1", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 40000}}}},
			Principal: "spiffe://cluster.local/ns/a/sa/b", Service: "svc", Labels: map[string]string{"app": "x"}, Certificate: "pem",
		},
		Destination: &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_Pipe{Pipe: &corev3.Pipe{Path: "/sock", Mode: 0o600}}}},
		Request: &authv3.AttributeContext_Request{
			Time: &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 123},
			Http: &authv3.AttributeContext_HttpRequest{
				Id: "17", Method: "POST", Path: "/a?b=c", Host: "h", Scheme: "https", Protocol: "HTTP/2", Size: -1,
				Headers: map[string]string{":path": "/a?b=c", "authorization": "Bearer x", "": "empty key", "e": ""},
				Body:    `{"a":1}`, RawBody: []byte{0, 1, 2},
				HeaderMap: &corev3.HeaderMap{Headers: []*corev3.HeaderValue{{Key: "k", RawValue: []byte("v")}}},
			},
		},
		ContextExtensions:    map[string]string{"kind": "document"},
		MetadataContext:      &corev3.Metadata{FilterMetadata: map[string]*structpb.Struct{"envoy.filters.http.jwt_authn": md}},
		RouteMetadataContext: &corev3.Metadata{},
		TlsSession:           &authv3.AttributeContext_TLSSession{Sni: "example.com"},
	}}
	return []*authv3.CheckRequest{
		{},
		{Attributes: &authv3.AttributeContext{}},
		{Attributes: &authv3.AttributeContext{Source: &authv3.AttributeContext_Peer{}, Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{}}}},
		full,
	}
}

// TestDecodeMatchesProtobuf compares the fast decoder with proto.Unmarshal.
func TestDecodeMatchesProtobuf(t *testing.T) {
	for i, want := range append(sampleRequests(), randomRequests(300)...) {
		b, err := proto.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		var got authv3.CheckRequest
		if err := DecodeCheckRequest(b, &got); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if !proto.Equal(&got, want) {
			t.Fatalf("request %d:\n got %v\nwant %v", i, &got, want)
		}
	}
}

func randomRequests(n int) []*authv3.CheckRequest {
	rng := rand.New(rand.NewPCG(3, 4))
	str := func() string {
		r := make([]rune, rng.IntN(40))
		for i := range r {
			r[i] = rune(rng.IntN(0x800))
		}
		return string(r)
	}
	var out []*authv3.CheckRequest
	for i := 0; i < n; i++ {
		h := map[string]string{}
		for j := rng.IntN(30); j > 0; j-- {
			h[str()] = str()
		}
		out = append(out, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Principal: str(), Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
				SocketAddress: &corev3.SocketAddress{Address: str(), PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: rng.Uint32()}}}}},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: str(), Path: str(), Host: str(), Headers: h, Body: str(), Size: rng.Int64N(1<<40) - 1<<39,
			}},
			ContextExtensions: map[string]string{str(): str()},
		}})
	}
	return out
}

// FuzzDecode feeds arbitrary bytes: the fast decoder must agree with proto.Unmarshal,
// succeeding exactly when it does, with an equal message.
func FuzzDecode(f *testing.F) {
	for _, r := range sampleRequests() {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want, got authv3.CheckRequest
		wantErr := proto.Unmarshal(b, &want)
		gotErr := DecodeCheckRequest(append([]byte(nil), b...), &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("protobuf error %v, fast decoder error %v", wantErr, gotErr)
		}
		if wantErr == nil && !proto.Equal(&got, &want) {
			t.Fatalf("got %v, want %v", &got, &want)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	raw, _ := proto.Marshal(sampleRequests()[3])
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m authv3.CheckRequest
			if err := DecodeCheckRequest(append([]byte(nil), raw...), &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protobuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m authv3.CheckRequest
			if err := proto.Unmarshal(raw, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
