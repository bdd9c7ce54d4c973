// Package testsuite runs policy test suites written in the Cerbos test-suite format
// against a compiled policy repository, as `cerbos compile` does.
//
// A suite is a file named *_test.yaml, *_test.yml or *_test.json anywhere in a tests
// directory (often the policy repository itself). Fixtures (principals, resources, auxData
// and their groups) come from the suite itself or from the testdata/ folder next to it;
// the suite's own fixtures win. Every test is a table: each principal × resource × action
// of its input is one test, expected to be EFFECT_DENY unless an expectation says
// otherwise. Results have the structure of Cerbos's TestResults, so `-o json` output can
// be compared with `cerbos compile -o json`.
//
// Parsing records YAML positions; a suite that cannot be read, or whose tests name
// fixtures that do not exist, is reported as an errored suite with a message naming the
// line and field, and the other suites still run. Nothing here panics on bad input.
//
// A Runner compiles one policy set per distinct combination of test options (policy
// version, scope, scope search, evaluation mode, globals) and reuses it. A Runner is not
// safe for concurrent use; the Results it returns are plain values.
//
// The package never imports Envoy, gRPC or HTTP code.
package testsuite
