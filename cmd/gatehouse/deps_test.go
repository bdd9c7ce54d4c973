package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// protoDeps lists the go-control-plane and xds packages pkg depends on: generated proto
// code, whose init registers descriptors in every process that links it.
func protoDeps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var deps []string
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/envoyproxy/go-control-plane/") || strings.HasPrefix(dep, "github.com/cncf/xds/go/") {
			deps = append(deps, dep)
		}
	}
	return deps
}

// The gatehouse binary links the protos of the ext_authz API it serves and no others:
// lint-envoy reads Envoy's bootstrap and extension types from embedded descriptors, and
// linking their generated code would add some 18 MB to the binary and 8-10 MiB to the
// memory of every gatehouse serve.
func TestGatehouseLinksOnlyTheAuthorizationProtos(t *testing.T) {
	got := protoDeps(t, ".")
	want := protoDeps(t, "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3")
	for _, dep := range got {
		if !slices.Contains(want, dep) {
			t.Errorf("gatehouse depends on %s, which envoy/service/auth/v3 does not need", dep)
		}
	}
	for _, dep := range want {
		if !slices.Contains(got, dep) {
			t.Errorf("gatehouse does not depend on %s: does it still serve envoy/service/auth/v3?", dep)
		}
	}
}

// The binary serves /metrics with extauthz/internal/promtext, not a Prometheus client
// library: client_golang's init registers collectors and, with its dependencies, adds about
// 1 MiB to the memory of every gatehouse serve. Tests may use it as an oracle.
func TestGatehouseLinksNoPrometheusClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "github.com/prometheus/") || strings.HasPrefix(dep, "go.opentelemetry.io/otel/exporters/prometheus") {
			t.Errorf("gatehouse depends on %s", dep)
		}
	}
}
