package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// readyTimeout bounds the wait for a server to report SERVING (gatehouse compiles its
// policies first).
const readyTimeout = 60 * time.Second

// waitServing polls grpc.health.v1 for the Authorization service at addr until it is
// SERVING, p exits, ctx ends or readyTimeout passes.
func waitServing(ctx context.Context, p *proc, addr string) error {
	conn, err := dial(addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	hc := healthpb.NewHealthClient(conn)
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for {
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		resp, err := hc.Check(cctx, &healthpb.HealthCheckRequest{Service: authzService})
		ccancel()
		switch {
		case err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING:
			return nil
		case err == nil:
			last = resp.GetStatus().String()
		default:
			last = err.Error()
		}
		select {
		case <-p.done:
			return p.exitError()
		case <-ctx.Done():
			return fmt.Errorf("%s at %s not SERVING (%v): last health answer: %s\n%s", p.name, addr, ctx.Err(), last, indent(p.out.String()))
		case <-tick.C:
		}
	}
}

// dial opens a plaintext client connection to a loopback address.
func dial(addr string) (*grpc.ClientConn, error) {
	return grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
}
