package policies

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
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
	// Hash is the first 16 bytes, in hex, of a SHA-256 over every policy and schema file
	// read (path and content, in walk order); "" when the repository was not read from files.
	Hash string
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
	h := sha256.New()
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
		hashFile(h, p, data)
		if pol := parsePolicy(p, data, ps); pol != nil {
			repo.Policies = append(repo.Policies, pol)
		}
		return nil
	})
	if err != nil {
		ps.add(ErrParse, ".", Position{}, "cannot walk policy directory: %v", err)
	}
	if repo.Schemas != nil {
		// Schemas are read when policies name them; the hash covers every one of them.
		_ = fs.WalkDir(repo.Schemas, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if data, err := fs.ReadFile(repo.Schemas, p); err == nil {
				hashFile(h, SchemasDir+"/"+p, data)
			}
			return nil
		})
	}
	repo.Hash = hex.EncodeToString(h.Sum(nil)[:16])
	return repo
}

// hashFile adds one file to a repository hash: the path and the content, each preceded by
// its length so that no two repositories hash the same bytes.
func hashFile(h hash.Hash, name string, data []byte) {
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(name)))
	h.Write(n[:])
	h.Write([]byte(name))
	binary.BigEndian.PutUint64(n[:], uint64(len(data)))
	h.Write(n[:])
	h.Write(data)
}
