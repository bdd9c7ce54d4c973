package policies

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// FuzzLoadPolicy feeds arbitrary bytes to the loader as a policy file, next to a few valid
// policies it may import, and checks that loading and compiling never panic and that every
// problem names the file and a position. Seeds are the conformance store's files. Run:
//
//	go test -run '^$' -fuzz FuzzLoadPolicy -fuzztime 60s ./policies
func FuzzLoadPolicy(f *testing.F) {
	store := requireConformance(f, "store")
	_ = filepath.WalkDir(store, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && isPolicyFile(d.Name()) {
			if data, err := os.ReadFile(path); err == nil {
				f.Add(data)
			}
		}
		return nil
	})
	f.Add([]byte("apiVersion: api.cerbos.dev/v1\nresourcePolicy: {resource: a, version: default, rules: [{actions: ['*'], effect: EFFECT_ALLOW, roles: ['*'], condition: {match: {expr: 'R.attr.x == P.id'}}}]}\n"))
	f.Add([]byte("a: &x {b: *x}\n"))
	f.Add([]byte("{\"apiVersion\": \"api.cerbos.dev/v1\", \"derivedRoles\": {\"name\": \"d\", \"definitions\": [{\"name\": \"r\", \"parentRoles\": [\"u\"]}]}}"))
	base := fstest.MapFS{
		"derived.yaml": {Data: []byte("apiVersion: api.cerbos.dev/v1\nderivedRoles:\n  name: alpha\n  definitions:\n    - name: owner\n      parentRoles: [user]\n")},
		"vars.yaml":    {Data: []byte("apiVersion: api.cerbos.dev/v1\nexportVariables:\n  name: common\n  definitions:\n    flag: R.attr.flag == true\n")},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"fuzzed.yaml": {Data: data}}
		for k, v := range base {
			fsys[k] = v
		}
		set, err := Load(fsys, Config{})
		if err != nil {
			list, ok := err.(ProblemList)
			if !ok {
				t.Fatalf("error is %T, not a ProblemList: %v", err, err)
			}
			for _, p := range list {
				if p.File == "" || !strings.Contains(p.Error(), p.File) {
					t.Fatalf("problem without a file: %q", p.Error())
				}
			}
			return
		}
		// A repository that loads must also decide without panicking.
		set.Check([]Input{{
			Principal: Principal{ID: "u", Roles: []string{"user", "admin"}, Attr: map[string]any{"flag": true}},
			Resource:  Resource{Kind: "a", ID: "1", Attr: map[string]any{"x": "u", "flag": true}},
			Actions:   []string{"view", "edit"},
		}})
	})
}
