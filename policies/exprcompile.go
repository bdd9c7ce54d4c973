package policies

import (
	"sort"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"go.yaml.in/yaml/v3"
)

// Expression limits: a policy expression is a few lines; these bound hostile input.
const (
	maxExprSize  = 32 << 10
	maxExprNodes = 10000
	// maxEvalCost bounds one expression's evaluation (comprehensions over large attributes).
	maxEvalCost = 1_000_000
)

// exprCompiler compiles the expressions of one policy file.
type exprCompiler struct {
	env   *env
	probs *problems
	file  string
}

// refs lists the V/C names an expression uses.
type refs struct {
	vars    []string
	consts  []string
	runtime bool // reads runtime.*
	// result is the expression's type as checked.
	result *types.Type
}

// compile parses and type-checks e and builds its program. It returns nil if the
// expression is invalid, after reporting every issue at its place in the file.
func (c *exprCompiler) compile(e *Expr) (*program, *refs) {
	checked, iss := c.env.cel.Compile(e.Src)
	if iss != nil && iss.Err() != nil {
		for _, ce := range iss.Errors() {
			c.probs.add(ErrCompile, c.file, c.rebase(e, ce.Location.Line(), ce.Location.Column()),
				"invalid expression `%s`: %s", oneLine(e.Src), ce.Message)
		}
		return nil, nil
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if needsCostLimit(checked.NativeRep()) {
		opts = append(opts, cel.CostLimit(maxEvalCost))
	}
	prg, err := c.env.cel.Program(checked, opts...)
	if err != nil {
		c.probs.add(ErrCompile, c.file, e.Pos, "invalid expression `%s`: %v", oneLine(e.Src), err)
		return nil, nil
	}
	rf := namespaceRefs(checked.NativeRep())
	rf.result = checked.OutputType()
	return &program{src: e.Src, prg: prg}, rf
}

// rebase turns a CEL location (1-based line, 0-based column within the expression) into
// a position in the policy file.
func (c *exprCompiler) rebase(e *Expr, line, col int) Position {
	p := e.Pos
	if line <= 0 {
		return p
	}
	if e.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		p.Line += line - 1
		p.Column += col
		return p
	}
	if line == 1 {
		p.Column += col
	}
	return p
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// namespaceRefs finds every V.x / variables.x and C.x / constants.x in an expression,
// including optional selections (V.?x).
func namespaceRefs(a *ast.AST) *refs {
	r := &refs{}
	add := func(ns, name string) {
		switch ns {
		case "V", "variables":
			r.vars = append(r.vars, name)
		case "C", "constants":
			r.consts = append(r.consts, name)
		}
	}
	ast.PostOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.IdentKind:
			r.runtime = r.runtime || e.AsIdent() == "runtime"
		case ast.SelectKind:
			sel := e.AsSelect()
			if sel.Operand().Kind() == ast.IdentKind {
				add(sel.Operand().AsIdent(), sel.FieldName())
			}
		case ast.CallKind:
			call := e.AsCall()
			args := call.Args()
			if call.FunctionName() == "_?._" && len(args) == 2 && args[0].Kind() == ast.IdentKind && args[1].Kind() == ast.LiteralKind {
				if s, ok := args[1].AsLiteral().(types.String); ok {
					add(args[0].AsIdent(), string(s))
				}
			}
		}
	}))
	r.vars = dedupSorted(r.vars)
	r.consts = dedupSorted(r.consts)
	return r
}

func dedupSorted(s []string) []string {
	if len(s) < 2 {
		return s
	}
	sort.Strings(s)
	out := s[:1]
	for _, x := range s[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// needsCostLimit reports whether an expression's cost can grow faster than the size of its
// input: comprehensions (all, exists, map, filter, transform*, ...) and lists.range. Those
// run with a run-time cost limit; every other expression costs at most linear time in the
// request, which is itself bounded, and runs without the tracker's overhead.
func needsCostLimit(a *ast.AST) bool {
	found := false
	ast.PreOrderVisit(a.Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		switch e.Kind() {
		case ast.ComprehensionKind:
			found = true
		case ast.CallKind:
			if e.AsCall().FunctionName() == "lists.range" {
				found = true
			}
		}
	}))
	return found
}
