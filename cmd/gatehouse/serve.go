package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/extauthz"
)

// demoConfig is served when no --config is given (from the repository root).
const demoConfig = "envoy/demo/gatehouse.yaml"

func newServeCommand() *cobra.Command {
	var configPath, logLevel, logFormat, grpcAddr, httpAddr string
	cmd := &cobra.Command{
		Use:   "serve [--config FILE]",
		Short: "Serve Envoy's ext_authz Check API (gRPC) with health endpoints",
		Long: `serve runs the ext_authz gRPC service and the HTTP health listener described by the
configuration file (see extauthz/CONFIG.md). Without --config it serves the demo
configuration envoy/demo/gatehouse.yaml on 127.0.0.1. SIGTERM or SIGINT drains in-flight
checks and stops.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd.ErrOrStderr(), logLevel, logFormat)
			if err != nil {
				return err
			}
			if configPath == "" {
				if _, err := os.Stat(demoConfig); err != nil {
					return usageError{fmt.Errorf("no --config given and the demo configuration %s is not here (run from the repository root)", demoConfig)}
				}
				configPath = demoConfig
				log.Info("no --config: serving the demo configuration", "config", demoConfig)
			}
			cfg, err := extauthz.LoadConfig(configPath)
			if err != nil {
				return configError{err}
			}
			// The flags move the listeners of a configuration written for another host,
			// such as the demo's 127.0.0.1 inside a container.
			if grpcAddr != "" {
				cfg.Server.GRPC.Address = grpcAddr
			}
			if httpAddr != "" {
				cfg.Server.HTTP.Address, cfg.Server.HTTP.Disabled = httpAddr, false
			}
			svc, err := extauthz.New(cmd.Context(), cfg, log)
			if err != nil {
				return configError{err}
			}
			return svc.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "configuration file (default: the demo, "+demoConfig+")")
	cmd.Flags().StringVar(&grpcAddr, "grpc-address", "", "override server.grpc.address (host:port or unix:/path)")
	cmd.Flags().StringVar(&httpAddr, "http-address", "", "override server.http.address (host:port)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

// configError is a configuration that does not load; its message lists every problem.
type configError struct{ err error }

func (e configError) Error() string { return e.err.Error() }
func (e configError) Unwrap() error { return e.err }

func newLogger(w interface{ Write([]byte) (int, error) }, level, format string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level: %w", err)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{errors.New("--log-format: want text or json")}
}
