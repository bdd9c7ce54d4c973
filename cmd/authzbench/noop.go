package main

import (
	"context"
	"errors"
	"fmt"
	"net"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/spf13/cobra"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// authzService is the ext_authz gRPC service name, as health reports it.
const authzService = "envoy.service.auth.v3.Authorization"

// noopHeader is the one identity header the no-op server sets on every allow.
const noopHeader = "x-gatehouse-principal"

func newNoopCommand() *cobra.Command {
	var addr string
	cmd := &cobra.Command{
		Use:    "noop [--addr 127.0.0.1:0]",
		Short:  "Serve a no-op ext_authz server that allows every check (the benchmark's baseline)",
		Hidden: true,
		Args:   usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			lis, err := listenLoopback(addr)
			if err != nil {
				return err
			}
			// The first line of stdout tells the benchmark where to connect.
			fmt.Fprintf(cmd.OutOrStdout(), "listening on %s\n", lis.Addr())
			return serveNoop(cmd.Context(), lis)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:0", "loopback host:port to listen on")
	return cmd
}

// listenLoopback listens on addr, which must be a loopback IP and a port.
func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, usageError{fmt.Errorf("--addr: %w", err)}
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, usageError{fmt.Errorf("--addr %s: want a loopback IP address", addr)}
	}
	return net.Listen("tcp", addr)
}

// serveNoop serves the no-op Authorization service and gRPC health until ctx ends.
// The gRPC server has default options, like gatehouse's apart from its limits, which do
// not cost anything per call.
func serveNoop(ctx context.Context, lis net.Listener) error {
	srv := grpc.NewServer()
	authv3.RegisterAuthorizationServer(srv, noopServer{})
	hs := health.NewServer() // "" is SERVING from the start
	hs.SetServingStatus(authzService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	go func() {
		<-ctx.Done()
		srv.Stop()
	}()
	if err := srv.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

// noopServer allows every check without looking at it.
type noopServer struct {
	authv3.UnimplementedAuthorizationServer
}

// Check returns an OK CheckResponse that sets one identity header.
func (noopServer) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{
		Status: &rpcstatus.Status{},
		HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{
			Headers: []*corev3.HeaderValueOption{{
				Header: &corev3.HeaderValue{Key: noopHeader, Value: "alice"},
			}},
		}},
	}, nil
}
