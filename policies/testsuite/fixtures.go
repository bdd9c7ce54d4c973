package testsuite

import (
	"errors"
	"fmt"
	"io/fs"
	"path"

	"go.yaml.in/yaml/v3"
)

// TestdataDir is the folder, next to a suite, that holds shared fixtures.
const TestdataDir = "testdata"

// fixtureKind is one kind of fixture file in testdata/.
type fixtureKind struct {
	what  string   // for messages
	names []string // base names tried, in order
	read  func(d *decoder, root *yaml.Node, fx *Fixtures)
}

var fixtureKinds = []fixtureKind{
	{what: "principals", names: []string{"principals"}, read: readPrincipalFixtures},
	{what: "resources", names: []string{"resources"}, read: readResourceFixtures},
	{what: "aux data", names: []string{"auxdata", "auxData", "aux_data"}, read: readAuxDataFixtures},
}

// LoadFixtures reads the fixture files of the testdata folder dir in fsys. A missing
// folder or file means no fixtures of that kind.
func LoadFixtures(fsys fs.FS, dir string) (Fixtures, error) {
	var fx Fixtures
	for _, k := range fixtureKinds {
		file, data, err := findFixtureFile(fsys, dir, k.names)
		if err != nil {
			return fx, fmt.Errorf("failed to load %s: %w", k.what, err)
		}
		if file == "" {
			continue
		}
		if err := readFixtureFile(data, k, &fx); err != nil {
			return fx, fmt.Errorf("failed to load %s from %s:\n%w", k.what, file, err)
		}
	}
	return fx, nil
}

// findFixtureFile returns the first of name.{yaml,yml,json} that exists in dir.
func findFixtureFile(fsys fs.FS, dir string, names []string) (string, []byte, error) {
	for _, n := range names {
		for _, ext := range []string{".yaml", ".yml", ".json"} {
			p := path.Join(dir, n+ext)
			data, err := fs.ReadFile(fsys, p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return p, nil, err
			}
			return p, data, nil
		}
	}
	return "", nil, nil
}

func readFixtureFile(data []byte, k fixtureKind, fx *Fixtures) error {
	root, err := parseDocument(data)
	if err != nil {
		return err
	}
	d := &decoder{}
	k.read(d, root, fx)
	return d.err()
}

func readPrincipalFixtures(d *decoder, root *yaml.Node, fx *Fixtures) {
	d.object(root, "", func(name string, f field, path string) bool {
		switch name {
		case "$schema":
		case "principals":
			fx.Principals = d.principals(f.val, path)
		case "principalGroups":
			fx.PrincipalGroups = d.groups(f.val, path, "principals")
		default:
			return false
		}
		return true
	})
	checkGroupMembers(d, fx.PrincipalGroups, func(k string) bool { _, ok := fx.Principals[k]; return ok })
}

func readResourceFixtures(d *decoder, root *yaml.Node, fx *Fixtures) {
	d.object(root, "", func(name string, f field, path string) bool {
		switch name {
		case "$schema":
		case "resources":
			fx.Resources = d.resources(f.val, path)
		case "resourceGroups":
			fx.ResourceGroups = d.groups(f.val, path, "resources")
		default:
			return false
		}
		return true
	})
	checkGroupMembers(d, fx.ResourceGroups, func(k string) bool { _, ok := fx.Resources[k]; return ok })
}

func readAuxDataFixtures(d *decoder, root *yaml.Node, fx *Fixtures) {
	d.object(root, "", func(name string, f field, path string) bool {
		switch name {
		case "$schema":
		case "auxData":
			fx.AuxData = d.auxDataMap(f.val, path)
		default:
			return false
		}
		return true
	})
}

// checkGroupMembers reports group members that are not fixtures of the same file.
func checkGroupMembers(d *decoder, groups map[string][]string, exists func(string) bool) {
	for _, g := range sortedKeys(groups) {
		for _, m := range groups[g] {
			if !exists(m) {
				d.fail(nil, "", "missing fixture %q referenced in group %q", m, g)
			}
		}
	}
}
