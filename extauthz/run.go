package extauthz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"

	"github.com/gatehouse/gatehouse/extauthz/internal/wire"
	"github.com/gatehouse/gatehouse/mapping"
	"github.com/gatehouse/gatehouse/policies"
)

// authzService is the gRPC service name health reports on, besides "".
const authzService = "envoy.service.auth.v3.Authorization"

// Service is a running gatehouse: listeners, health and the authorization server.
type Service struct {
	cfg      *Config
	tel      *telemetry
	log      *slog.Logger
	server   *Server
	mapper   *mapping.Mapper
	grpc     *grpc.Server
	health   *health.Server
	http     *http.Server
	grpcLis  net.Listener
	httpLis  net.Listener
	draining atomic.Bool
}

// New prepares the service: it compiles the mapping configuration and opens the
// listeners, but serves nothing until Run. Policies are loaded by Run.
func New(ctx context.Context, cfg *Config, log *slog.Logger, opts ...Option) (*Service, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	tel, err := newTelemetry(ctx, cfg, log, &o)
	if err != nil {
		return nil, err
	}
	mcfg := cfg.Config
	mcfg.Observer = tel
	m, err := mapping.New(ctx, mcfg)
	if err != nil {
		tel.shutdown(context.Background())
		return nil, cfg.annotate(err)
	}
	s := &Service{cfg: cfg, tel: tel, log: log, mapper: m, server: NewServer(cfg, m, log), health: health.NewServer()}
	s.server.tel = tel
	if err := tel.observeService(s); err != nil {
		tel.shutdown(context.Background())
		m.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	s.health.SetServingStatus(authzService, healthpb.HealthCheckResponse_NOT_SERVING)

	g := cfg.Server.GRPC
	sopts := []grpc.ServerOption{
		// A fixed pool of workers serves the calls, instead of a new goroutine (and a new,
		// growing stack) per Check.
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
		// CheckResponses are encoded without protobuf reflection (see internal/wire).
		grpc.ForceServerCodecV2(wire.NewCodec()),
		grpc.MaxRecvMsgSize(g.MaxReceiveMessageBytes),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: g.KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{
			MaxConnectionAge:      *g.MaxConnectionAge,
			MaxConnectionAgeGrace: g.MaxConnectionAgeGrace,
		}),
	}
	s.grpc = grpc.NewServer(sopts...)
	// gRPC server metrics without interceptors (which cost allocations on every call): the
	// Check records its own call, health calls go through meteredHealth.
	authv3.RegisterAuthorizationServer(s.grpc, s.server)
	var hs healthpb.HealthServer = s.health
	if tel.metrics {
		hs = meteredHealth{s.health, tel}
	}
	healthpb.RegisterHealthServer(s.grpc, hs)

	if s.grpcLis, err = listen(g.Address); err != nil {
		m.Close()
		tel.shutdown(context.Background())
		return nil, fmt.Errorf("server.grpc.address: %w", err)
	}
	if !cfg.Server.HTTP.Disabled {
		if s.httpLis, err = listen(cfg.Server.HTTP.Address); err != nil {
			s.grpcLis.Close()
			m.Close()
			tel.shutdown(context.Background())
			return nil, fmt.Errorf("server.http.address: %w", err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintln(w, "ok")
		})
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
			if !s.server.Ready() || s.draining.Load() {
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ready")
		})
		if tel.metricsHandler != nil {
			mux.Handle("GET /metrics", tel.metricsHandler)
		}
		s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	}
	return s, nil
}

// listen opens "host:port" or "unix:/path".
func listen(addr string) (net.Listener, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		path = strings.TrimPrefix(path, "//")
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return net.Listen("unix", path)
	}
	return net.Listen("tcp", addr)
}

// GRPCAddr and HTTPAddr are the bound addresses (useful with port 0).
func (s *Service) GRPCAddr() net.Addr { return s.grpcLis.Addr() }

// HTTPAddr is the bound health listener address, or nil when disabled.
func (s *Service) HTTPAddr() net.Addr {
	if s.httpLis == nil {
		return nil
	}
	return s.httpLis.Addr()
}

// Server is the authorization server (for tests and embedding).
func (s *Service) Server() *Server { return s.server }

// Run serves until ctx is cancelled. It loads the policies first (health stays
// NOT_SERVING until they are), then on cancellation marks itself NOT_SERVING, drains
// in-flight checks for at most server.shutdownTimeout, and stops.
func (s *Service) Run(ctx context.Context) error {
	defer s.mapper.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.grpc.Serve(s.grpcLis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return fmt.Errorf("grpc server: %w", err)
		}
		return nil
	})
	if s.http != nil {
		g.Go(func() error {
			if err := s.http.Serve(s.httpLis); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http server: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		set, err := policies.LoadDir(s.cfg.Policies.Directory, s.cfg.engineConfig())
		s.tel.policyLoaded(err)
		if err != nil {
			return err
		}
		s.server.SetPolicies(set)
		s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
		s.health.SetServingStatus(authzService, healthpb.HealthCheckResponse_SERVING)
		s.log.Info("serving", "grpc", s.GRPCAddr().String(), "policies", set.PolicyCount(), "hash", set.Hash(), "directory", s.cfg.Policies.Directory)
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		s.shutdown()
		return nil
	})
	return g.Wait()
}

// shutdown stops serving new checks and drains in-flight ones within the bound.
func (s *Service) shutdown() {
	s.draining.Store(true)
	s.health.Shutdown() // every service NOT_SERVING, so Envoy's health checks move away
	done := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(done)
	}()
	timer := time.NewTimer(s.cfg.Server.ShutdownTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		s.log.Warn("shutdown timeout: stopping with checks in flight")
		s.grpc.Stop()
	}
	if s.http != nil {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.http.Shutdown(hctx)
	}
	// Flush the decision log and the spans of the last checks.
	tctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.tel.shutdown(tctx); err != nil {
		s.log.Warn("telemetry shutdown", "error", err)
	}
	s.log.Info("stopped")
}
