package policies

import (
	"errors"
	"strings"
	"testing"
	"testing/fstest"
)

// TestProblemsPointIntoTheFile checks that every problem is reported as
// "file:line:column: message", with CEL errors re-based from the expression to the file.
func TestProblemsPointIntoTheFile(t *testing.T) {
	rule := func(cond string) string {
		return `apiVersion: api.cerbos.dev/v1
resourcePolicy:
  resource: doc
  version: default
  rules:
    - actions: ["view"]
      effect: EFFECT_ALLOW
      roles: ["user"]
      condition:
        match:
` + cond
	}
	tests := []struct {
		name string
		file string
		want []string // substrings of the problem list, in order
	}{
		{
			name: "unknown field",
			file: strings.Replace(validResource, "  version: default\n", "  version: default\n  colour: blue\n", 1),
			want: []string{`p.yaml:5:3: unknown field "colour"`},
		},
		{
			name: "wrong type",
			file: strings.Replace(validResource, "resource: doc", "resource: {a: b}", 1),
			want: []string{"p.yaml:3:13: expected string value got Mapping"},
		},
		{
			name: "bad version and scope",
			file: strings.Replace(validResource, "version: default", "version: \"1.0\"\n  scope: \"..a\"", 1),
			want: []string{"p.yaml:4:3: resourcePolicy.version: does not match regex pattern", "p.yaml:5:3: resourcePolicy.scope: does not match regex pattern"},
		},
		{
			name: "plain scalar",
			file: rule("          expr: R.attr.owner == == P.id\n"),
			want: []string{"p.yaml:11:33: invalid expression `R.attr.owner == == P.id`: Syntax error"},
		},
		{
			name: "double-quoted scalar",
			file: rule("          expr: \"unknownThing == P.id\"\n"),
			want: []string{"p.yaml:11:18: invalid expression `unknownThing == P.id`: undeclared reference to 'unknownThing'"},
		},
		{
			name: "literal block",
			file: rule("          expr: |-\n            R.attr.owner == P.id &&\n              nope.x\n"),
			want: []string{"p.yaml:13:15: invalid expression `R.attr.owner == P.id && …`: undeclared reference to 'nope'"},
		},
		{
			name: "folded block",
			file: rule("          expr: >\n            P.id in\n            V.missing\n"),
			want: []string{"p.yaml:12:13: undefined variable: Undefined variable 'missing'"},
		},
		{
			name: "variables index is a type error",
			file: strings.Replace(rule("          expr: V[\"x\"]\n"), "resourcePolicy:", "variables:\n  x: \"true\"\nresourcePolicy:", 1),
			want: []string{"p.yaml:13:18: invalid expression `V[\"x\"]`: found no matching overload for '_[_]' applied to '(cerbos.Variables, string)'"},
		},
		{
			name: "missing import",
			file: strings.Replace(validResource, "  rules:", "  importDerivedRoles: [nowhere]\n  rules:", 1),
			want: []string{"p.yaml:5:24: import not found: cannot find derived roles 'nowhere' imported by policy resource.doc.vdefault"},
		},
		{
			name: "yaml syntax",
			file: "apiVersion: api.cerbos.dev/v1\nresourcePolicy:\n  resource: \"doc\n",
			want: []string{"p.yaml:3:3: invalid YAML"},
		},
		{
			name: "several problems at once",
			file: strings.NewReplacer("effect: EFFECT_ALLOW", "effect: EFFECT_MAYBE", `roles: ["user"]`, "roles: []\n      extra: 1").Replace(validResource),
			want: []string{"p.yaml:7:15: invalid value for enum field effect", `p.yaml:9:7: unknown field "extra"`},
		},
		{
			name: "condition scripts",
			file: rule("          expr: \"true\"\n        script: x\n"),
			want: []string{"p.yaml:9:7: scripts in conditions are no longer supported"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(fstest.MapFS{"p.yaml": file(tt.file)}, Config{})
			if err == nil {
				t.Fatalf("Load succeeded; want %q", tt.want)
			}
			var list ProblemList
			if !errors.As(err, &list) {
				t.Fatalf("error is %T, not a ProblemList", err)
			}
			got := err.Error()
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("problems:\n%s\nmissing (in order): %q", got, w)
				}
				rest = rest[i+len(w):]
			}
			for _, p := range list {
				if p.Pos.Line == 0 {
					t.Errorf("problem without a position: %s", p)
				}
			}
		})
	}
}

func TestProblemsAcrossFilesAreAllReported(t *testing.T) {
	_, err := Load(fstest.MapFS{
		"a.yaml": file(strings.Replace(validResource, "resource: doc", "resource: a\n  bogus: 1", 1)),
		"b.yaml": file(strings.Replace(validResource, "resource: doc", "resource: b", 1) + "      condition: {match: {expr: \"1 +\"}}\n"),
		"c.yaml": file(validResource),
		"d.yaml": file(validResource),
	}, Config{})
	if err == nil {
		t.Fatal("Load succeeded")
	}
	msg := err.Error()
	for _, want := range []string{`a.yaml:4:3: unknown field "bogus"`, "b.yaml:9:", "d.yaml:1:11: duplicate policy definition: resource.doc.vdefault is already defined in c.yaml"} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in:\n%s", want, msg)
		}
	}
	if !errors.Is(err, ErrParse) || !errors.Is(err, ErrCompile) || !errors.Is(err, ErrRepository) {
		t.Errorf("categories not all matched by errors.Is: %v", err)
	}
}
