# syntax=docker/dockerfile:1
#
# gatehouse as a small image: a static binary (no cgo) on distroless, run as the
# unprivileged user nonroot (65532). The image has no shell; the binary is its own health
# check (`gatehouse health`). Build from the repository root:
#
#   docker build -t gatehouse .
#
# envoy/compose/docker-compose.yaml builds it this way and mounts the demo configuration
# at /etc/gatehouse, which is what the default command serves.

FROM golang:1.26-bookworm AS build
WORKDIR /src
# Dependencies first, so that changing the code does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/gatehouse ./cmd/gatehouse

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
USER 65532:65532
# 9191: ext_authz and grpc.health.v1 (gRPC); 9192: /healthz and /readyz (HTTP).
EXPOSE 9191 9192
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve", "--config", "/etc/gatehouse/gatehouse.yaml", "--grpc-address", "0.0.0.0:9191", "--http-address", "0.0.0.0:9192"]
