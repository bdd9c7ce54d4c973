package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/extauthz"
)

// TestServeAndProbe serves the demo configuration and probes it like a user would.
func TestServeAndProbe(t *testing.T) {
	cfg, err := extauthz.LoadConfig("../../envoy/demo/gatehouse.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.GRPC.Address, cfg.Server.HTTP.Address = "127.0.0.1:0", "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := extauthz.New(ctx, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	defer func() { cancel(); <-done }()
	tok, _ := os.ReadFile("../../envoy/demo/tokens/bob.jwt")
	addr := svc.GRPCAddr().String()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"probe", "--addr", addr, "GET", "/api/documents/7"}, "ALLOW"},
		{[]string{"probe", "--addr", addr, "DELETE", "/api/users/bob/documents/1", "-H", "authorization: Bearer " + strings.TrimSpace(string(tok))}, "x-gatehouse-principal: bob"},
		{[]string{"probe", "--addr", addr, "DELETE", "/api/users/alice/documents/1", "-H", "authorization: Bearer " + strings.TrimSpace(string(tok))}, "DENY 403"},
	} {
		var code int
		var stdout, stderr string
		for i := 0; i < 50; i++ { // the service becomes ready once its policies are loaded
			code, stdout, stderr = runCLI(t, "", tc.args...)
			if code == exitOK {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if code != exitOK || !strings.Contains(stdout, tc.want) {
			t.Errorf("%v: exit %d\n%s%s", tc.args[3:5], code, stdout, stderr)
		}
	}
	if code, _, _ := runCLI(t, "", "probe", "--addr", addr, "GET"); code != exitUsage {
		t.Errorf("probe without a path: exit %d", code)
	}
}
