package policies

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

const validResource = `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["view"]
      effect: EFFECT_ALLOW
      roles: ["user"]
`

func file(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }

func mustLoad(t *testing.T, fsys fstest.MapFS, cfg Config) *Set {
	t.Helper()
	set, err := Load(fsys, cfg)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return set
}

func decideOne(set *Set, in Input) ActionResult {
	out := set.Check([]Input{in})[0]
	return out.Actions[0]
}

func userInput(kind, action string) Input {
	return Input{
		Principal: Principal{ID: "u1", Roles: []string{"user"}},
		Resource:  Resource{Kind: kind, ID: "r1"},
		Actions:   []string{action},
	}
}

func TestLoadSkipsLikeADiskStore(t *testing.T) {
	broken := "this: [is not a policy"
	set := mustLoad(t, fstest.MapFS{
		"policies/doc.yaml":             file(validResource),
		"policies/.hidden.yaml":         file(broken),
		"policies/.git/config.yaml":     file(broken),
		"policies/testdata/p.yaml":      file(broken),
		"policies/doc_test.yaml":        file(broken),
		"policies/doc_test.json":        file(broken),
		"policies/README.md":            file(broken),
		"policies/empty.yaml":           file("  \n"),
		"policies/comments.yml":         file("# nothing here\n# at all\n"),
		"_schemas/principal.json":       file(`{"type": "object"}`),
		"_schemas/not_a_policy.yaml":    file(broken),
		"policies/disabled.yaml":        file(strings.Replace(validResource, "resourcePolicy:", "disabled: true\nresourcePolicy:", 1)),
		"policies/json/other.json":      file(`{"apiVersion": "api.cerbos.dev/v1", "resourcePolicy": {"resource": "other", "version": "default", "rules": [{"actions": ["view"], "effect": "EFFECT_ALLOW", "roles": ["user"]}]}}`),
		"policies/upper/CASE.YAML":      file(strings.Replace(validResource, "resource: doc", "resource: upper", 1)),
		"policies/snake/snake.yaml":     file("api_version: api.cerbos.dev/v1\nresource_policy: {resource: snake, version: default, rules: [{actions: [view], effect: EFFECT_ALLOW, roles: [user]}]}\n"),
		"policies/notpolicy/file.yamlx": file(broken),
	}, Config{})
	if got := set.PolicyCount(); got != 4 {
		t.Errorf("PolicyCount = %d, want 4 (doc, other, upper, snake)", got)
	}
	for _, kind := range []string{"doc", "other", "upper", "snake"} {
		if got := decideOne(set, userInput(kind, "view")); got.Effect != EffectAllow {
			t.Errorf("%s view: got %+v, want ALLOW", kind, got)
		}
	}
}

func TestLoadRejectsSchemasOutsideRoot(t *testing.T) {
	_, err := Load(fstest.MapFS{
		"doc.yaml":               file(validResource),
		"nested/_schemas/p.json": file(`{}`),
	}, Config{})
	if err == nil || !strings.Contains(err.Error(), "nested/_schemas: _schemas directory must be under the root") {
		t.Fatalf("got %v", err)
	}
	if !errors.Is(err, ErrRepository) {
		t.Errorf("error is not ErrRepository: %v", err)
	}
}

func TestLoadAnchorsAndMergeKeys(t *testing.T) {
	set := mustLoad(t, fstest.MapFS{"doc.yaml": file(`apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - &base
      actions: ["view"]
      effect: EFFECT_ALLOW
      roles: ["user"]
    - <<: *base
      actions: ["edit"]
      condition:
        match:
          expr: R.attr.owner == P.id
    - <<: [*base]
      effect: EFFECT_DENY
      actions: ["delete"]
`)}, Config{})
	tests := []struct {
		action string
		attr   map[string]any
		want   Effect
	}{
		{"view", nil, EffectAllow},
		{"edit", map[string]any{"owner": "u1"}, EffectAllow},
		{"edit", map[string]any{"owner": "u2"}, EffectDeny},
		{"delete", nil, EffectDeny},
	}
	for _, tt := range tests {
		in := userInput("doc", tt.action)
		in.Resource.Attr = tt.attr
		if got := decideOne(set, in); got.Effect != tt.want {
			t.Errorf("%s %v: got %v, want %v", tt.action, tt.attr, got.Effect, tt.want)
		}
	}
}

func TestLoadOneDocumentPerFile(t *testing.T) {
	_, err := Load(fstest.MapFS{"two.yaml": file(validResource + "---\n" + validResource)}, Config{})
	if err == nil || !strings.Contains(err.Error(), "two.yaml:9:1: more than one YAML document detected") {
		t.Fatalf("got %v", err)
	}
}
