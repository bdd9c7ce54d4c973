package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatehouse/gatehouse/mapping"
	"github.com/gatehouse/gatehouse/policies"
)

// maxRequestLine bounds one input line of `gatehouse check`.
const maxRequestLine = 16 << 20

// engineFlags are the policy engine settings shared by commands that evaluate policies.
type engineFlags struct {
	policiesDir       string
	globals           string
	lenientScope      bool
	strictEvaluation  bool
	schemaEnforcement string
	now               string
	defaultVersion    string
	defaultScope      string
	jwks              []string
	jwtSkew           time.Duration
}

func (f *engineFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.policiesDir, "policies", "", "policy repository directory (required)")
	fl.StringVar(&f.globals, "globals", "", `globals as a JSON object, e.g. '{"environment":"prod"}', or @FILE`)
	fl.BoolVar(&f.lenientScope, "lenient-scope-search", false, "let a request for a scope without policies use the nearest ancestor scope that has some")
	fl.BoolVar(&f.strictEvaluation, "strict-evaluation", true, "a rule whose condition fails with an error denies; false reproduces Cerbos's default (the rule is skipped)")
	fl.StringVar(&f.schemaEnforcement, "schema-enforcement", "none", "attribute schema enforcement: none, warn or reject")
	fl.StringVar(&f.now, "now", "", "fixed time for now() and timeSince(), RFC 3339 (default: the system clock)")
	fl.StringVar(&f.defaultVersion, "default-policy-version", "default", "policy version for requests that name none")
	fl.StringVar(&f.defaultScope, "default-scope", "", "scope for requests that name none")
	fl.StringArrayVar(&f.jwks, "jwks", nil, "JWK set that verifies auxData JWTs, as ID=PATH (repeatable; keySetId selects one)")
	fl.DurationVar(&f.jwtSkew, "jwt-skew", 0, "clock skew accepted on auxData JWT exp and nbf")
}

// config turns the flags into an engine configuration.
func (f *engineFlags) config() (policies.Config, error) {
	if f.policiesDir == "" {
		return policies.Config{}, usageError{errors.New("--policies is required")}
	}
	cfg := policies.Config{
		DefaultPolicyVersion: f.defaultVersion,
		DefaultScope:         f.defaultScope,
		LenientScopeSearch:   f.lenientScope,
		LenientEvaluation:    !f.strictEvaluation,
	}
	var err error
	if cfg.SchemaEnforcement, err = policies.ParseSchemaEnforcement(f.schemaEnforcement); err != nil {
		return cfg, usageError{fmt.Errorf("--schema-enforcement: %w", err)}
	}
	if f.globals != "" {
		data := []byte(f.globals)
		if path, ok := strings.CutPrefix(f.globals, "@"); ok {
			if data, err = os.ReadFile(path); err != nil {
				return cfg, usageError{fmt.Errorf("--globals: %w", err)}
			}
		}
		if err := json.Unmarshal(data, &cfg.Globals); err != nil {
			return cfg, usageError{fmt.Errorf("--globals: want a JSON object: %w", err)}
		}
	}
	if f.now != "" {
		t, err := time.Parse(time.RFC3339Nano, f.now)
		if err != nil {
			return cfg, usageError{fmt.Errorf("--now: %w", err)}
		}
		cfg.Now = func() time.Time { return t }
	}
	return cfg, nil
}

func (f *engineFlags) keySets() (*mapping.KeySets, error) {
	if len(f.jwks) == 0 {
		return nil, nil
	}
	files := map[string]string{}
	for _, spec := range f.jwks {
		id, path, ok := strings.Cut(spec, "=")
		if !ok || id == "" || path == "" {
			return nil, usageError{fmt.Errorf("--jwks %q: want ID=PATH", spec)}
		}
		if _, dup := files[id]; dup {
			return nil, usageError{fmt.Errorf("--jwks: key set %q given twice", id)}
		}
		files[id] = path
	}
	ks, err := mapping.LoadKeySets(files)
	if err != nil {
		return nil, usageError{fmt.Errorf("--jwks: %w", err)}
	}
	ks.Skew = f.jwtSkew
	return ks, nil
}

func newCheckCommand() *cobra.Command {
	var f engineFlags
	cmd := &cobra.Command{
		Use:   "check --policies DIR",
		Short: "Decide CheckResources requests (JSON, one per line on stdin) with a policy repository",
		Long: `check reads Cerbos CheckResources requests from stdin, one JSON object per line, and
writes one CheckResources response per line to stdout, in the Cerbos HTTP API's shape.
A request that fails validation gets a {"code":3,"message":...} line instead; the
command then exits with status 1 after answering every line.`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			ks, err := f.keySets()
			if err != nil {
				return err
			}
			set, err := policies.LoadDir(f.policiesDir, cfg)
			if err != nil {
				return err
			}
			var verifier policies.JWTVerifier
			if ks != nil {
				verifier = ks
			}
			return checkLines(set, verifier, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	f.register(cmd)
	return cmd
}

// checkLines answers each request line. Blank lines are skipped.
func checkLines(set *policies.Set, v policies.JWTVerifier, in io.Reader, out io.Writer) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxRequestLine)
	w := bufio.NewWriter(out)
	failed, line := 0, 0
	for sc.Scan() {
		line++
		text := sc.Bytes()
		if len(strings.TrimSpace(string(text))) == 0 {
			continue
		}
		resp, err := set.CheckJSON(text, v)
		if err != nil {
			var re *policies.RequestError
			if !errors.As(err, &re) {
				return err
			}
			failed++
			resp, _ = json.Marshal(policies.ErrorResponse{Code: 3, Message: re.Msg})
		}
		w.Write(resp)
		w.WriteByte('\n')
		// Flush per line so that a caller can pipe requests interactively.
		if err := w.Flush(); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading requests (line %d): %w", line+1, err)
	}
	if failed > 0 {
		return failedError{fmt.Sprintf("%d request(s) failed validation", failed)}
	}
	return nil
}
