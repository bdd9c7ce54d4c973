package cellib

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Overload IDs of the path functions.
const (
	overloadBasePath          = "cerbos_basePath_string"
	overloadDirPath           = "cerbos_dirPath_string"
	overloadExtPath           = "cerbos_extPath_string"
	overloadVolumeName        = "cerbos_volumeName_string"
	overloadJoinPath          = "cerbos_joinPath_list"
	overloadRelPath           = "cerbos_relPath_string_string"
	overloadPathHasPrefix     = "cerbos_pathHasPrefix_string_string"
	overloadStrPathHasPrefix  = "cerbos_string_pathHasPrefix_string"
	overloadPathMatch         = "cerbos_pathMatch_string_string"
	overloadStrPathMatch      = "cerbos_string_pathMatch_string"
	overloadPathMatchAnyOf    = "cerbos_pathMatchAnyOf_string_list"
	overloadStrPathMatchAnyOf = "cerbos_string_pathMatchAnyOf_list"
)

// Error formats, worded as Cerbos words them.
const (
	pathErrEncode   = "failed to encode %s %s: %w"
	pathErrRelative = "failed to determine relative path of %s: %w"
)

// pathFunctions declares the path helpers. Only pathHasPrefix, pathMatch and
// pathMatchAnyOf also have a method form, as in Cerbos.
func pathFunctions() []cel.EnvOption {
	str := cel.StringType
	strList := cel.ListType(cel.StringType)
	unary := func(name, id string, fn func(string) (string, error)) cel.EnvOption {
		return cel.Function(name, cel.Overload(id, []*cel.Type{str}, str,
			cel.UnaryBinding(stringFunc(fn))))
	}
	both := func(name, globalID, memberID string, arg *cel.Type, fn func(a, b ref.Val) ref.Val) cel.EnvOption {
		args := []*cel.Type{str, arg}
		return cel.Function(name,
			cel.Overload(globalID, args, cel.BoolType, cel.BinaryBinding(fn)),
			cel.MemberOverload(memberID, args, cel.BoolType, cel.BinaryBinding(fn)))
	}
	return []cel.EnvOption{
		unary("basePath", overloadBasePath, basePath),
		unary("dirPath", overloadDirPath, dirPath),
		unary("extPath", overloadExtPath, extPath),
		unary("volumeName", overloadVolumeName, func(p string) (string, error) { return volumeName(p), nil }),
		cel.Function("joinPath", cel.Overload(overloadJoinPath, []*cel.Type{strList}, str,
			cel.UnaryBinding(joinPathVal))),
		cel.Function("relPath", cel.Overload(overloadRelPath, []*cel.Type{str, str}, str,
			cel.BinaryBinding(func(base, target ref.Val) ref.Val {
				return stringPair(base, target, relPath)
			}))),
		both("pathHasPrefix", overloadPathHasPrefix, overloadStrPathHasPrefix, str,
			func(p, prefix ref.Val) ref.Val { return stringPair(p, prefix, pathHasPrefix) }),
		both("pathMatch", overloadPathMatch, overloadStrPathMatch, str,
			func(p, pattern ref.Val) ref.Val { return stringPair(p, pattern, pathMatch) }),
		both("pathMatchAnyOf", overloadPathMatchAnyOf, overloadStrPathMatchAnyOf, strList, pathMatchAnyOfVal),
	}
}

// stringFunc adapts a Go string function to a CEL unary binding.
func stringFunc(fn func(string) (string, error)) func(ref.Val) ref.Val {
	return func(v ref.Val) ref.Val {
		s, ok := v.(types.String)
		if !ok {
			return types.MaybeNoSuchOverloadErr(v)
		}
		out, err := fn(string(s))
		if err != nil {
			return types.WrapErr(err)
		}
		return types.String(out)
	}
}

// stringPair adapts a Go function of two strings to a CEL binary binding.
func stringPair[T string | bool](a, b ref.Val, fn func(string, string) (T, error)) ref.Val {
	sa, ok := a.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(a)
	}
	sb, ok := b.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(b)
	}
	out, err := fn(string(sa), string(sb))
	if err != nil {
		return types.WrapErr(err)
	}
	return types.DefaultTypeAdapter.NativeToValue(out)
}

// encode encodes p and words the failure the way Cerbos does; what names the
// role of p in the call ("path", "base path", "pattern", ...).
func encode(p, what string) (encodedPath, error) {
	e, err := encodePath(p)
	if err != nil {
		return encodedPath{}, fmt.Errorf(pathErrEncode, what, p, err)
	}
	return e, nil
}

// basePath returns the last element of p ("/" for a root, "." for "").
func basePath(p string) (string, error) {
	e, err := encode(p, "path")
	if err != nil {
		return "", err
	}
	return path.Base(e.value), nil
}

// dirPath returns all but the last element of p, in p's style.
func dirPath(p string) (string, error) {
	e, err := encode(p, "path")
	if err != nil {
		return "", err
	}
	return e.dir()
}

// extPath returns the extension of the last element of the cleaned p.
func extPath(p string) (string, error) {
	e, err := encode(p, "path")
	if err != nil {
		return "", err
	}
	return path.Ext(e.value), nil
}

func joinPathVal(v ref.Val) ref.Val {
	elems, errVal := stringSlice(v)
	if errVal != nil {
		return errVal
	}
	out, err := joinPath(elems)
	if err != nil {
		return types.WrapErr(err)
	}
	return types.String(out)
}

// joinPath joins the elements in the style of the first one. A single element
// is returned unchanged and no element gives "".
func joinPath(elems []string) (string, error) {
	switch len(elems) {
	case 0:
		return "", nil
	case 1:
		return elems[0], nil
	}
	first, err := encode(elems[0], "first path")
	if err != nil {
		return "", err
	}
	values := make([]string, len(elems))
	values[0] = first.value
	for i, elem := range elems[1:] {
		e, err := encode(elem, "path")
		if err != nil {
			return "", err
		}
		values[i+1] = e.value
	}
	return first.decode(path.Join(values...)), nil
}

// relPath returns target relative to base, with backslashes when target is a
// Windows path.
func relPath(base, target string) (string, error) {
	b, err := encode(base, "base path")
	if err != nil {
		return "", err
	}
	t, err := encode(target, "target path")
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(b.value, t.value)
	if err != nil {
		return "", fmt.Errorf(pathErrRelative, target, err)
	}
	if t.windows() {
		return toBackslash(rel), nil
	}
	return rel, nil
}

// pathHasPrefix reports whether p is prefix or lies below it. Identical
// strings always qualify, even unencodable ones; otherwise p must be strictly
// below prefix, and, as in Cerbos, a first element starting with a dot does
// not count ("/a/.b" is not below "/a", and neither is "/a/" below "/a").
func pathHasPrefix(p, prefix string) (bool, error) {
	if p == prefix {
		return true, nil
	}
	b, err := encode(prefix, "base path")
	if err != nil {
		return false, err
	}
	t, err := encode(p, "target path")
	if err != nil {
		return false, err
	}
	rel, err := filepath.Rel(b.value, t.value)
	if err != nil {
		return false, fmt.Errorf(pathErrRelative, p, err)
	}
	return !strings.HasPrefix(rel, "."), nil
}

// pathMatch reports whether p matches the shell pattern, with the syntax and
// behaviour of filepath.Match on UNIX: '*' does not cross '/', and a pattern
// that is malformed after the point where matching failed is not reported. A
// backslash is a separator, never an escape.
func pathMatch(p, pattern string) (bool, error) {
	e, err := encode(p, "path")
	if err != nil {
		return false, err
	}
	return matchEncoded(e, p, pattern)
}

func matchEncoded(e encodedPath, p, pattern string) (bool, error) {
	pat, err := encode(pattern, "pattern")
	if err != nil {
		return false, err
	}
	ok, err := filepath.Match(pat.value, e.value)
	if err != nil {
		return false, fmt.Errorf("failed to match pattern %q on path %q: %w", pattern, p, err)
	}
	return ok, nil
}

func pathMatchAnyOfVal(p, patterns ref.Val) ref.Val {
	s, ok := p.(types.String)
	if !ok {
		return types.MaybeNoSuchOverloadErr(p)
	}
	list, errVal := stringSlice(patterns)
	if errVal != nil {
		return errVal
	}
	out, err := pathMatchAnyOf(string(s), list)
	if err != nil {
		return types.WrapErr(err)
	}
	return types.Bool(out)
}

// pathMatchAnyOf reports whether p matches one of the patterns, trying them in
// order and stopping at the first match or the first bad pattern.
func pathMatchAnyOf(p string, patterns []string) (bool, error) {
	e, err := encode(p, "path")
	if err != nil {
		return false, err
	}
	for _, pattern := range patterns {
		ok, err := matchEncoded(e, p, pattern)
		if err != nil || ok {
			return ok, err
		}
	}
	return false, nil
}
