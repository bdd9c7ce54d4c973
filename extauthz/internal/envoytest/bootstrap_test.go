package envoytest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fullConfig sets every option Config has.
func fullConfig() Config {
	return Config{
		AuthzTarget: "unix:/var/run/gatehouse/authz.sock",
		Upstream:    "127.0.0.1:8080",
		StatPrefix:  "edge",
		ExtAuthz: ExtAuthz{
			Timeout:                    500 * time.Millisecond,
			FailureModeAllow:           true,
			FailureModeAllowHeaderAdd:  true,
			StatusOnError:              502,
			WithRequestBody:            &BodySettings{MaxRequestBytes: 1024, AllowPartialMessage: true, PackAsBytes: true},
			MetadataContextNamespaces:  []string{"envoy.filters.http.jwt_authn"},
			FilterStatPrefix:           "gatehouse",
			EncodeRawHeaders:           true,
			ValidateMutations:          true,
			ClearRouteCache:            true,
			InitialMetadata:            map[string]string{"x-shared-secret": "s", "x-envoy": "test"},
			MaxDeniedResponseBodyBytes: 100,
		},
		VirtualHostContextExtensions: map[string]string{"vhost": "local"},
		Routes: []Route{
			{Path: "/healthz", DisableExtAuthz: true},
			{Prefix: "/orders/", ContextExtensions: map[string]string{"kind": "order"}},
			{Prefix: "/"},
		},
		Paths: PathNormalization{NormalizePath: true, MergeSlashes: true, EscapedSlashes: "REJECT_REQUEST"},
	}.withDefaults()
}

// TestBootstrapAcceptedByEnvoy renders a configuration using every option and
// has the real Envoy validate it (--mode validate).
func TestBootstrapAcceptedByEnvoy(t *testing.T) {
	bin := RequireEnvoy(t)
	out, err := renderBootstrap(fullConfig(), ports{listener: 10000, admin: 10001}, "test", "/dev/null")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bootstrap.yaml")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--mode", "validate", "-c", path, "--disable-hot-restart", "--log-level", "warn")
	msg, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(msg), "OK") {
		t.Errorf("envoy --mode validate: %v\n%s\n%s", err, msg, out)
	}
}

func TestBootstrapErrors(t *testing.T) {
	good := fullConfig()
	p := ports{listener: 10000, admin: 10001}
	if _, err := renderBootstrap(good, p, "test", "/dev/null"); err != nil {
		t.Fatalf("full config: %v", err)
	}
	cases := map[string]func(c *Config){
		"no target":         func(c *Config) { c.AuthzTarget = "" },
		"target not an IP":  func(c *Config) { c.AuthzTarget = "localhost:9000" },
		"bad upstream port": func(c *Config) { c.Upstream = "127.0.0.1:0" },
		"prefix and path":   func(c *Config) { c.Routes = []Route{{Prefix: "/", Path: "/x"}} },
		"no match":          func(c *Config) { c.Routes = []Route{{}} },
		"disabled with ext": func(c *Config) {
			c.Routes = []Route{{Prefix: "/", DisableExtAuthz: true, ContextExtensions: map[string]string{"a": "b"}}}
		},
		"unknown escape":      func(c *Config) { c.Paths.EscapedSlashes = "DECODE" },
		"status out of range": func(c *Config) { c.ExtAuthz.StatusOnError = 99 },
	}
	for name, mutate := range cases {
		c := fullConfig()
		mutate(&c)
		if _, err := renderBootstrap(c, p, "test", "/dev/null"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseAuthzTarget(t *testing.T) {
	for in, want := range map[string]authzAddr{
		"127.0.0.1:9000":     {host: "127.0.0.1", port: 9000},
		"[::1]:9000":         {host: "::1", port: 9000},
		"/run/authz.sock":    {pipe: "/run/authz.sock"},
		"unix:/run/a.sock":   {pipe: "/run/a.sock"},
		"unix:relative.sock": {pipe: "relative.sock"},
	} {
		got, err := parseAuthzTarget(in)
		if err != nil || got != want {
			t.Errorf("parseAuthzTarget(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
}
