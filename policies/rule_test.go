package policies

import (
	"testing"
	"testing/fstest"
	"time"
)

// TestDecidingRule: a decision names the rule that made it, for decision logs.
func TestDecidingRule(t *testing.T) {
	fsys := fstest.MapFS{
		"doc.yaml": {Data: []byte(`apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["read"]
      effect: EFFECT_ALLOW
      roles: ["user"]
    - name: owners-edit
      actions: ["read", "edit"]
      effect: EFFECT_ALLOW
      roles: ["user"]
      condition:
        match:
          expr: R.attr.owner == P.id
    - name: no-edit-when-locked
      actions: ["edit"]
      effect: EFFECT_DENY
      roles: ["*"]
      condition:
        match:
          expr: R.attr.locked == true
`)},
		"alice.yaml": {Data: []byte(`apiVersion: api.cerbos.dev/v1
principalPolicy:
  principal: alice
  version: default
  rules:
    - resource: doc
      actions:
        - action: "archive"
          effect: EFFECT_ALLOW
          name: alice-archives
`)},
	}
	set, err := Load(fsys, Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		principal, action string
		attr              map[string]any
		effect            Effect
		rule              string
	}{
		{"bob", "read", map[string]any{"owner": "bob", "locked": false}, EffectAllow, "rule-001"},
		{"bob", "edit", map[string]any{"owner": "bob", "locked": false}, EffectAllow, "owners-edit"},
		{"bob", "edit", map[string]any{"owner": "bob", "locked": true}, EffectDeny, "no-edit-when-locked"},
		{"bob", "edit", map[string]any{"owner": "carol", "locked": false}, EffectDeny, ""},
		{"alice", "archive", map[string]any{"owner": "bob"}, EffectAllow, "alice-archives"},
	} {
		in := Input{
			Principal: Principal{ID: tc.principal, Roles: []string{"user"}},
			Resource:  Resource{Kind: "doc", ID: "1", Attr: tc.attr},
			Actions:   []string{tc.action},
		}
		var out Output
		set.CheckOne(&in, time.Now(), &out)
		got := out.Actions[0]
		if got.Effect != tc.effect || got.Rule != tc.rule {
			t.Errorf("%s %s %v: got %v by rule %q, want %v by %q", tc.principal, tc.action, tc.attr, got.Effect, got.Rule, tc.effect, tc.rule)
		}
	}
}

// TestSetHash: the hash names the repository's content, schemas included.
func TestSetHash(t *testing.T) {
	policy := []byte(`apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["read"]
      effect: EFFECT_ALLOW
      roles: ["user"]
`)
	hash := func(fsys fstest.MapFS) string {
		set, err := Load(fsys, Config{})
		if err != nil {
			t.Fatal(err)
		}
		return set.Hash()
	}
	base := hash(fstest.MapFS{"doc.yaml": {Data: policy}})
	if len(base) != 32 {
		t.Fatalf("hash %q, want 32 hex digits", base)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"renamed":        {"docs.yaml": {Data: policy}},
		"edited":         {"doc.yaml": {Data: append(append([]byte(nil), policy...), "# note\n"...)}},
		"schema added":   {"doc.yaml": {Data: policy}, "_schemas/doc.json": {Data: []byte(`{}`)}},
		"suite added":    {"doc.yaml": {Data: policy}, "doc_test.yaml": {Data: []byte("name: x\n")}},
		"testdata added": {"doc.yaml": {Data: policy}, "testdata/principals.yaml": {Data: []byte("principals: {}\n")}},
	} {
		got := hash(fsys)
		same := name == "suite added" || name == "testdata added" // not part of the policy set
		if (got == base) != same {
			t.Errorf("%s: hash %s, base %s; want them %s", name, got, base, map[bool]string{true: "equal", false: "different"}[same])
		}
	}
	if again := hash(fstest.MapFS{"doc.yaml": {Data: policy}}); again != base {
		t.Errorf("the same repository hashes to %s and %s", base, again)
	}
}
