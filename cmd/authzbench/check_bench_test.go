package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"

	"github.com/gatehouse/gatehouse/extauthz"
)

// BenchmarkCheckGRPC and BenchmarkNoopGRPC run authzbench's request through loopback gRPC
// with gatehouse or the no-op server in the test process, client included:
//
//	go test -run '^$' -bench GRPC -cpu 1 -cpuprofile cpu.out ./cmd/authzbench
//
// With -cpu 1, ns/op is the CPU of client and server together. gatehouse's own work
// without gRPC is extauthz's BenchmarkCheck.

// startInProcess serves the demo configuration on 127.0.0.1:0 inside the test process.
func startInProcess(b *testing.B) (*extauthz.Service, *authv3.CheckRequest) {
	b.Helper()
	root, err := repoRoot()
	if err != nil {
		b.Fatal(err)
	}
	cfgPath := filepath.Join(b.TempDir(), "gatehouse.yaml")
	if err := writeConfig(filepath.Join(root, demoConfig), cfgPath, "127.0.0.1:0", "127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	cfg, err := extauthz.LoadConfig(cfgPath)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := extauthz.New(ctx, cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	for deadline := time.Now().Add(readyTimeout); !svc.Server().Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("policies not loaded")
		}
	}
	token, err := readToken(filepath.Join(root, demoToken))
	if err != nil {
		b.Fatal(err)
	}
	req, err := newCheckRequest(requestAlice, token)
	if err != nil {
		b.Fatal(err)
	}
	return svc, req
}

func BenchmarkCheckGRPC(b *testing.B) {
	svc, req := startInProcess(b)
	benchmarkGRPC(b, svc.GRPCAddr().String(), req)
}

func BenchmarkNoopGRPC(b *testing.B) {
	_, req := startInProcess(b) // the same request; gatehouse stays idle
	lis, err := listenLoopback("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveNoop(ctx, lis) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	benchmarkGRPC(b, lis.Addr().String(), req)
}

// benchmarkGRPC sends req to addr over one loopback connection from 32×GOMAXPROCS clients.
func benchmarkGRPC(b *testing.B, addr string, req *authv3.CheckRequest) {
	conn, err := dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	client := authv3.NewAuthorizationClient(conn)
	b.ReportAllocs()
	b.SetParallelism(32) // 64 clients on 2 CPUs, as authzbench run's top level
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Check(context.Background(), req)
			if err == nil {
				err = allowed(resp)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
