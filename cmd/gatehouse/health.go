package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/gatehouse/gatehouse/extauthz"
)

// newHealthCommand asks a running gatehouse's grpc.health.v1 service whether it serves:
// a health check for images without a shell (docker-compose healthcheck, scripts).
func newHealthCommand() *cobra.Command {
	var addr, service string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Exit 0 if a running gatehouse reports SERVING (grpc.health.v1), 1 otherwise",
		Example: `  gatehouse health
  gatehouse health --addr gatehouse:9191`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			conn, err := grpc.NewClient(dialTarget(addr), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return usageError{err}
			}
			defer conn.Close()
			ctx, cancel := contextWithTimeout(cmd.Context(), timeout)
			defer cancel()
			resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
			if err != nil {
				return failedError{fmt.Sprintf("health check of %s: %v", addr, err)}
			}
			status := resp.GetStatus()
			fmt.Fprintln(cmd.OutOrStdout(), status)
			if status != healthpb.HealthCheckResponse_SERVING {
				return failedError{fmt.Sprintf("%s is %s", addr, status)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", extauthz.DefaultGRPCAddress, "gatehouse gRPC address (host:port or unix:/path)")
	f.StringVar(&service, "service", "", `service name to ask about ("" is the whole server)`)
	f.DurationVar(&timeout, "timeout", 3*time.Second, "deadline of the health check")
	return cmd
}

// dialTarget turns an address as gatehouse's configuration writes it into a gRPC target.
func dialTarget(addr string) string {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		return "unix:" + strings.TrimPrefix(path, "//")
	}
	return addr
}
