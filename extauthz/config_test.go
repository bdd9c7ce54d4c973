package extauthz

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigReportsEveryProblemWithItsLine(t *testing.T) {
	yaml := `server:
  grpc:
    adress: 127.0.0.1:1
  checkTimeout: soon
policies:
  directory: policies
  schemaEnforcement: sometimes
identity:
  sources:
    - anonymous: {}
      spiffe: {trustDomains: [td]}
routes:
  - name: ok
    match: {path: /a}
    resource: {kind: a}
  - name: broken
    match:
      template: "/a/{id"
    resource: {kind: a, id: 'params.id +'}
colour: blue
`
	_, err := ParseConfig("gatehouse.yaml", []byte(yaml))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	// Unknown keys and wrong types come first, all at once.
	for _, want := range []string{
		`gatehouse.yaml:3: unknown key "adress"`,
		`gatehouse.yaml:4: invalid value "soon": want a duration such as 500ms or 5m`,
		`gatehouse.yaml:20: unknown key "colour"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}

	fixed := strings.NewReplacer("adress", "address", "soon", "2s", "colour: blue\n", "").Replace(yaml)
	cfg, err := ParseConfig(filepath.Join("testdata", "gatehouse.yaml"), []byte(fixed))
	if err == nil {
		// Semantic problems surface when the mapping compiles (extauthz.New); the engine
		// settings are checked here.
		t.Fatalf("accepted: %+v", cfg)
	}
	if want := "testdata/gatehouse.yaml:7: policies.schemaEnforcement:"; !strings.Contains(err.Error(), want) {
		t.Errorf("missing %q in:\n%v", want, err)
	}
}

func TestConfigMappingProblemsHaveLines(t *testing.T) {
	yaml := `policies:
  directory: ../envoy/demo/policies
identity:
  sources:
    - anonymous: {}
      spiffe: {trustDomains: [td]}
routes:
  - name: ok
    match: {path: /a}
    resource: {kind: a}
  - name: broken
    match:
      template: "/a/{id"
    resource: {kind: a, id: 'params.id +'}
`
	cfg, err := ParseConfig("gatehouse.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(context.Background(), cfg, nil)
	if err == nil {
		t.Fatal("broken mapping accepted")
	}
	for _, want := range []string{
		"gatehouse.yaml:5: identity.sources[0]: exactly one of",
		"gatehouse.yaml:13: routes[1].match.template:",
		"gatehouse.yaml:14: routes[1].resource.id: invalid expression",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig("dir/gatehouse.yaml", []byte("policies: {directory: p}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.GRPC.Address != DefaultGRPCAddress || cfg.Server.HTTP.Address != DefaultHTTPAddress ||
		cfg.Server.GRPC.MaxReceiveMessageBytes != 4<<20 || cfg.Policies.Directory != filepath.Join("dir", "p") ||
		cfg.Response.Headers.Principal != "x-gatehouse-principal" || cfg.engineConfig().LenientEvaluation {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestConfigDecisionLogProblems(t *testing.T) {
	yaml := `policies:
  directory: policies
telemetry:
  decisionLog:
    enabled: true
    sampleRate: 1.5
    maxFiles: -1
    redact: [""]
    queueSize: 99999999
`
	_, err := ParseConfig("gatehouse.yaml", []byte(yaml))
	if err == nil {
		t.Fatal("bad decision log options accepted")
	}
	for _, want := range []string{
		"gatehouse.yaml:6: telemetry.decisionLog.sampleRate:",
		"gatehouse.yaml:7: telemetry.decisionLog.maxFiles:",
		"gatehouse.yaml:8: telemetry.decisionLog.redact[0]: must not be empty",
		"gatehouse.yaml:9: telemetry.decisionLog.queueSize:",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	// The same options are not checked while the log is off.
	if _, err := ParseConfig("gatehouse.yaml", []byte(strings.Replace(yaml, "enabled: true", "enabled: false", 1))); err != nil {
		t.Errorf("disabled decision log: %v", err)
	}
}
