// Package envoytest runs a real Envoy binary in Go tests, configured with the
// ext_authz HTTP filter in front of a test upstream, so that an ext_authz gRPC
// server can be exercised end to end.
//
// Start renders a static bootstrap from Config (built as go-control-plane
// protos, checked with ValidateAll, written with protojson), launches
// `envoy -c FILE --disable-hot-restart --use-dynamic-base-id`, waits until the
// admin endpoint /ready answers LIVE (and /server_info shows this run's node
// id, so a stray Envoy on the same port is not mistaken for ours) and
// registers a cleanup that stops the process (SIGTERM, then SIGKILL).
// Everything listens on 127.0.0.1 only, with SO_REUSEPORT off so that port
// clashes fail instead of sharing. Envoy's log is captured and printed when
// the test fails.
//
// The bootstrap has one listener (HTTP/1.1 and prior-knowledge HTTP/2), one
// virtual host matching every domain, the filters ext_authz and router, a
// cluster "ext_authz" (HTTP/2, TCP or Unix socket) and a cluster "upstream".
// An access log in JSON lines records status, path, response details and the
// dynamic metadata of the ext_authz filter (see AccessLogEntry).
//
// The Envoy binary is located by FindEnvoy: $GATEHOUSE_TOOLS/envoy, then
// .tools/bin/envoy in the module root, then PATH. When it is missing, Start
// skips the test, or fails it when CI=true.
package envoytest
