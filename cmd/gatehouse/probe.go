package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse/gatehouse/extauthz"
)

func newProbeCommand() *cobra.Command {
	var addr, host, peer, body string
	var headers, context []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "probe METHOD PATH",
		Short: "Ask a running gatehouse what Envoy would be told for a request (sends a Check)",
		Example: `  gatehouse probe GET /api/documents/7
  gatehouse probe PUT /api/users/alice/documents/3 -H "authorization: Bearer $(cat envoy/demo/tokens/alice.jwt)"
  gatehouse probe GET /internal/reports/q3 --peer spiffe://cluster.local/ns/reports/sa/reporter`,
		Args: usageArgs(cobra.ExactArgs(2)),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := probeRequest(args[0], args[1], host, peer, body, headers, context)
			if err != nil {
				return usageError{err}
			}
			conn, err := grpc.NewClient(dialTarget(addr), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := contextWithTimeout(cmd.Context(), timeout)
			defer cancel()
			resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, req)
			if err != nil {
				return fmt.Errorf("check failed (Envoy would apply failure_mode_allow / status_on_error): %w", err)
			}
			printCheckResponse(cmd.OutOrStdout(), resp)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", extauthz.DefaultGRPCAddress, "gatehouse gRPC address (host:port or unix:/path)")
	f.StringVar(&host, "host", "docs.example.com", "the request's :authority")
	f.StringArrayVarP(&headers, "header", "H", nil, `request header "name: value" (repeatable)`)
	f.StringVar(&peer, "peer", "", "mTLS peer identity (source.principal), e.g. a SPIFFE ID")
	f.StringVar(&body, "body", "", "request body (sent as application/json)")
	f.StringArrayVar(&context, "context", nil, "Envoy context extension key=value (repeatable)")
	f.DurationVar(&timeout, "timeout", 5*time.Second, "deadline of the Check call")
	return cmd
}

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if ctx == nil {
		ctx = context.Background()
	}
	return context.WithTimeout(ctx, d)
}

// probeRequest builds a CheckRequest as Envoy's HTTP filter would send it.
func probeRequest(method, path, host, peer, body string, headers, context []string) (*authv3.CheckRequest, error) {
	h := map[string]string{":method": strings.ToUpper(method), ":path": path, ":authority": host, ":scheme": "http"}
	for _, kv := range headers {
		name, value, ok := strings.Cut(kv, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("header %q: want \"name: value\"", kv)
		}
		h[strings.ToLower(strings.TrimSpace(name))] = strings.TrimSpace(value)
	}
	if body != "" {
		h["content-type"] = "application/json"
	}
	ext := map[string]string{}
	for _, kv := range context {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, errors.New("--context wants key=value")
		}
		ext[k] = v
	}
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:            &authv3.AttributeContext_Peer{Principal: peer},
		ContextExtensions: ext,
		Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
			Method: strings.ToUpper(method), Path: path, Host: host, Scheme: "http",
			Protocol: "HTTP/1.1", Headers: h, Body: body,
		}},
	}}, nil
}

func printCheckResponse(w io.Writer, resp *authv3.CheckResponse) {
	md := resp.GetDynamicMetadata().GetFields()
	if ok := resp.GetOkResponse(); ok != nil && resp.GetStatus().GetCode() == 0 {
		fmt.Fprintf(w, "ALLOW  decision %s  policy %s\n", md["decision_id"].GetStringValue(),
			md["matched_policy"].GetStringValue())
		printHeaders(w, "  set    ", ok.GetHeaders())
		for _, name := range ok.GetHeadersToRemove() {
			fmt.Fprintf(w, "  remove %s\n", name)
		}
		return
	}
	d := resp.GetDeniedResponse()
	fmt.Fprintf(w, "DENY %d  decision %s  reason %s  policy %s\n", d.GetStatus().GetCode(),
		md["decision_id"].GetStringValue(), md["reason"].GetStringValue(), md["matched_policy"].GetStringValue())
	printHeaders(w, "  header ", d.GetHeaders())
	fmt.Fprintf(w, "  body   %s\n", d.GetBody())
}

func printHeaders(w io.Writer, prefix string, hs []*corev3.HeaderValueOption) {
	sorted := append([]*corev3.HeaderValueOption(nil), hs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].GetHeader().GetKey() < sorted[j].GetHeader().GetKey() })
	for _, h := range sorted {
		fmt.Fprintf(w, "%s%s: %s\n", prefix, h.GetHeader().GetKey(), h.GetHeader().GetValue())
	}
}
