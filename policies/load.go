package policies

import (
	"io/fs"
	"path"
	"strings"
)

// SchemasDir is the top-level directory of a repository that holds JSON Schemas.
const SchemasDir = "_schemas"

// maxPolicyFileSize bounds a single policy file; larger files are reported, not read.
const maxPolicyFileSize = 8 << 20

// Repository is the parsed content of a policy directory, before compilation.
type Repository struct {
	Policies []*Policy
	// Schemas is the _schemas directory, or nil if the repository has none.
	Schemas fs.FS
}

// isPolicyFile reports whether a file name is a policy file (not a test suite).
func isPolicyFile(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	if ext != ".yaml" && ext != ".yml" && ext != ".json" {
		return false
	}
	return !strings.HasSuffix(strings.TrimSuffix(name, path.Ext(name)), "_test")
}

// ReadRepository walks fsys like a Cerbos disk store: policy files are *.yaml, *.yml and
// *.json; hidden files and directories, directories named testdata and *_test files are
// skipped; the top-level _schemas directory holds schemas. Every problem is reported.
func ReadRepository(fsys fs.FS) (*Repository, error) {
	ps := &problems{}
	repo := readRepository(fsys, ps)
	return repo, ps.err()
}

func readRepository(fsys fs.FS, ps *problems) *Repository {
	repo := &Repository{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			ps.add(ErrParse, p, Position{}, "cannot read: %v", err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		name := d.Name()
		if p == "." {
			return nil
		}
		if strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			switch {
			case name == "testdata":
				return fs.SkipDir
			case name == SchemasDir && p == SchemasDir:
				sub, err := fs.Sub(fsys, p)
				if err == nil {
					repo.Schemas = sub
				}
				return fs.SkipDir
			case name == SchemasDir:
				ps.add(ErrRepository, p, Position{}, "_schemas directory must be under the root of the storage directory")
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		if !isPolicyFile(name) {
			return nil
		}
		info, err := d.Info()
		if err == nil && info.Size() > maxPolicyFileSize {
			ps.add(ErrParse, p, Position{}, "file is larger than %d bytes", maxPolicyFileSize)
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			ps.add(ErrParse, p, Position{}, "cannot read: %v", err)
			return nil
		}
		if pol := parsePolicy(p, data, ps); pol != nil {
			repo.Policies = append(repo.Policies, pol)
		}
		return nil
	})
	if err != nil {
		ps.add(ErrParse, ".", Position{}, "cannot walk policy directory: %v", err)
	}
	return repo
}
