package wire

import (
	"fmt"
	"math/rand/v2"
	"testing"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func header(k, v string, action corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	return &corev3.HeaderValueOption{Header: &corev3.HeaderValue{Key: k, Value: v}, AppendAction: action}
}

func examples() []*authv3.CheckResponse {
	md, _ := structpb.NewStruct(map[string]any{"decision_id": "abc", "principal_id": "", "allowed": false, "n": 3.5, "none": nil})
	return []*authv3.CheckResponse{
		{},
		{Status: &rpcstatus.Status{}},
		{Status: &rpcstatus.Status{Code: 0}, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{
				header("x-gatehouse-principal", "alice", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD),
				header("x-empty", "", corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD),
				{Header: &corev3.HeaderValue{Key: "x-raw", RawValue: []byte{0, 1, 255}}, KeepEmptyValue: true},
				{},
			},
			HeadersToRemove: []string{"x-gatehouse-email", "", "x-envoy-auth-failure-mode-allowed"},
		}}, DynamicMetadata: md},
		{Status: &rpcstatus.Status{Code: 7, Message: "policy_denied"}, HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
			Status:  &typev3.HttpStatus{Code: typev3.StatusCode_Forbidden},
			Headers: []*corev3.HeaderValueOption{header("content-type", "application/json", corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)},
			Body:    `{"decision_id":"abc","reason":"policy_denied","status":403}`,
		}}, DynamicMetadata: &structpb.Struct{}},
		{Status: &rpcstatus.Status{Code: -1}, HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Status: &typev3.HttpStatus{}}}},
	}
}

// TestEncodeMatchesProtobuf decodes what Encode writes with the real protobuf decoder and
// requires the same message back.
func TestEncodeMatchesProtobuf(t *testing.T) {
	for i, r := range append(examples(), randomResponses(500)...) {
		if !Supported(r) {
			t.Fatalf("example %d is not supported", i)
		}
		b := Append(nil, r)
		if len(b) != Size(r) {
			t.Fatalf("example %d: Size %d, wrote %d", i, Size(r), len(b))
		}
		if want := proto.Size(r); len(b) != want {
			t.Errorf("example %d: %d bytes, protobuf writes %d", i, len(b), want)
		}
		var got authv3.CheckResponse
		if err := proto.Unmarshal(b, &got); err != nil {
			t.Fatalf("example %d: %v", i, err)
		}
		if !proto.Equal(&got, r) {
			t.Fatalf("example %d:\n got %v\nwant %v", i, &got, r)
		}
	}
}

func TestUnsupportedShapes(t *testing.T) {
	list, _ := structpb.NewList([]any{1})
	any, _ := anypb.New(&rpcstatus.Status{})
	for i, r := range []*authv3.CheckResponse{
		nil,
		{Status: &rpcstatus.Status{Details: []*anypb.Any{any}}},
		{HttpResponse: &authv3.CheckResponse_ErrorResponse{ErrorResponse: &authv3.DeniedHttpResponse{}}},
		{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{QueryParametersToRemove: []string{"a"}}}},
		{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{{Append: wrapperspb.Bool(true)}}}}},
		{DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{"l": structpb.NewListValue(list)}}},
		{DynamicMetadata: &structpb.Struct{Fields: map[string]*structpb.Value{"s": structpb.NewStringValue("\xff")}}},
		{HttpResponse: &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{Body: "\xfe"}}},
		{HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: []*corev3.HeaderValueOption{header("x", "\xff", 0)}}}},
	} {
		if Supported(r) {
			t.Errorf("case %d: supported", i)
		}
	}
}

func randomResponses(n int) []*authv3.CheckResponse {
	rng := rand.New(rand.NewPCG(1, 2))
	str := func() string {
		r := make([]rune, rng.IntN(100))
		for i := range r {
			r[i] = rune(rng.IntN(0x3000)) // ASCII and multi-byte runes alike
		}
		return string(r)
	}
	var out []*authv3.CheckResponse
	for i := 0; i < n; i++ {
		r := &authv3.CheckResponse{Status: &rpcstatus.Status{Code: rng.Int32N(20) - 2, Message: str()}}
		var hs []*corev3.HeaderValueOption
		for j := rng.IntN(12); j > 0; j-- {
			hs = append(hs, header(str(), str(), corev3.HeaderValueOption_HeaderAppendAction(rng.IntN(4))))
		}
		if rng.IntN(2) == 0 {
			r.HttpResponse = &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{Headers: hs, HeadersToRemove: []string{str(), str()}}}
		} else {
			r.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: &authv3.DeniedHttpResponse{
				Status: &typev3.HttpStatus{Code: typev3.StatusCode(rng.IntN(600))}, Headers: hs, Body: str()}}
		}
		fields := map[string]*structpb.Value{}
		for j := rng.IntN(8); j > 0; j-- {
			var v *structpb.Value
			switch rng.IntN(4) {
			case 0:
				v = structpb.NewStringValue(str())
			case 1:
				v = structpb.NewBoolValue(rng.IntN(2) == 0)
			case 2:
				v = structpb.NewNumberValue(rng.NormFloat64() * 1e6)
			default:
				v = structpb.NewNullValue()
			}
			fields[fmt.Sprint(str(), j)] = v
		}
		r.DynamicMetadata = &structpb.Struct{Fields: fields}
		out = append(out, r)
	}
	return out
}

func BenchmarkEncode(b *testing.B) {
	r := examples()[2]
	b.Run("wire", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = Append(make([]byte, 0, Size(r)), r)
		}
	})
	b.Run("protobuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := proto.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
