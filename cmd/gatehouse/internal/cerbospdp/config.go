package cerbospdp

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"go.yaml.in/yaml/v3"
)

// Options selects the store and the engine settings a Cerbos server runs with.
// The zero value of every field means Cerbos's own default.
type Options struct {
	// Binary is the cerbos executable; empty means FindBinary.
	Binary string
	// StoreDir is the policy repository, served with the disk driver.
	StoreDir string
	// Globals become engine.globals (the G / globals object in CEL).
	Globals map[string]any
	// LenientScopeSearch sets engine.lenientScopeSearch.
	LenientScopeSearch bool
	// StrictEvaluation sets engine.strictEvaluation.
	StrictEvaluation bool
	// DefaultPolicyVersion and DefaultScope set engine.defaultPolicyVersion and
	// engine.defaultScope when non-empty.
	DefaultPolicyVersion string
	DefaultScope         string
	// SchemaEnforcement is schema.enforcement: "none" (default), "warn" or "reject".
	SchemaEnforcement string
	// JWKS maps a key set id to a JWK set file; each becomes an entry of
	// auxData.jwt.keySets used to verify auxData JWTs.
	JWKS map[string]string
	// MaxActionsPerResource and MaxResourcesPerRequest set
	// server.requestLimits; 0 keeps Cerbos's default of 50.
	MaxActionsPerResource  int
	MaxResourcesPerRequest int
}

// serverConfig renders the Cerbos configuration file for opts with the given
// listen addresses. Every key used here was checked against the 0.55.0 binary,
// whose engine, schema, auxData.jwt, server and storage.disk sections reject
// unknown keys.
func serverConfig(opts Options, httpAddr, grpcAddr string) ([]byte, error) {
	if opts.StoreDir == "" {
		return nil, fmt.Errorf("cerbospdp: Options.StoreDir is required")
	}
	store, err := filepath.Abs(opts.StoreDir)
	if err != nil {
		return nil, err
	}
	server := map[string]any{"httpListenAddr": httpAddr, "grpcListenAddr": grpcAddr}
	limits := map[string]any{}
	if opts.MaxActionsPerResource > 0 {
		limits["maxActionsPerResource"] = opts.MaxActionsPerResource
	}
	if opts.MaxResourcesPerRequest > 0 {
		limits["maxResourcesPerRequest"] = opts.MaxResourcesPerRequest
	}
	if len(limits) > 0 {
		server["requestLimits"] = limits
	}

	engine := map[string]any{
		"lenientScopeSearch": opts.LenientScopeSearch,
		"strictEvaluation":   opts.StrictEvaluation,
	}
	if len(opts.Globals) > 0 {
		engine["globals"] = opts.Globals
	}
	if opts.DefaultPolicyVersion != "" {
		engine["defaultPolicyVersion"] = opts.DefaultPolicyVersion
	}
	if opts.DefaultScope != "" {
		engine["defaultScope"] = opts.DefaultScope
	}

	enforcement := opts.SchemaEnforcement
	switch enforcement {
	case "":
		enforcement = "none"
	case "none", "warn", "reject":
	default:
		// Cerbos 0.55.0 starts with an unknown value instead of rejecting it.
		return nil, fmt.Errorf("cerbospdp: schema enforcement %q is not none, warn or reject", enforcement)
	}

	cfg := map[string]any{
		"server":    server,
		"storage":   map[string]any{"driver": "disk", "disk": map[string]any{"directory": store, "watchForChanges": false}},
		"engine":    engine,
		"schema":    map[string]any{"enforcement": enforcement},
		"audit":     map[string]any{"enabled": false},
		"telemetry": map[string]any{"disabled": true},
	}
	if len(opts.JWKS) > 0 {
		ids := make([]string, 0, len(opts.JWKS))
		for id := range opts.JWKS {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var sets []any
		for _, id := range ids {
			file, err := filepath.Abs(opts.JWKS[id])
			if err != nil {
				return nil, err
			}
			if _, err := os.Stat(file); err != nil {
				return nil, fmt.Errorf("cerbospdp: key set %q: %w", id, err)
			}
			sets = append(sets, map[string]any{"id": id, "local": map[string]any{"file": file}})
		}
		cfg["auxData"] = map[string]any{"jwt": map[string]any{"keySets": sets}}
	}
	return yaml.Marshal(cfg)
}
