package envoy_test

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"go.yaml.in/yaml/v3"

	"github.com/gatehouse/gatehouse/envoy/internal/demotest"
)

// The addresses in which envoy/compose/envoy.yaml may differ from envoy/local/envoy.yaml,
// by port: Envoy's listener and admin leave loopback, the clusters name the containers.
var demoAddressPairs = []struct{ port, local, compose string }{
	{"9901", "127.0.0.1", "0.0.0.0"},
	{"8080", "127.0.0.1", "0.0.0.0"},
	{"9191", "127.0.0.1", "gatehouse"},
	{"8000", "127.0.0.1", "app"},
}

var socketAddressRE = regexp.MustCompile(`(?m)^(\s*address: )(\S+)(\n\s*port_value: )(\d+)$`)

// composeMatchesLocal reports whether compose is local with the compose addresses of
// demoAddressPairs, byte for byte otherwise (comments included).
func composeMatchesLocal(local, compose []byte) error {
	var errs []string
	seen := map[string]int{}
	norm := socketAddressRE.ReplaceAllStringFunc(string(compose), func(m string) string {
		sm := socketAddressRE.FindStringSubmatch(m)
		host, port := sm[2], sm[4]
		i := slices.IndexFunc(demoAddressPairs, func(p struct{ port, local, compose string }) bool { return p.port == port })
		if i < 0 {
			errs = append(errs, fmt.Sprintf("address %s:%s is not one of the known pairs", host, port))
			return m
		}
		seen[port]++
		if p := demoAddressPairs[i]; host != p.compose {
			errs = append(errs, fmt.Sprintf("port %s: address %s, want %s", port, host, p.compose))
		}
		return sm[1] + demoAddressPairs[i].local + sm[3] + port
	})
	for _, p := range demoAddressPairs {
		if seen[p.port] != 1 {
			errs = append(errs, fmt.Sprintf("port %s: %d socket addresses, want 1", p.port, seen[p.port]))
		}
	}
	if norm != string(local) {
		a, b := strings.Split(string(local), "\n"), strings.Split(norm, "\n")
		for i := 0; i < max(len(a), len(b)); i++ {
			la, lb := textLine(a, i), textLine(b, i)
			if la != lb {
				errs = append(errs, fmt.Sprintf("line %d: local %q, compose %q", i+1, la, lb))
				break
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func textLine(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end of file>"
}

func TestComposeEnvoyDiffersOnlyInAddresses(t *testing.T) {
	local, err := os.ReadFile(demotest.Path(t, "envoy/local/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	compose, err := os.ReadFile(demotest.Path(t, "envoy/compose/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := composeMatchesLocal(local, compose); err != nil {
		t.Fatalf("envoy/compose/envoy.yaml is not envoy/local/envoy.yaml with the container addresses: %v", err)
	}

	t.Run("catches", func(t *testing.T) {
		for name, c := range map[string]struct {
			local, compose string
		}{
			"other setting":     {string(local), strings.Replace(string(compose), "timeout: 1s", "timeout: 2s", 1)},
			"other comment":     {string(local), strings.Replace(string(compose), "# ", "#  ", 1)},
			"local addresses":   {string(local), string(local)},
			"wrong host":        {string(local), strings.Replace(string(compose), "address: app\n", "address: gatehouse\n", 1)},
			"local changed too": {strings.Replace(string(local), "address: 127.0.0.1\n", "address: 0.0.0.0\n", 1), string(compose)},
			"extra address": {string(local), strings.Replace(string(compose), "port_value: 8000\n",
				"port_value: 8000\n              address: app\n              port_value: 8001\n", 1)},
		} {
			if err := composeMatchesLocal([]byte(c.local), []byte(c.compose)); err == nil {
				t.Errorf("%s: no difference found", name)
			}
		}
	})
}

// composeFile is the part of a Compose file the tests read.
type composeFile struct {
	Services map[string]*composeService `yaml:"services"`
}

type composeService struct {
	Image string `yaml:"image"`
	Build *struct {
		Context    string `yaml:"context"`
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
	Command     []string          `yaml:"command"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	Environment map[string]string `yaml:"environment"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	ReadOnly    bool     `yaml:"read_only"`
	SecurityOpt []string `yaml:"security_opt"`
}

func readCompose(t *testing.T) *composeFile {
	t.Helper()
	data, err := os.ReadFile(demotest.Path(t, "envoy/compose/docker-compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	c := &composeFile{}
	if err := yaml.Unmarshal(data, c); err != nil {
		t.Fatalf("docker-compose.yaml: %v", err)
	}
	return c
}

// composeUpstreams returns where Envoy must find gatehouse and the app in compose: the
// service names, at the ports their commands and environment set.
func composeUpstreams(t *testing.T) (gatehouse, app string) {
	t.Helper()
	c := readCompose(t)
	if c.Services["gatehouse"] == nil || c.Services["app"] == nil {
		t.Fatal("docker-compose.yaml: no gatehouse or app service")
	}
	_, gport, err := net.SplitHostPort(argFlag(c.Services["gatehouse"].Command, "--grpc-address"))
	if err != nil {
		t.Fatalf("gatehouse --grpc-address: %v", err)
	}
	_, aport, err := net.SplitHostPort(c.Services["app"].Environment["DEMO_APP_BIND"])
	if err != nil {
		t.Fatalf("app DEMO_APP_BIND: %v", err)
	}
	return net.JoinHostPort("gatehouse", gport), net.JoinHostPort("app", aport)
}

// composeEnv is what the Compose file is checked against.
type composeEnv struct {
	root, dir       string                 // repository, envoy/compose
	envoy           *bootstrapv3.Bootstrap // envoy/compose/envoy.yaml
	envoyVersion    string                 // the Makefile's ENVOY_VERSION
	image           dockerImage            // the root Dockerfile's final stage
	gatehouseConfig string                 // envoy/demo/gatehouse.yaml
}

func newComposeEnv(t *testing.T) composeEnv {
	t.Helper()
	b, err := readEnvoyBootstrap(demotest.Path(t, "envoy/compose/envoy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := readDockerfile(demotest.Path(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return composeEnv{
		root:            demotest.Root(t),
		dir:             demotest.Path(t, "envoy/compose"),
		envoy:           b,
		envoyVersion:    makefileEnvoyVersion(t),
		image:           img,
		gatehouseConfig: demotest.Path(t, "envoy/demo/gatehouse.yaml"),
	}
}

func TestComposeFile(t *testing.T) {
	for _, p := range composeProblems(readCompose(t), newComposeEnv(t)) {
		t.Error(p)
	}
}

// composeProblems cross-checks the Compose file with the Envoy configuration it mounts,
// the gatehouse image and the repository.
func composeProblems(c *composeFile, env composeEnv) []string {
	var ps []string
	bad := func(format string, args ...any) { ps = append(ps, fmt.Sprintf(format, args...)) }
	envoy, gh, app := c.Services["envoy"], c.Services["gatehouse"], c.Services["app"]
	if envoy == nil || gh == nil || app == nil {
		return []string{fmt.Sprintf("services envoy, gatehouse and app: got %v", slices.Sorted(maps.Keys(c.Services)))}
	}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			host, _, err := composeVolume(env, v)
			if err != nil {
				bad("%s: volume %s: %v", name, v, err)
			} else if _, err := os.Stat(host); err != nil {
				bad("%s: volume %s: %v", name, v, err)
			}
		}
	}

	// Envoy: the tested version, running envoy/compose/envoy.yaml, published as the
	// configuration listens, the admin interface on the host's loopback only.
	if want := "envoyproxy/envoy:v" + env.envoyVersion; envoy.Image != want {
		bad("envoy image %q, want %q (the Envoy version the tests run)", envoy.Image, want)
	}
	cfgPath := "/etc/envoy/envoy.yaml" // the image's default command
	if len(envoy.Command) > 0 {
		cfgPath = argFlag(envoy.Command, "-c", "--config-path")
	}
	if host := mountedFrom(env, envoy, cfgPath); host != filepath.Join(env.dir, "envoy.yaml") {
		bad("envoy runs %s, mounted from %q, want envoy/compose/envoy.yaml", cfgPath, host)
	}
	listener := findListener(env.envoy, "ingress").GetAddress().GetSocketAddress().GetPortValue()
	admin := env.envoy.GetAdmin().GetAddress().GetSocketAddress().GetPortValue()
	if ip, hostPort, ok := publishedPort(envoy.Ports, listener); !ok || hostPort != listener || ip != "" {
		bad("envoy listener port %d: published as %q:%d, want %d on every interface", listener, ip, hostPort, listener)
	}
	if ip, hostPort, ok := publishedPort(envoy.Ports, admin); !ok || hostPort != admin || ip != "127.0.0.1" {
		bad("envoy admin port %d: published as %q:%d, want 127.0.0.1:%d only", admin, ip, hostPort, admin)
	}
	if envoy.DependsOn["gatehouse"].Condition != "service_healthy" {
		bad("envoy does not wait for gatehouse to be healthy")
	}
	if _, ok := envoy.DependsOn["app"]; !ok {
		bad("envoy does not depend on app")
	}

	// gatehouse: the root Dockerfile's image serving the demo configuration on the port
	// Envoy's gatehouse cluster calls.
	clusters := map[string]string{}
	for _, cl := range env.envoy.GetStaticResources().GetClusters() {
		clusters[cl.GetName()] = clusterEndpoint(cl)
	}
	if gh.Build == nil || filepath.Join(env.dir, gh.Build.Context) != env.root ||
		(gh.Build.Dockerfile != "" && gh.Build.Dockerfile != "Dockerfile") {
		bad("gatehouse is not built from the repository's Dockerfile: %+v", gh.Build)
	}
	if host := mountedFrom(env, gh, argFlag(gh.Command, "--config")); host != env.gatehouseConfig {
		bad("gatehouse serves %q from %q, want envoy/demo/gatehouse.yaml", argFlag(gh.Command, "--config"), host)
	}
	grpcHost, grpcPort, err := net.SplitHostPort(argFlag(gh.Command, "--grpc-address"))
	if err != nil || grpcHost != "0.0.0.0" {
		bad("gatehouse --grpc-address %q: want 0.0.0.0:PORT (%v)", argFlag(gh.Command, "--grpc-address"), err)
	}
	if want := net.JoinHostPort("gatehouse", grpcPort); clusters["gatehouse"] != want {
		bad("Envoy's gatehouse cluster calls %s, gatehouse listens on %s", clusters["gatehouse"], want)
	}
	_, httpPort, _ := net.SplitHostPort(argFlag(gh.Command, "--http-address"))
	for _, port := range []string{grpcPort, httpPort} {
		if !slices.Contains(env.image.expose, port) {
			bad("gatehouse listens on %q, which the image does not EXPOSE %v", port, env.image.expose)
		}
	}
	if hc := gh.Healthcheck; hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" ||
		len(env.image.entrypoint) == 0 || hc.Test[1] != env.image.entrypoint[0] || hc.Test[2] != "health" {
		bad("gatehouse healthcheck %v: want [CMD %v health ...] (the image has no shell)", gh.Healthcheck, env.image.entrypoint)
	} else if _, port, _ := net.SplitHostPort(argFlag(hc.Test, "--addr")); port != grpcPort {
		bad("gatehouse healthcheck asks port %q, gatehouse listens on %s", port, grpcPort)
	}
	if !gh.ReadOnly || !slices.Contains(gh.SecurityOpt, "no-new-privileges:true") {
		bad("gatehouse: want read_only and no-new-privileges:true")
	}

	// app: built from its own directory, listening where Envoy's app cluster calls.
	if app.Build == nil {
		bad("app has no build")
	} else {
		dockerfile := cmp.Or(app.Build.Dockerfile, "Dockerfile")
		if _, err := os.Stat(filepath.Join(env.dir, app.Build.Context, dockerfile)); err != nil {
			bad("app build: %v", err)
		}
	}
	bindHost, bindPort, err := net.SplitHostPort(app.Environment["DEMO_APP_BIND"])
	if err != nil || bindHost != "0.0.0.0" {
		bad("app DEMO_APP_BIND %q: want 0.0.0.0:PORT (%v)", app.Environment["DEMO_APP_BIND"], err)
	}
	if want := net.JoinHostPort("app", bindPort); clusters["app"] != want {
		bad("Envoy's app cluster calls %s, the app listens on %s", clusters["app"], want)
	}
	return ps
}

func TestComposeChecksCatchMutations(t *testing.T) {
	env := newComposeEnv(t)
	cases := []struct {
		name   string
		mutate func(c *composeFile)
		want   string
	}{
		{"no app", func(c *composeFile) { delete(c.Services, "app") }, "services envoy, gatehouse and app"},
		{"other envoy", func(c *composeFile) { c.Services["envoy"].Image = "envoyproxy/envoy:v1.39.0" }, "Envoy version"},
		{"envoy latest", func(c *composeFile) { c.Services["envoy"].Image = "envoyproxy/envoy:latest" }, "Envoy version"},
		{"other config", func(c *composeFile) {
			c.Services["envoy"].Volumes = []string{"../local/envoy.yaml:/etc/envoy/envoy.yaml:ro"}
		}, "want envoy/compose/envoy.yaml"},
		{"config elsewhere", func(c *composeFile) { c.Services["envoy"].Command = []string{"envoy", "-c", "/envoy.yaml"} }, "want envoy/compose/envoy.yaml"},
		{"missing volume", func(c *composeFile) { c.Services["gatehouse"].Volumes = []string{"../nowhere:/etc/gatehouse:ro"} }, "no such file"},
		{"listener port", func(c *composeFile) { c.Services["envoy"].Ports[0] = "8081:8081" }, "listener port"},
		{"public admin", func(c *composeFile) { c.Services["envoy"].Ports[1] = "9901:9901" }, "admin port"},
		{"no wait", func(c *composeFile) { c.Services["envoy"].DependsOn = nil }, "healthy"},
		{"grpc port", func(c *composeFile) {
			c.Services["gatehouse"].Command = withArgFlag(c.Services["gatehouse"].Command, "--grpc-address", "0.0.0.0:9999")
		}, "gatehouse cluster calls"},
		{"grpc loopback", func(c *composeFile) {
			c.Services["gatehouse"].Command = withArgFlag(c.Services["gatehouse"].Command, "--grpc-address", "127.0.0.1:9191")
		}, "--grpc-address"},
		{"http port", func(c *composeFile) {
			c.Services["gatehouse"].Command = withArgFlag(c.Services["gatehouse"].Command, "--http-address", "0.0.0.0:9999")
		}, "EXPOSE"},
		{"other config served", func(c *composeFile) {
			c.Services["gatehouse"].Command = withArgFlag(c.Services["gatehouse"].Command, "--config", "/etc/gatehouse/policies/health.yaml")
		}, "want envoy/demo/gatehouse.yaml"},
		{"other image", func(c *composeFile) { c.Services["gatehouse"].Build.Context = "." }, "repository's Dockerfile"},
		{"shell healthcheck", func(c *composeFile) {
			c.Services["gatehouse"].Healthcheck.Test = []string{"CMD-SHELL", "gatehouse health"}
		}, "no shell"},
		{"healthcheck port", func(c *composeFile) {
			c.Services["gatehouse"].Healthcheck.Test = withArgFlag(c.Services["gatehouse"].Healthcheck.Test, "--addr", "127.0.0.1:9192")
		}, "healthcheck asks port"},
		{"writable", func(c *composeFile) { c.Services["gatehouse"].ReadOnly = false }, "read_only"},
		{"app port", func(c *composeFile) { c.Services["app"].Environment["DEMO_APP_BIND"] = "0.0.0.0:5000" }, "app cluster calls"},
		{"app build", func(c *composeFile) { c.Services["app"].Build.Context = "../demo/policies" }, "app build"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := readCompose(t)
			if ps := composeProblems(f, env); len(ps) > 0 {
				t.Fatalf("the unmutated file has problems: %v", ps)
			}
			c.mutate(f)
			ps := composeProblems(f, env)
			for _, p := range ps {
				if strings.Contains(p, c.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got %q", c.want, ps)
		})
	}
}

// The Envoy that the tests run is the one the Compose file runs.
func TestComposeEnvoyIsTestedEnvoy(t *testing.T) {
	out, err := exec.Command(demotest.Envoy(t), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("envoy --version: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`/(\d+\.\d+\.\d+)/`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no version in %q", out)
	}
	if got, want := "envoyproxy/envoy:v"+string(m[1]), readCompose(t).Services["envoy"].Image; got != want {
		t.Errorf("the tests run Envoy %s, docker-compose.yaml runs %s", m[1], want)
	}
}

func makefileEnvoyVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(demotest.Path(t, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ENVOY_VERSION\s*:?=\s*(\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no ENVOY_VERSION in the Makefile")
	}
	return string(m[1])
}

// composeVolume splits a short-syntax bind mount, resolving the host path against the
// Compose file's directory.
func composeVolume(env composeEnv, v string) (host, container string, err error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || !(strings.HasPrefix(parts[0], ".") || strings.HasPrefix(parts[0], "/")) {
		return "", "", fmt.Errorf("not a bind mount of a path")
	}
	host = parts[0]
	if !filepath.IsAbs(host) {
		host = filepath.Join(env.dir, host)
	}
	if rel, err := filepath.Rel(env.root, host); err != nil || strings.HasPrefix(rel, "..") {
		return "", "", fmt.Errorf("%s is outside the repository", parts[0])
	}
	return host, parts[1], nil
}

// mountedFrom returns the host path that a path inside the service's container comes
// from ("" if no volume holds it).
func mountedFrom(env composeEnv, s *composeService, path string) string {
	for _, v := range s.Volumes {
		host, container, err := composeVolume(env, v)
		if err != nil {
			continue
		}
		if path == container {
			return host
		}
		if rest, ok := strings.CutPrefix(path, container+"/"); ok {
			return filepath.Join(host, rest)
		}
	}
	return ""
}

// publishedPort finds the short-syntax port mapping ([IP:]HOST:CONTAINER) of a container port.
func publishedPort(ports []string, container uint32) (ip string, host uint32, ok bool) {
	for _, p := range ports {
		parts := strings.Split(strings.TrimSuffix(p, "/tcp"), ":")
		if len(parts) < 2 || parts[len(parts)-1] != strconv.Itoa(int(container)) {
			continue
		}
		h, err := strconv.ParseUint(parts[len(parts)-2], 10, 32)
		if err != nil {
			continue
		}
		return strings.Join(parts[:len(parts)-2], ":"), uint32(h), true
	}
	return "", 0, false
}

// argFlag returns the value of the first of names in args ("--name value" or
// "--name=value"), or "".
func argFlag(args []string, names ...string) string {
	for i, a := range args {
		for _, n := range names {
			if a == n && i+1 < len(args) {
				return args[i+1]
			}
			if v, ok := strings.CutPrefix(a, n+"="); ok {
				return v
			}
		}
	}
	return ""
}

func withArgFlag(args []string, name, value string) []string {
	out := slices.Clone(args)
	for i := range out {
		if out[i] == name && i+1 < len(out) {
			out[i+1] = value
		}
	}
	return out
}
