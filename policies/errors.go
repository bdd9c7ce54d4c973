package policies

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Error categories. Tests and callers match them with errors.Is on a *Problem.
var (
	// ErrParse marks a file that is not valid YAML/JSON or does not have the policy shape.
	ErrParse = errors.New("parse error")
	// ErrValidation marks a field whose value breaks a constraint of the policy language.
	ErrValidation = errors.New("validation error")
	// ErrRepository marks a problem between files: duplicates, missing imports or scopes.
	ErrRepository = errors.New("repository error")
	// ErrCompile marks a CEL expression, variable, constant, output or schema that cannot be compiled.
	ErrCompile = errors.New("compile error")
)

// Position is a location in a policy file. Line and Column are 1-based; zero means unknown.
// Path is the JSON path of the element ("$.resourcePolicy.rules[0].actions").
type Position struct {
	Line   int
	Column int
	Path   string
}

func (p Position) String() string {
	if p.Line == 0 {
		return ""
	}
	return fmt.Sprintf("%d:%d", p.Line, p.Column)
}

// Problem is one error found while loading or compiling a policy repository.
type Problem struct {
	File     string // path relative to the repository root, with forward slashes
	Pos      Position
	Message  string
	Category error // one of ErrParse, ErrValidation, ErrRepository, ErrCompile
}

// Error renders the problem as "file:line:column: message".
func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", p.Pos.Line, p.Pos.Column)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Is reports whether target is the problem's category.
func (p *Problem) Is(target error) bool { return target == p.Category }

// ProblemList collects every problem of a load or compile run. It is an error when non-empty.
type ProblemList []*Problem

func (l ProblemList) Error() string {
	l.sort()
	msgs := make([]string, len(l))
	for i, p := range l {
		msgs[i] = p.Error()
	}
	return strings.Join(msgs, "\n")
}

// Unwrap exposes every problem to errors.Is and errors.As.
func (l ProblemList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, p := range l {
		errs[i] = p
	}
	return errs
}

func (l ProblemList) sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		return a.Message < b.Message
	})
}

// problems accumulates problems; the zero value is ready to use.
type problems struct {
	list ProblemList
}

func (ps *problems) add(category error, file string, pos Position, format string, args ...any) {
	ps.list = append(ps.list, &Problem{File: file, Pos: pos, Message: fmt.Sprintf(format, args...), Category: category})
}

// err returns the sorted list as an error, or nil if there were no problems.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	ps.list.sort()
	return ps.list
}
