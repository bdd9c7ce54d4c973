package envoytest_test

import (
	"context"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// caseHeader names the request header that selects a scenario.
const caseHeader = "x-case"

// scenario is one canned answer of the authorization server.
type scenario struct {
	resp *authv3.CheckResponse
	err  error
	// delay is how long to wait before answering, whatever the call's deadline: an
	// answer sent when the deadline (Envoy's grpc-timeout) expires could still reach
	// Envoy before its own timer fires, so the test would not show what Envoy's timeout
	// does.
	delay time.Duration
}

// scenarios answers each Check with the scenario named by the x-case header,
// allowing requests without one.
type scenarios map[string]scenario

func (s scenarios) check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	sc, ok := s[req.GetAttributes().GetRequest().GetHttp().GetHeaders()[caseHeader]]
	if !ok {
		return allow(&authv3.OkHttpResponse{}), nil
	}
	if sc.delay > 0 {
		time.Sleep(sc.delay)
	}
	return sc.resp, sc.err
}

func allow(ok *authv3.OkHttpResponse) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status:       status.New(codes.OK, "").Proto(),
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: ok},
	}
}

// deny answers with a non-OK status in the response (not an RPC error).
func deny(c codes.Code, d *authv3.DeniedHttpResponse) *authv3.CheckResponse {
	r := &authv3.CheckResponse{Status: status.New(c, "").Proto()}
	if d != nil {
		r.HttpResponse = &authv3.CheckResponse_DeniedResponse{DeniedResponse: d}
	}
	return r
}

func errorResponse(c codes.Code, d *authv3.DeniedHttpResponse) *authv3.CheckResponse {
	return &authv3.CheckResponse{
		Status:       status.New(c, "").Proto(),
		HttpResponse: &authv3.CheckResponse_ErrorResponse{ErrorResponse: d},
	}
}

func httpStatus(c int) *typev3.HttpStatus { return &typev3.HttpStatus{Code: typev3.StatusCode(c)} }

// appendHeader is header with the deprecated append flag set explicitly.
func appendHeader(k, v string, appendValue bool) *corev3.HeaderValueOption {
	h := header(k, v)
	h.Append = wrapperspb.Bool(appendValue)
	return h
}

// actionHeader is header with an explicit append_action and no append flag.
func actionHeader(k, v string, a corev3.HeaderValueOption_HeaderAppendAction) *corev3.HeaderValueOption {
	h := header(k, v)
	h.AppendAction = a
	return h
}

func headers(h ...*corev3.HeaderValueOption) []*corev3.HeaderValueOption { return h }
