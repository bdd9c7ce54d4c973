package extauthz

import (
	_ "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	_ "golang.org/x/sync/errgroup"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/health"
)
