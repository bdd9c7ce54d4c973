package envoylint

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/gatehouse/gatehouse/extauthz/internal/envoylint/internal/envoydesc"
)

// descriptors.binpb.gz is what the generator writes from the go-control-plane in go.mod
// (compared before compression: gzip's output may change with Go versions).
func TestEmbeddedDescriptorsAreCurrent(t *testing.T) {
	got, err := decompress(descriptorSet)
	if err != nil {
		t.Fatal(err)
	}
	set := envoydesc.Set()
	want, err := envoydesc.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(got, want) {
		return
	}
	// Name the files that differ.
	var embedded descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(got, &embedded); err != nil {
		t.Fatal(err)
	}
	files := map[string]*descriptorpb.FileDescriptorProto{}
	for _, f := range embedded.GetFile() {
		files[f.GetName()] = f
	}
	var diff []string
	for _, f := range set.GetFile() {
		switch old, ok := files[f.GetName()]; {
		case !ok:
			diff = append(diff, "missing "+f.GetName())
		case !proto.Equal(old, f):
			diff = append(diff, "changed "+f.GetName())
		}
		delete(files, f.GetName())
	}
	for name := range files {
		diff = append(diff, "extra "+name)
	}
	slices.Sort(diff)
	t.Errorf("descriptors.binpb.gz is stale (%s): run go generate ./extauthz/internal/envoylint", strings.Join(diff, ", "))
}

// Lint neither reads nor changes the global registry, which holds the Envoy types that
// gatehouse serve uses.
func TestLintKeepsToItsOwnRegistry(t *testing.T) {
	before := protoregistry.GlobalFiles.NumFiles()
	if _, err := Lint("clean.yaml", []byte(baseBootstrap), testGatehouse()); err != nil {
		t.Fatal(err)
	}
	if after := protoregistry.GlobalFiles.NumFiles(); after != before {
		t.Errorf("GlobalFiles went from %d to %d files", before, after)
	}
	if envoy().files == protoregistry.GlobalFiles {
		t.Error("the Envoy types are read from the global registry")
	}
}

// names are what the descriptors define, to check the names the checks use.
type names struct {
	fields, oneofs, enumValues map[string]bool
}

func descriptorNames() names {
	n := names{map[string]bool{}, map[string]bool{}, map[string]bool{}}
	enums := func(es protoreflect.EnumDescriptors) {
		for i := 0; i < es.Len(); i++ {
			vs := es.Get(i).Values()
			for j := 0; j < vs.Len(); j++ {
				n.enumValues[string(vs.Get(j).Name())] = true
			}
		}
	}
	var walk func(ms protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			md := ms.Get(i)
			for j := 0; j < md.Fields().Len(); j++ {
				n.fields[string(md.Fields().Get(j).Name())] = true
			}
			for j := 0; j < md.Oneofs().Len(); j++ {
				n.oneofs[string(md.Oneofs().Get(j).Name())] = true
			}
			enums(md.Enums())
			walk(md.Messages())
		}
	}
	envoy().files.RangeFiles(func(f protoreflect.FileDescriptor) bool {
		enums(f.Enums())
		walk(f.Messages())
		return true
	})
	return n
}

// parsePackage parses the package's non-test files.
func parsePackage(t *testing.T) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	fset := token.NewFileSet()
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// fieldHelpers are the functions of fields.go whose second argument is a field name.
var fieldHelpers = map[string]bool{
	"field": true, "get": true, "has": true, "sub": true, "str": true, "flag": true, "unsigned": true,
	"enumName": true, "list": true, "strs": true, "messageMap": true, "duration": true,
}

// Every field, oneof and enum value name that the checks pass to the helpers of fields.go
// or compare with what they return is defined in the descriptors: a typo would
// otherwise read a default or never match. (The helpers panic on a field the message
// does not have; this catches the typos on paths the tests do not take.)
func TestFieldNamesExist(t *testing.T) {
	defined := descriptorNames()
	checked := 0
	check := func(lit ast.Expr, kind string, set map[string]bool) {
		bl, ok := lit.(*ast.BasicLit)
		if !ok || bl.Kind != token.STRING {
			return
		}
		s, _ := strconv.Unquote(bl.Value)
		checked++
		if !set[s] {
			t.Errorf("%q: no %s of that name in Envoy's descriptors", s, kind)
		}
	}
	// helperCall returns the name of the fields.go helper that e calls, or "".
	helperCall := func(e ast.Expr) string {
		if c, ok := e.(*ast.CallExpr); ok {
			if id, ok := c.Fun.(*ast.Ident); ok && len(c.Args) == 2 {
				return id.Name
			}
		}
		return ""
	}
	// cases checks the case labels of a switch on a helper's result.
	cases := func(body *ast.BlockStmt, helper string) {
		for _, s := range body.List {
			for _, e := range s.(*ast.CaseClause).List {
				switch helper {
				case "which":
					check(e, "field", defined.fields)
				case "enumName":
					check(e, "enum value", defined.enumValues)
				}
			}
		}
	}
	for _, f := range parsePackage(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				switch name := helperCall(n); {
				case fieldHelpers[name]:
					check(n.Args[1], "field", defined.fields)
				case name == "which":
					check(n.Args[1], "oneof", defined.oneofs)
				}
			case *ast.BinaryExpr:
				if helperCall(n.X) == "enumName" {
					check(n.Y, "enum value", defined.enumValues)
				}
			case *ast.SwitchStmt:
				tag := n.Tag
				if as, ok := n.Init.(*ast.AssignStmt); ok && len(as.Rhs) == 1 {
					tag = as.Rhs[0]
				}
				cases(n.Body, helperCall(tag))
			}
			return true
		})
	}
	if checked < 50 {
		t.Errorf("only %d names checked: is the test still finding the helpers?", checked)
	}
}

// The message names the checks look for exist.
func TestMessageNamesExist(t *testing.T) {
	checked := 0
	for _, f := range parsePackage(t) {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				if sel, ok := vs.Type.(*ast.SelectorExpr); !ok || sel.Sel.Name != "FullName" {
					continue
				}
				for _, v := range vs.Values {
					name, _ := strconv.Unquote(v.(*ast.BasicLit).Value)
					checked++
					if _, err := envoy().types.FindMessageByName(protoreflect.FullName(name)); err != nil {
						t.Errorf("message %s: %v", name, err)
					}
				}
			}
		}
	}
	if checked < 5 {
		t.Errorf("only %d message names checked", checked)
	}
}
