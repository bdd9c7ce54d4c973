package main

// The differential test: the same CheckResources requests go to the real
// Cerbos PDP and to `gatehouse check`, and the answers must agree field by
// field. Requests are every input of the engine conformance cases plus
// seeded random ones from reqgen. Rerun one configuration with another seed:
//
//	go test ./cmd/gatehouse -run 'TestDifferential/default$' -args -diff.seed=42

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/cmd/gatehouse/internal/cerbospdp"
	"github.com/gatehouse/gatehouse/cmd/gatehouse/internal/reqgen"
)

var (
	diffSeed  = flag.Uint64("diff.seed", 20260210, "seed of the differential test's request generator")
	diffCount = flag.Int("diff.count", 2000, "generated requests for the default configuration (others get a share)")
	diffOut   = flag.String("diff.out", "", "file to write every mismatch to, one JSON object per line")
)

const (
	// globalsJSON are the engine globals of the conformance cases.
	globalsJSON = `{"environment":"test"}`
	// keySetID names the conformance verify key on both servers.
	keySetID = "cerbos"
	// maxReported caps the mismatches printed in full.
	maxReported = 20
	// runTimeout bounds one configuration's run of both servers.
	runTimeout = 5 * time.Minute
)

// diffConfig is one engine configuration both servers run with.
type diffConfig struct {
	name        string
	lenient     bool
	enforcement string   // schema enforcement; "" = none
	caseDirs    []string // engine case folders, relative to the conformance dir
	share       float64  // generated requests, as a share of -diff.count
	seedOffset  uint64
}

var diffConfigs = []diffConfig{
	{name: "default", caseDirs: []string{"engine", "engine_strict_scope_search"}, share: 1},
	// Upstream re-runs every engine case with lenient search and expects the same results.
	{name: "lenient", lenient: true, caseDirs: []string{"engine", "engine_lenient_scope_search"}, share: 0.15, seedOffset: 1},
	{name: "warn", enforcement: "warn", caseDirs: []string{"engine_schema_enforcement/warn"}, share: 0.15, seedOffset: 2},
	{name: "reject", enforcement: "reject", caseDirs: []string{"engine_schema_enforcement/reject"}, share: 0.1, seedOffset: 3},
}

// diffEnv is what every configuration shares.
type diffEnv struct {
	cerbosBin, gatehouseBin string
	store, verifyKey        string
	confDir                 string
	catalog                 *reqgen.Catalog
	signer                  *reqgen.Signer
}

// labelled is one request with a name saying where it came from.
type labelled struct {
	label string
	body  []byte
}

func TestDifferential(t *testing.T) {
	conf := cerbospdp.ConformanceDir(t)
	env := &diffEnv{
		cerbosBin: cerbospdp.RequireBinary(t),
		confDir:   conf,
		store:     filepath.Join(conf, "store"),
		verifyKey: filepath.Join(conf, "auxdata", "keys", "verify_key.jwk"),
	}
	var err error
	if env.catalog, err = reqgen.ScanStore(env.store); err != nil {
		t.Fatal(err)
	}
	if env.signer, err = reqgen.LoadSigner(filepath.Join(conf, "auxdata", "keys", "signing_key.jwk")); err != nil {
		t.Fatal(err)
	}
	env.gatehouseBin = buildGatehouse(t)

	for _, cfg := range diffConfigs {
		t.Run(cfg.name, func(t *testing.T) { runDifferential(t, env, cfg) })
	}
}

// buildGatehouse compiles this command into a temporary directory, unless
// GATEHOUSE_BIN names a binary to test instead.
func buildGatehouse(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("GATEHOUSE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func runDifferential(t *testing.T, env *diffEnv, cfg diffConfig) {
	seed := *diffSeed + cfg.seedOffset
	reqs := env.requests(t, cfg, seed)

	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	srv, err := cerbospdp.Start(ctx, cerbospdp.Options{
		Binary:             env.cerbosBin,
		StoreDir:           env.store,
		Globals:            map[string]any{"environment": "test"},
		LenientScopeSearch: cfg.lenient,
		SchemaEnforcement:  cfg.enforcement,
		JWKS:               map[string]string{keySetID: env.verifyKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)

	args := []string{"check", "--policies", env.store, "--globals", globalsJSON,
		"--strict-evaluation=false", "--jwks", keySetID + "=" + env.verifyKey}
	if cfg.lenient {
		args = append(args, "--lenient-scope-search")
	}
	if cfg.enforcement != "" {
		args = append(args, "--schema-enforcement", cfg.enforcement)
	}

	bodies := make([][]byte, len(reqs))
	for i, r := range reqs {
		bodies[i] = r.body
	}
	clockFrom := time.Now().Add(-time.Second)
	var ghOut [][]byte
	var ghErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		ghOut, ghErr = runCheck(ctx, env.gatehouseBin, args, bodies)
	}()
	cerbosOut, cerbosErr := checkAll(ctx, srv, bodies)
	<-done
	clockTo := time.Now().Add(time.Second)

	if cerbosErr != nil {
		t.Fatalf("cerbos: %v\n--- cerbos log ---\n%s", cerbosErr, srv.Log())
	}
	if ghErr != nil {
		msg := fmt.Sprintf("gatehouse %s: %v", strings.Join(args, " "), ghErr)
		if n := len(ghOut); n < len(reqs) {
			msg += fmt.Sprintf("\nit answered %d of %d requests; the next one (%s) was:\n%s", n, len(reqs), reqs[n].label, reqs[n].body)
		}
		t.Fatal(msg)
	}

	report := &mismatchReport{byCategory: map[string]int{}, config: cfg.name}
	if *diffOut != "" {
		f, err := os.OpenFile(*diffOut, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		report.out = json.NewEncoder(f)
	}
	opts := cerbospdp.CompareOptions{ClockFrom: clockFrom, ClockTo: clockTo}
	for i, r := range reqs {
		diffs, err := cerbospdp.Compare(cerbosOut[i], ghOut[i], opts)
		if err != nil {
			diffs = []cerbospdp.Diff{{Path: "(response)", Category: "unreadable response", Want: err.Error()}}
		}
		if len(diffs) > 0 {
			report.add(t, r, cerbosOut[i], ghOut[i], diffs)
		}
	}
	rejected := 0
	for _, out := range cerbosOut {
		var body struct{ Code int }
		if json.Unmarshal(out, &body) == nil && body.Code != 0 {
			rejected++
		}
	}
	t.Logf("%d requests (%d generated, seed %d) compared; cerbos rejected %d as invalid", len(reqs), generatedCount(cfg), seed, rejected)
	if report.count > 0 {
		t.Errorf("%d of %d requests differ between cerbos and gatehouse (generator seed %d = -diff.seed %d + %d; rerun with: go test ./cmd/gatehouse -run 'TestDifferential/%s$' -args -diff.seed=%d)\nrequests per mismatched field:\n%s",
			report.count, len(reqs), seed, *diffSeed, cfg.seedOffset, cfg.name, *diffSeed, report.summary())
	}
}

func generatedCount(cfg diffConfig) int {
	n := int(float64(*diffCount) * cfg.share)
	if testing.Short() {
		n /= 10
	}
	return n
}

// requests returns the engine-case inputs of cfg followed by its generated
// requests.
func (env *diffEnv) requests(t *testing.T, cfg diffConfig, seed uint64) []labelled {
	t.Helper()
	var reqs []labelled
	for _, dir := range cfg.caseDirs {
		cases, err := reqgen.LoadEngineCases(filepath.Join(env.confDir, filepath.FromSlash(dir)), env.signer, keySetID)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cases {
			for i, body := range c.Requests {
				reqs = append(reqs, labelled{fmt.Sprintf("%s/%s input %d", dir, filepath.Base(c.File), i), body})
			}
		}
	}
	g := reqgen.New(env.catalog, seed, reqgen.Options{Signer: env.signer, KeySetID: keySetID})
	for i := 0; i < generatedCount(cfg); i++ {
		body, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, labelled{fmt.Sprintf("generated request %d (seed %d)", i+1, seed), body})
	}
	return reqs
}

// checkAll sends every request to Cerbos from a few workers and returns the
// responses in request order.
func checkAll(ctx context.Context, srv *cerbospdp.Server, bodies [][]byte) ([][]byte, error) {
	const workers = 4
	out := make([][]byte, len(bodies))
	errs := make([]error, workers)
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if errs[w] != nil {
					continue
				}
				out[i], errs[w] = srv.Check(ctx, bodies[i])
			}
		}()
	}
	for i := range bodies {
		next <- i
	}
	close(next)
	wg.Wait()
	return out, errors.Join(errs...)
}

// runCheck pipes the requests, one per line, through a single
// `gatehouse check` process and returns its output lines. Writing and
// reading run concurrently, so the process may answer as it reads or at
// the end.
func runCheck(ctx context.Context, bin string, args []string, bodies [][]byte) ([][]byte, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = 5 * time.Second
	stderr := cerbospdp.NewTailBuffer(16 << 10)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer stdin.Close()
		w := bufio.NewWriter(stdin)
		for _, b := range bodies {
			w.Write(b)
			w.WriteByte('\n')
		}
		w.Flush()
	}()

	var lines [][]byte
	r := bufio.NewReader(stdout)
	for {
		line, err := r.ReadBytes('\n')
		if line = bytes.TrimSpace(line); len(line) > 0 {
			lines = append(lines, line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return lines, fmt.Errorf("read output: %w", err)
		}
	}
	if err := cmd.Wait(); err != nil {
		return lines, fmt.Errorf("%w\n--- stderr (tail) ---\n%s", err, stderr.String())
	}
	if len(lines) != len(bodies) {
		return lines, fmt.Errorf("%d output lines for %d requests\n--- stderr (tail) ---\n%s", len(lines), len(bodies), stderr.String())
	}
	return lines, nil
}

// mismatchReport counts differing requests by field, prints the first few
// and, with -diff.out, records all of them.
type mismatchReport struct {
	config     string
	count      int
	byCategory map[string]int
	out        *json.Encoder
}

func (m *mismatchReport) add(t *testing.T, r labelled, cerbos, gatehouse []byte, diffs []cerbospdp.Diff) {
	t.Helper()
	m.count++
	seen := map[string]bool{}
	for _, d := range diffs {
		if !seen[d.Category] {
			seen[d.Category] = true
			m.byCategory[d.Category]++
		}
	}
	if m.out != nil {
		m.out.Encode(map[string]any{
			"config": m.config, "label": r.label, "request": json.RawMessage(r.body),
			"cerbos": json.RawMessage(cerbos), "gatehouse": rawOrString(gatehouse), "diffs": diffs,
		})
	}
	if m.count > maxReported {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "mismatch %d: %s\n  request:   %s\n  cerbos:    %s\n  gatehouse: %s\n  differences:\n",
		m.count, r.label, clip(r.body), clip(cerbos), clip(gatehouse))
	for _, d := range diffs {
		fmt.Fprintf(&b, "    %s\n", d)
	}
	t.Log(b.String())
}

func (m *mismatchReport) summary() string {
	cats := make([]string, 0, len(m.byCategory))
	for c := range m.byCategory {
		cats = append(cats, c)
	}
	sort.Slice(cats, func(i, j int) bool {
		if m.byCategory[cats[i]] != m.byCategory[cats[j]] {
			return m.byCategory[cats[i]] > m.byCategory[cats[j]]
		}
		return cats[i] < cats[j]
	})
	var b strings.Builder
	for _, c := range cats {
		fmt.Fprintf(&b, "  %5d  %s\n", m.byCategory[c], c)
	}
	return b.String()
}

// rawOrString embeds b as JSON when it is valid JSON, else as a string.
func rawOrString(b []byte) any {
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	return string(b)
}

func clip(b []byte) string {
	const max = 4000
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
