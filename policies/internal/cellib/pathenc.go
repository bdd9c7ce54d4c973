package cellib

import (
	"errors"
	"path"
	"strings"
)

// Cerbos's path functions accept UNIX paths and Windows (Win32) paths alike.
// They work on an encoded form: the path with every backslash turned into a
// slash and cleaned, with drive and UNC paths given a leading slash, so that
// the slash-only functions of package path can do the work. Results that are
// paths are decoded back into the style of the input. This file reproduces
// that encoding as observed on Cerbos 0.55.0, including the corner cases:
//
//	input              kind     encoded          decoded again
//	/a/b/../c          unix     /a/c             /a/c
//	a\b\..\c           winRel   a/c              a\c
//	\a\b               winRel   /a/b             \a\b
//	C:\a\b             drive    /C:/a/b          C:\a\b
//	C:   C:\           drive    /C:   (root)     C:
//	\\host\share\a     unc      /host/share/a    \\host\share\a
//	\\host\share       unc      /host/share (root)
//
// A letter followed by a colon always starts a drive path. Without any
// backslash in the path it must be exactly "X:": "C:/a", "C:a" and "a:b" are
// rejected with errUnsupportedWin32Path, while "C:a\b" is accepted (and
// encoded as /C:a/b).

// errUnsupportedWin32Path reports a drive path not written as X: or X:\...
var errUnsupportedWin32Path = errors.New("unsupported Win32 path")

type pathKind uint8

const (
	kindUnix   pathKind = iota // no backslash and no drive
	kindWinRel                 // has backslashes but no drive or UNC prefix; may start with \
	kindDrive                  // X: or X:\...
	kindUNC                    // \\...
)

// encodedPath is a path in slash form together with what is needed to turn a
// derived path back into the input's style.
type encodedPath struct {
	value string // cleaned, slash-separated
	kind  pathKind
	// root is set for a bare volume: "X:" or "X:\" for drives, and UNC paths
	// made of exactly two parts (\\host\share, \\host\).
	root bool
	// drive is the "X:" prefix of drive paths.
	drive string
}

// windows reports whether results derived from the path use backslashes.
func (e encodedPath) windows() bool {
	return e.kind != kindUnix
}

// encodePath encodes p; see the file comment.
func encodePath(p string) (encodedPath, error) {
	switch {
	case hasDrivePrefix(p):
		if len(p) > 2 && !strings.Contains(p, `\`) {
			return encodedPath{}, errUnsupportedWin32Path
		}
		return encodedPath{
			value: path.Clean("/" + toSlash(p)),
			kind:  kindDrive,
			root:  len(p) <= 3,
			drive: p[:2],
		}, nil
	case strings.HasPrefix(p, `\\`):
		rest := p[2:]
		return encodedPath{
			value: path.Clean("/" + toSlash(rest)),
			kind:  kindUNC,
			root:  len(strings.SplitN(rest, `\`, 3)) == 2,
		}, nil
	case strings.Contains(p, `\`):
		return encodedPath{value: path.Clean(toSlash(p)), kind: kindWinRel}, nil
	default:
		return encodedPath{value: path.Clean(p), kind: kindUnix}, nil
	}
}

// decode turns a slash path derived from e back into e's style.
func (e encodedPath) decode(p string) string {
	switch e.kind {
	case kindWinRel:
		return toBackslash(p)
	case kindDrive:
		return toBackslash(strings.TrimPrefix(p, "/"))
	case kindUNC:
		return `\` + toBackslash(p)
	default:
		return p
	}
}

// dir returns the directory of the encoded path, in the input's style.
func (e encodedPath) dir() (string, error) {
	switch {
	case e.kind == kindUnix:
		return path.Dir(e.value), nil
	case e.root && e.kind == kindDrive:
		return e.drive + `\`, nil
	case e.root:
		return e.decode(e.value), nil
	}
	i := strings.LastIndexByte(e.value, '/')
	if i < 0 {
		// Cerbos fails the same way on relative Windows paths of one element
		// such as "a\" or ".\a".
		return "", errors.New("internal error: runtime error: slice bounds out of range [:-1]")
	}
	return e.decode(e.value[:i]), nil
}

// volumeName returns the drive ("C:") or UNC share (\\host\share) that p
// starts with, or "". It looks at the raw string and never fails.
func volumeName(p string) string {
	if hasDrivePrefix(p) {
		return p[:2]
	}
	if !strings.HasPrefix(p, `\\`) {
		return ""
	}
	parts := strings.SplitN(p[2:], `\`, 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	return `\\` + parts[0] + `\` + parts[1]
}

func hasDrivePrefix(p string) bool {
	return len(p) >= 2 && p[1] == ':' && isASCIILetter(p[0])
}

func isASCIILetter(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func toSlash(p string) string {
	return strings.ReplaceAll(p, `\`, "/")
}

func toBackslash(p string) string {
	return strings.ReplaceAll(p, "/", `\`)
}
