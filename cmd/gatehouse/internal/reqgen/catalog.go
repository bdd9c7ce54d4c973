package reqgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Catalog is what a policy repository tells the generator: the names and
// values that make requests reach rules. All lists are sorted, so a Catalog
// built from the same files always drives the same requests.
type Catalog struct {
	// Kinds are resource kinds with a resource policy; OtherKinds are kinds
	// only named (without globs) by principal- or role-policy rules.
	Kinds, OtherKinds []string
	// Versions are the policy versions in use ("default" included).
	Versions []string
	// Scopes are the non-empty scopes of all policies.
	Scopes []string
	// KindVersions and KindScopes list the versions and scopes of each kind's
	// resource policies.
	KindVersions, KindScopes map[string][]string
	// KindActions lists the action patterns of rules that can apply to a kind
	// (resource-policy rules, principal- and role-policy rules naming it).
	KindActions map[string][]string
	// Actions are all action patterns; globs included.
	Actions []string
	// Roles are role names and role patterns from rules, derived-role parents
	// and role policies, without the bare "*". KindRoles lists those that can
	// matter for a kind: roles of its rules, parents of the derived roles its
	// policies import, and roles whose role policy names it.
	Roles     []string
	KindRoles map[string][]string
	// PrincipalIDs are the principals with a principal policy; IDLiterals
	// are strings that conditions compare with the principal id.
	PrincipalIDs, IDLiterals []string
	// KindPrincipals lists the principals whose policies have rules that can
	// apply to a kind.
	KindPrincipals map[string][]string
	// PrincipalAttrs and ResourceAttrs map attribute paths (dot-joined) to
	// what the conditions and schemas say about them.
	PrincipalAttrs, ResourceAttrs map[string]*Hint
	// Claims are JWT claims read as request.auxData.jwt.<claim>;
	// JWTNames are the names read as request.auxData.jwts.<name>.
	Claims   map[string]*Hint
	JWTNames []string
	// Strings are all string literals of the CEL expressions.
	Strings []string
}

// catalogBuilder collects into sets before they become sorted lists.
type catalogBuilder struct {
	kinds, otherKinds, versions, scopes, actions, roles, principals set
	kindVersions, kindScopes, kindActions, kindRoles                map[string]set
	kindImports, derivedParents, kindPrincipals                     map[string]set
	principalSchemas, resourceSchemas                               set
	cel                                                             *celScan
}

type set map[string]bool

func (s set) add(vs ...string) {
	for _, v := range vs {
		if v != "" {
			s[v] = true
		}
	}
}

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

func addTo(m map[string]set, key string, vs ...string) {
	if m[key] == nil {
		m[key] = set{}
	}
	m[key].add(vs...)
}

// ScanStore reads the policy files of a Cerbos disk store the way the store
// loader selects them (hidden files, testdata/ directories, test suites and
// _schemas/ are skipped) and builds a Catalog. Only the generic YAML structure
// is used, so files the engine would reject still contribute names.
func ScanStore(dir string) (*Catalog, error) {
	b := &catalogBuilder{
		kinds: set{}, otherKinds: set{}, versions: set{}, scopes: set{}, actions: set{},
		roles: set{}, principals: set{}, principalSchemas: set{}, resourceSchemas: set{},
		kindVersions: map[string]set{}, kindScopes: map[string]set{}, kindActions: map[string]set{},
		kindRoles: map[string]set{}, kindImports: map[string]set{}, derivedParents: map[string]set{},
		kindPrincipals: map[string]set{},
		cel:            newCELScan(),
	}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if path != dir && (strings.HasPrefix(name, ".") || (d.IsDir() && (name == "testdata" || name == "_schemas"))) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !isPolicyFile(name) {
			return nil
		}
		return b.addFile(path)
	})
	if err != nil {
		return nil, fmt.Errorf("reqgen: scan %s: %w", dir, err)
	}
	if len(b.kinds) == 0 {
		return nil, fmt.Errorf("reqgen: no resource policies in %s", dir)
	}
	return b.build(dir)
}

func isPolicyFile(name string) bool {
	ext := filepath.Ext(name)
	if ext != ".yaml" && ext != ".yml" && ext != ".json" {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(name, ext), "_test")
}

func (b *catalogBuilder) addFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if disabled, _ := doc["disabled"].(bool); !disabled {
			b.addPolicy(doc)
		}
	}
}

func (b *catalogBuilder) addPolicy(doc map[string]any) {
	walkStrings(doc, b.cel.scan)
	// Constant values are data that conditions compare attributes with.
	walkStrings(obj(doc["exportConstants"])["definitions"], b.cel.addString)
	for _, kind := range []string{"resourcePolicy", "principalPolicy", "rolePolicy", "derivedRoles"} {
		walkStrings(obj(obj(obj(doc[kind])["constants"])["local"]), b.cel.addString)
	}
	if p := obj(doc["resourcePolicy"]); p != nil {
		kind, version, scope := str(p["resource"]), scalar(p["version"]), str(p["scope"])
		b.kinds.add(kind)
		b.versions.add(version)
		b.scopes.add(scope)
		addTo(b.kindVersions, kind, version)
		addTo(b.kindScopes, kind, scope)
		for _, r := range list(p["rules"]) {
			rule := obj(r)
			acts := strs(rule["actions"])
			b.actions.add(acts...)
			addTo(b.kindActions, kind, acts...)
			b.addRoles(strs(rule["roles"]), kind)
		}
		addTo(b.kindImports, kind, strs(p["importDerivedRoles"])...)
		if s := obj(p["schemas"]); s != nil {
			b.principalSchemas.add(str(obj(s["principalSchema"])["ref"]))
			b.resourceSchemas.add(str(obj(s["resourceSchema"])["ref"]))
		}
	}
	if p := obj(doc["principalPolicy"]); p != nil {
		b.principals.add(str(p["principal"]))
		b.versions.add(scalar(p["version"]))
		b.scopes.add(str(p["scope"]))
		for _, r := range list(p["rules"]) {
			rule := obj(r)
			kind := str(rule["resource"])
			addTo(b.kindPrincipals, globKey(kind), str(p["principal"]))
			for _, a := range list(rule["actions"]) {
				act := str(obj(a)["action"])
				b.actions.add(act)
				b.addRuleKind(kind, act)
			}
		}
	}
	if p := obj(doc["rolePolicy"]); p != nil {
		b.addRoles([]string{str(p["role"])})
		b.addRoles(strs(p["parentRoles"]))
		b.versions.add(scalar(p["version"]))
		b.scopes.add(str(p["scope"]))
		for _, r := range list(p["rules"]) {
			rule := obj(r)
			acts := strs(rule["allowActions"])
			b.actions.add(acts...)
			b.addRuleKind(str(rule["resource"]), acts...)
			b.addRoles([]string{str(p["role"])}, str(rule["resource"]))
		}
	}
	if p := obj(doc["derivedRoles"]); p != nil {
		for _, d := range list(p["definitions"]) {
			b.addRoles(strs(obj(d)["parentRoles"]))
			addTo(b.derivedParents, str(p["name"]), strs(obj(d)["parentRoles"])...)
		}
	}
}

// addRuleKind records actions of a principal- or role-policy rule for the
// kinds its resource pattern names.
func (b *catalogBuilder) addRuleKind(pattern string, actions ...string) {
	if pattern == "" {
		return
	}
	if !strings.ContainsAny(pattern, "*?[]{}!") {
		b.otherKinds.add(pattern)
		addTo(b.kindActions, pattern, actions...)
		return
	}
	addTo(b.kindActions, "*", actions...) // applies to any kind; resolved in build
}

// addRoles records role names, and for the given kinds (a glob meaning any
// kind) also as roles that matter for them.
func (b *catalogBuilder) addRoles(roles []string, kinds ...string) {
	for _, r := range roles {
		if r == "*" {
			continue
		}
		b.roles.add(r)
		for _, k := range kinds {
			addTo(b.kindRoles, globKey(k), r)
		}
	}
}

func (b *catalogBuilder) build(dir string) (*Catalog, error) {
	c := &Catalog{
		Kinds: b.kinds.sorted(), Versions: b.versions.sorted(), Scopes: b.scopes.sorted(),
		Actions: b.actions.sorted(), Roles: b.roles.sorted(), PrincipalIDs: b.principals.sorted(),
		KindVersions: map[string][]string{}, KindScopes: map[string][]string{}, KindActions: map[string][]string{},
		KindRoles: map[string][]string{}, KindPrincipals: map[string][]string{},
		PrincipalAttrs: map[string]*Hint{}, ResourceAttrs: map[string]*Hint{},
		Claims: b.cel.claims, Strings: b.cel.strings, IDLiterals: b.cel.ids,
	}
	for k := range b.otherKinds {
		if !b.kinds[k] {
			c.OtherKinds = append(c.OtherKinds, k)
		}
	}
	sort.Strings(c.OtherKinds)
	for k, s := range b.kindVersions {
		c.KindVersions[k] = s.sorted()
	}
	for k, s := range b.kindScopes {
		c.KindScopes[k] = s.sorted()
	}
	for _, k := range append(slices.Clone(c.Kinds), c.OtherKinds...) {
		acts := set{}
		for a := range b.kindActions[k] {
			acts.add(a)
		}
		for a := range b.kindActions["*"] {
			acts.add(a)
		}
		c.KindActions[k] = acts.sorted()
		roles := set{}
		for _, src := range []set{b.kindRoles[k], b.kindRoles["*"]} {
			for r := range src {
				roles.add(r)
			}
		}
		for imp := range b.kindImports[k] {
			for r := range b.derivedParents[imp] {
				if r != "*" {
					roles.add(r)
				}
			}
		}
		c.KindRoles[k] = roles.sorted()
		ids := set{}
		for _, src := range []set{b.kindPrincipals[k], b.kindPrincipals["*"]} {
			for id := range src {
				ids.add(id)
			}
		}
		c.KindPrincipals[k] = ids.sorted()
	}
	for name := range b.cel.jwts {
		c.JWTNames = append(c.JWTNames, name)
	}
	sort.Strings(c.JWTNames)
	sort.Strings(c.Strings)
	sort.Strings(c.IDLiterals)
	for _, h := range b.cel.claims {
		h.sort()
	}
	for key, h := range b.cel.attrs {
		h.sort()
		side, path, _ := strings.Cut(key, ":")
		if side == "P" {
			c.PrincipalAttrs[path] = h
		} else {
			c.ResourceAttrs[path] = h
		}
	}
	if err := addSchemaHints(dir, b.principalSchemas.sorted(), c.PrincipalAttrs); err != nil {
		return nil, err
	}
	if err := addSchemaHints(dir, b.resourceSchemas.sorted(), c.ResourceAttrs); err != nil {
		return nil, err
	}
	return c, nil
}

// globKey files a resource pattern under itself, or under "*" when it is a
// glob (it may apply to any kind).
func globKey(pattern string) string {
	if strings.ContainsAny(pattern, "*?[]{}!") {
		return "*"
	}
	return pattern
}

// walkStrings calls fn for every string scalar in a decoded YAML value.
func walkStrings(v any, fn func(string)) {
	switch x := v.(type) {
	case string:
		fn(x)
	case map[string]any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	case []any:
		for _, e := range x {
			walkStrings(e, fn)
		}
	}
}

func obj(v any) map[string]any { m, _ := v.(map[string]any); return m }
func list(v any) []any         { l, _ := v.([]any); return l }
func str(v any) string         { s, _ := v.(string); return s }

// scalar renders a YAML scalar as text (an unquoted version 20210210 decodes
// as a number).
func scalar(v any) string {
	switch v.(type) {
	case nil, map[string]any, []any:
		return ""
	}
	return fmt.Sprint(v)
}

func strs(v any) []string {
	var out []string
	for _, e := range list(v) {
		if s := str(e); s != "" {
			out = append(out, s)
		}
	}
	return out
}
