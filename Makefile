# gatehouse developer entry points. `make test` is what CI runs (via .ci/run).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c

TOOLS := $(CURDIR)/.tools
CERBOS_VERSION := 0.55.0
ENVOY_VERSION := 1.40.0

.PHONY: tools test build run demo

## tools: install the Cerbos PDP and Envoy into .tools/ (skips what is already there)
tools:
	CERBOS_VERSION=$(CERBOS_VERSION) ENVOY_VERSION=$(ENVOY_VERSION) .ci/install-tools "$(TOOLS)"

## test: go vet + go test -race for every package, with the tools on GATEHOUSE_TOOLS
test: export GATEHOUSE_TOOLS := $(TOOLS)/bin
test: export GATEHOUSE_VENV := $(TOOLS)/venv
test: tools
	go vet ./...
	go test -race -count=1 -v ./... 2>&1 | .ci/go-test-summary

## build: the gatehouse binary in bin/, static (CGO_ENABLED=0) as in the container image
build:
	CGO_ENABLED=0 go build -trimpath -o bin/gatehouse ./cmd/gatehouse

## run: serve the demo configuration (envoy/demo/gatehouse.yaml) on 127.0.0.1:9191 (gRPC) and :9192 (health)
run:
	go run ./cmd/gatehouse serve

## demo: the demo stack on 127.0.0.1 (Envoy :8080 -> gatehouse -> Flask app); Ctrl-C stops it
demo:
	envoy/local/run
