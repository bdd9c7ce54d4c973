package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// modulePath identifies gatehouse's go.mod.
const modulePath = "github.com/gatehouse/gatehouse"

// buildTimeout bounds `go build` of gatehouse.
const buildTimeout = 5 * time.Minute

// repoRoot is the directory of gatehouse's go.mod: the working directory or the nearest
// parent that has it.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(bytes.TrimSpace(data), []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s in the working directory or above: run authzbench from the gatehouse repository", modulePath)
		}
		dir = parent
	}
}

// buildGatehouse builds ./cmd/gatehouse of the repository at root into dir, static as the
// container image builds it: a dynamically linked binary also maps the C library (about
// 1.3 MiB more resident memory).
func buildGatehouse(ctx context.Context, root, dir string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, buildTimeout)
	defer cancel()
	bin := filepath.Join(dir, "gatehouse")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/gatehouse")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gatehouse: %w\n%s", err, indent(string(out)))
	}
	return bin, nil
}

// freeAddr returns 127.0.0.1 with a port that is free at the time of the call.
func freeAddr() (string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer lis.Close()
	return lis.Addr().String(), nil
}

// writeConfig writes the gatehouse configuration src to dst with its listeners moved to
// grpcAddr and httpAddr. Relative paths in a configuration resolve against its own
// directory, so the copy makes the ones gatehouse reads (policies.directory and each
// identity.sources[].jwt.jwks.file, as extauthz's resolvePaths lists them) absolute.
// Everything else is kept as written.
func writeConfig(src, dst, grpcAddr, httpAddr string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not a YAML mapping", src)
	}
	dir, err := filepath.Abs(filepath.Dir(src))
	if err != nil {
		return err
	}
	root := doc.Content[0]
	server := childMapping(root, "server")
	setScalar(childMapping(server, "grpc"), "address", grpcAddr)
	setScalar(childMapping(server, "http"), "address", httpAddr)

	absolute := func(n *yaml.Node) {
		if n != nil && n.Kind == yaml.ScalarNode && n.Value != "" && !filepath.IsAbs(n.Value) {
			n.Value = filepath.Join(dir, n.Value)
		}
	}
	absolute(lookup(root, "policies", "directory"))
	if sources := lookup(root, "identity", "sources"); sources != nil && sources.Kind == yaml.SequenceNode {
		for _, s := range sources.Content {
			absolute(lookup(s, "jwt", "jwks", "file"))
		}
	}

	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	return os.WriteFile(dst, out.Bytes(), 0o600)
}

// lookup follows keys through nested mappings; nil when one is missing.
func lookup(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		if n == nil || n.Kind != yaml.MappingNode {
			return nil
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		n = next
	}
	return n
}

// childMapping returns the mapping under key in m, adding an empty one if there is none
// (or if the key holds null).
func childMapping(m *yaml.Node, key string) *yaml.Node {
	if c := lookup(m, key); c != nil && c.Kind == yaml.MappingNode {
		return c
	}
	c := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	setNode(m, key, c)
	return c
}

// setScalar sets key in m to a string value.
func setScalar(m *yaml.Node, key, value string) {
	setNode(m, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
}

// setNode replaces or appends the value of key in the mapping m.
func setNode(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = value
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value)
}

// startAttempts bounds the retries of a gatehouse start whose free port was taken
// between freeAddr and gatehouse's listen.
const startAttempts = 3

// startGatehouse starts `gatehouse serve` on free loopback ports with a copy of config
// written into dir, and waits until it reports SERVING.
func startGatehouse(ctx context.Context, bin, config, dir string) (*proc, string, error) {
	var lastErr error
	for range startAttempts {
		grpcAddr, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		httpAddr, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		cfg := filepath.Join(dir, "gatehouse.yaml")
		if err := writeConfig(config, cfg, grpcAddr, httpAddr); err != nil {
			return nil, "", err
		}
		p, err := startProc("gatehouse", bin, nil, "serve", "--config", cfg)
		if err != nil {
			return nil, "", err
		}
		if lastErr = waitServing(ctx, p, grpcAddr); lastErr == nil {
			return p, grpcAddr, nil
		}
		p.stop()
		if !strings.Contains(p.out.String(), "address already in use") {
			break
		}
	}
	return nil, "", lastErr
}

// startNoop starts `authzbench noop` (this executable) on a free loopback port and
// waits until it reports SERVING.
func startNoop(ctx context.Context) (*proc, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	p, err := startProc("no-op server", self, w, "noop", "--addr", "127.0.0.1:0")
	w.Close() // the child has its copy
	if err != nil {
		r.Close()
		return nil, "", err
	}
	line, err := firstLine(ctx, r, p.out, readyTimeout)
	if err != nil {
		p.stop()
		return nil, "", errors.Join(fmt.Errorf("no-op server: %w", err), p.exitError())
	}
	addr, ok := strings.CutPrefix(line, "listening on ")
	if !ok {
		p.stop()
		return nil, "", fmt.Errorf("no-op server: unexpected first line %q", line)
	}
	if err := waitServing(ctx, p, addr); err != nil {
		p.stop()
		return nil, "", err
	}
	return p, addr, nil
}
