package policies

import (
	"fmt"

	"github.com/google/cel-go/common/types"
	"sort"
	"strings"
)

// policyEnv compiles the expressions of one policy against its variables and constants.
type policyEnv struct {
	b      *setBuilder
	policy *Policy
	c      *exprCompiler
	env    *exprEnv
	consts map[string]bool
	// varRuntime tells which variables read runtime.*, directly or through other variables.
	varRuntime map[string]bool
}

// definition remembers where a variable or constant came from, for error messages.
type definition struct {
	origin string // "import 'x'" or "policy local variables"
	where  string // file:line:column
	file   string
	pos    Position
}

// buildEnv gathers a policy's constants and variables (imported, local and the deprecated
// top-level map), reports redefinitions, undefined references and cycles, and compiles
// the variable expressions.
func (b *setBuilder) buildEnv(p *Policy, key string, consts Constants, vars Variables, topVars []NamedExpr) *policyEnv {
	pe := &policyEnv{b: b, policy: p, c: b.compiler(p.File), consts: map[string]bool{}}
	env := &exprEnv{id: b.nextEnvID, key: key, varIdx: map[string]int{}}
	b.nextEnvID++
	pe.env = env

	constVals := constNamespace{}
	type constSource struct {
		file, origin string
		def          NamedValue
	}
	var constSources []constSource
	for _, imp := range consts.Import {
		ec, ok := b.exportConst[imp.Name]
		if !ok {
			b.probs.add(ErrRepository, p.File, imp.Pos, "import not found: cannot find constants '%s' imported by policy %s%s", imp.Name, key, b.disabledNote("export_constants."+imp.Name))
			continue
		}
		for _, nv := range ec.ExportConstants.Definitions {
			constSources = append(constSources, constSource{ec.File, fmt.Sprintf("import '%s'", imp.Name), nv})
		}
	}
	for _, nv := range consts.Local {
		constSources = append(constSources, constSource{p.File, "policy local constants", nv})
	}
	constDefs := map[string][]definition{}
	var constOrder []string
	for _, c := range constSources {
		if !b.checkIdentifier(c.file, c.def.Pos, "constant", c.def.Name) {
			continue
		}
		if _, dup := constDefs[c.def.Name]; !dup {
			constOrder = append(constOrder, c.def.Name)
			constVals[c.def.Name] = toCELValue(c.def.Value)
			pe.consts[c.def.Name] = true
		}
		constDefs[c.def.Name] = append(constDefs[c.def.Name], definition{origin: c.origin, where: fmt3(c.file, c.def.ValuePos), file: c.file, pos: c.def.ValuePos})
	}
	b.reportRedefinitions(p.File, "constant", constOrder, constDefs)
	env.consts = &objectValue{typ: constantsType, obj: constVals}

	type varSource struct {
		file, origin string
		def          NamedExpr
	}
	var sources []varSource
	for _, imp := range vars.Import {
		ev, ok := b.exportVars[imp.Name]
		if !ok {
			b.probs.add(ErrRepository, p.File, imp.Pos, "import not found: cannot find variables '%s' imported by policy %s%s", imp.Name, key, b.disabledNote("export_variables."+imp.Name))
			continue
		}
		for _, d := range ev.ExportVariables.Definitions {
			sources = append(sources, varSource{ev.File, fmt.Sprintf("import '%s'", imp.Name), d})
		}
	}
	for _, d := range vars.Local {
		sources = append(sources, varSource{p.File, "policy local variables", d})
	}
	for _, d := range topVars {
		sources = append(sources, varSource{p.File, "deprecated top-level policy variables", d})
	}
	varDefs := map[string][]definition{}
	var varOrder []string
	type pending struct {
		src  varSource
		refs *refs
	}
	var compiled []pending
	for _, s := range sources {
		if !b.checkIdentifier(s.file, s.def.Pos, "variable", s.def.Name) {
			continue
		}
		def := definition{origin: s.origin, where: fmt3(s.file, s.def.Expr.Node), file: s.file, pos: s.def.Expr.Node}
		if _, dup := varDefs[s.def.Name]; dup {
			varDefs[s.def.Name] = append(varDefs[s.def.Name], def)
			continue
		}
		varDefs[s.def.Name] = []definition{def}
		varOrder = append(varOrder, s.def.Name)
		c := b.compiler(s.file)
		prog, rf := c.compile(&s.def.Expr)
		env.varIdx[s.def.Name] = len(env.vars)
		env.vars = append(env.vars, &variable{name: s.def.Name, prog: prog})
		if prog != nil {
			compiled = append(compiled, pending{s, rf})
		}
	}
	b.reportRedefinitions(p.File, "variable", varOrder, varDefs)
	graph := map[string][]string{}
	for _, pd := range compiled {
		for _, c := range pd.refs.consts {
			if !pe.consts[c] {
				b.probs.add(ErrCompile, pd.src.file, pd.src.def.Expr.Node, "undefined constant: Undefined constant '%s' referenced in variable '%s'", c, pd.src.def.Name)
			}
		}
		for _, v := range pd.refs.vars {
			if _, ok := env.varIdx[v]; !ok {
				b.probs.add(ErrCompile, pd.src.file, pd.src.def.Expr.Node, "undefined variable: Undefined variable '%s' referenced in variable '%s'", v, pd.src.def.Name)
				continue
			}
			graph[pd.src.def.Name] = append(graph[pd.src.def.Name], v)
		}
	}
	b.reportCycles(p.File, graph, varDefs)
	// A variable reads runtime if its expression does or a variable it uses does.
	pe.varRuntime = map[string]bool{}
	for _, pd := range compiled {
		pe.varRuntime[pd.src.def.Name] = pd.refs.runtime
	}
	for changed := true; changed; {
		changed = false
		for name, deps := range graph {
			if pe.varRuntime[name] {
				continue
			}
			for _, dep := range deps {
				if pe.varRuntime[dep] {
					pe.varRuntime[name], changed = true, true
					break
				}
			}
		}
	}
	for _, v := range env.vars {
		if v.prog != nil {
			v.prog.usesRuntime = pe.varRuntime[v.name]
		}
	}
	return pe
}

// checkIdentifier validates a variable or constant name.
func (b *setBuilder) checkIdentifier(file string, pos Position, what, name string) bool {
	if reservedIdentifiers[name] {
		b.probs.add(ErrCompile, file, pos, "invalid %s name: %q is a reserved keyword and can't be used as an identifier", what, name)
		return false
	}
	if !identifierPattern.MatchString(name) {
		b.probs.add(ErrCompile, file, pos, "invalid %s name: %q is not a valid identifier", what, name)
		return false
	}
	return true
}

// reportRedefinitions reports, once per name, a variable or constant defined more than
// once, listing every definition; the first one is the one used.
func (b *setBuilder) reportRedefinitions(file, what string, order []string, defs map[string][]definition) {
	for _, name := range order {
		ds := defs[name]
		if len(ds) < 2 {
			continue
		}
		parts := make([]string, len(ds))
		for i, d := range ds {
			parts[i] = fmt.Sprintf("%s (%s)", d.origin, d.where)
		}
		at := ds[1]
		for _, d := range ds {
			if d.file == file {
				at = d
				break
			}
		}
		title := strings.ToUpper(what[:1]) + what[1:]
		b.probs.add(ErrCompile, file, at.pos, "%s redefined: %s '%s' has multiple definitions in %s", what, title, name, joinList(parts))
	}
}

// joinList joins "a", "a and b" or "a, b, and c".
func joinList(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	case 2:
		return parts[0] + " and " + parts[1]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + ", and " + parts[len(parts)-1]
}

// reportCycles reports every set of variables that depend on each other (each strongly
// connected component of the reference graph with more than one variable, or one that
// refers to itself), once, at its first variable.
func (b *setBuilder) reportCycles(file string, graph map[string][]string, defs map[string][]definition) {
	names := make([]string, 0, len(graph))
	for n := range graph {
		names = append(names, n)
	}
	sort.Strings(names)
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var comps [][]string
	var strong func(string)
	strong = func(v string) {
		index[v] = len(index)
		low[v] = index[v]
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range graph[v] {
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			comps = append(comps, comp)
		}
	}
	for _, n := range names {
		if _, seen := index[n]; !seen {
			strong(n)
		}
	}
	for _, comp := range comps {
		if len(comp) == 1 && !containsString(graph[comp[0]], comp[0]) {
			continue
		}
		sort.Strings(comp)
		b.reportCycle(file, comp, defs)
	}
}

func (b *setBuilder) reportCycle(file string, cycle []string, defs map[string][]definition) {
	first := defs[cycle[0]][0]
	if len(cycle) == 1 {
		b.probs.add(ErrCompile, first.file, first.pos, "cyclical variable definitions: Variable '%s' references itself", cycle[0])
		return
	}
	parts := make([]string, len(cycle))
	for i, n := range cycle {
		parts[i] = fmt.Sprintf("'%s' (%s)", n, defs[n][0].where)
	}
	b.probs.add(ErrCompile, first.file, first.pos, "cyclical variable definitions: Variables %s form a cycle", joinList(parts))
}

// compileExpr compiles an expression of this policy and checks its V/C references.
// A condition (wantBool) must be a boolean expression.
func (pe *policyEnv) compileExpr(e *Expr, wantBool bool) *program {
	if e == nil {
		return nil
	}
	prog, rf := pe.c.compile(e)
	if prog == nil {
		return nil
	}
	if t := rf.result; wantBool && t != nil && t.Kind() != types.BoolKind && t.Kind() != types.DynKind && t.Kind() != types.AnyKind {
		pe.c.probs.add(ErrCompile, pe.c.file, e.Pos, "invalid expression `%s`: a condition must be a boolean expression, but this one is of type %s", oneLine(e.Src), t)
		return nil
	}
	ok := true
	for _, c := range rf.consts {
		if !pe.consts[c] {
			pe.c.probs.add(ErrCompile, pe.c.file, e.Pos, "undefined constant: Undefined constant '%s'", c)
			ok = false
		}
	}
	for _, v := range rf.vars {
		if _, found := pe.env.varIdx[v]; !found {
			pe.c.probs.add(ErrCompile, pe.c.file, e.Pos, "undefined variable: Undefined variable '%s'", v)
			ok = false
		}
	}
	if !ok {
		return nil
	}
	prog.usesRuntime = rf.runtime
	for _, v := range rf.vars {
		prog.usesRuntime = prog.usesRuntime || pe.varRuntime[v]
	}
	return prog
}

// condition compiles a match tree. A nil condition means "always true".
func (pe *policyEnv) condition(c *Condition) *condNode {
	if c == nil {
		return nil
	}
	switch {
	case c.Expr != nil:
		return &condNode{op: condExpr, prog: pe.compileExpr(c.Expr, true)}
	case c.All != nil:
		return &condNode{op: condAll, nodes: pe.conditions(c.All)}
	case c.Any != nil:
		return &condNode{op: condAny, nodes: pe.conditions(c.Any)}
	default:
		return &condNode{op: condNone, nodes: pe.conditions(c.None)}
	}
}

func (pe *policyEnv) conditions(cs []*Condition) []*condNode {
	out := make([]*condNode, 0, len(cs))
	for _, c := range cs {
		if n := pe.condition(c); n != nil {
			out = append(out, n)
		}
	}
	return out
}

func (pe *policyEnv) output(o *RuleOutput) *outputExprs {
	if o == nil {
		return nil
	}
	return &outputExprs{activated: pe.compileExpr(o.RuleActivated, false), notMet: pe.compileExpr(o.ConditionNotMet, false)}
}

func fmt3(file string, p Position) string { return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column) }
