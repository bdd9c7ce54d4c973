package policies

import (
	"fmt"
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
	constDefs := map[string]definition{}
	addConst := func(file, origin string, nv NamedValue) {
		if !b.checkIdentifier(file, nv.Pos, "constant", nv.Name) {
			return
		}
		def := definition{origin: origin, where: fmt3(file, nv.Pos)}
		if prev, dup := constDefs[nv.Name]; dup {
			b.probs.add(ErrCompile, p.File, nv.Pos, "constant redefined: Constant '%s' has multiple definitions in %s (%s) and %s (%s)",
				nv.Name, prev.origin, prev.where, def.origin, def.where)
			return
		}
		constDefs[nv.Name] = def
		constVals[nv.Name] = toCELValue(nv.Value)
		pe.consts[nv.Name] = true
	}
	for _, imp := range consts.Import {
		ec, ok := b.exportConst[imp.Name]
		if !ok {
			b.probs.add(ErrRepository, p.File, imp.Pos, "import not found: cannot find constants '%s' imported by policy %s", imp.Name, key)
			continue
		}
		for _, nv := range ec.ExportConstants.Definitions {
			addConst(ec.File, fmt.Sprintf("import '%s'", imp.Name), nv)
		}
	}
	for _, nv := range consts.Local {
		addConst(p.File, "policy local constants", nv)
	}
	env.consts = &objectValue{typ: constantsType, obj: constVals}

	type varSource struct {
		file, origin string
		def          NamedExpr
	}
	var sources []varSource
	for _, imp := range vars.Import {
		ev, ok := b.exportVars[imp.Name]
		if !ok {
			b.probs.add(ErrRepository, p.File, imp.Pos, "import not found: cannot find variables '%s' imported by policy %s", imp.Name, key)
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
		sources = append(sources, varSource{p.File, "top-level policy variables (deprecated)", d})
	}
	varDefs := map[string]definition{}
	type pending struct {
		src  varSource
		refs *refs
	}
	var compiled []pending
	for _, s := range sources {
		if !b.checkIdentifier(s.file, s.def.Pos, "variable", s.def.Name) {
			continue
		}
		def := definition{origin: s.origin, where: fmt3(s.file, s.def.Pos)}
		if prev, dup := varDefs[s.def.Name]; dup {
			b.probs.add(ErrCompile, p.File, s.def.Pos, "variable redefined: Variable '%s' has multiple definitions in %s (%s) and %s (%s)",
				s.def.Name, prev.origin, prev.where, def.origin, def.where)
			continue
		}
		varDefs[s.def.Name] = def
		c := b.compiler(s.file)
		prog, rf := c.compile(&s.def.Expr)
		env.varIdx[s.def.Name] = len(env.vars)
		env.vars = append(env.vars, &variable{name: s.def.Name, prog: prog})
		if prog != nil {
			compiled = append(compiled, pending{s, rf})
		}
	}
	graph := map[string][]string{}
	for _, pd := range compiled {
		for _, c := range pd.refs.consts {
			if !pe.consts[c] {
				b.probs.add(ErrCompile, pd.src.file, pd.src.def.Pos, "undefined constant: Undefined constant '%s' referenced in variable '%s'", c, pd.src.def.Name)
			}
		}
		for _, v := range pd.refs.vars {
			if _, ok := env.varIdx[v]; !ok {
				b.probs.add(ErrCompile, pd.src.file, pd.src.def.Pos, "undefined variable: Undefined variable '%s' referenced in variable '%s'", v, pd.src.def.Name)
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

// reportCycles finds variables that depend on themselves, directly or through others.
func (b *setBuilder) reportCycles(file string, graph map[string][]string, defs map[string]definition) {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	reported := map[string]bool{}
	var visit func(string)
	visit = func(n string) {
		color[n] = grey
		stack = append(stack, n)
		for _, m := range graph[n] {
			switch color[m] {
			case white:
				visit(m)
			case grey:
				i := len(stack) - 1
				for stack[i] != m {
					i--
				}
				cycle := append([]string(nil), stack[i:]...)
				sort.Strings(cycle)
				if !reported[strings.Join(cycle, ",")] {
					reported[strings.Join(cycle, ",")] = true
					b.reportCycle(file, cycle, defs)
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[n] = black
	}
	names := make([]string, 0, len(graph))
	for n := range graph {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if color[n] == white {
			visit(n)
		}
	}
}

func (b *setBuilder) reportCycle(file string, cycle []string, defs map[string]definition) {
	pos := positionOf(defs[cycle[0]].where)
	if len(cycle) == 1 {
		b.probs.add(ErrCompile, file, pos, "cyclical variable definitions: Variable '%s' references itself", cycle[0])
		return
	}
	parts := make([]string, len(cycle))
	for i, n := range cycle {
		parts[i] = fmt.Sprintf("'%s' (%s)", n, defs[n].where)
	}
	var list string
	if len(parts) == 2 {
		list = parts[0] + " and " + parts[1]
	} else {
		list = strings.Join(parts[:len(parts)-1], ", ") + ", and " + parts[len(parts)-1]
	}
	b.probs.add(ErrCompile, file, pos, "cyclical variable definitions: Variables %s form a cycle", list)
}

// positionOf recovers line and column from a "file:line:column" string.
func positionOf(where string) Position {
	var p Position
	parts := strings.Split(where, ":")
	if len(parts) >= 3 {
		fmt.Sscanf(parts[len(parts)-2], "%d", &p.Line)
		fmt.Sscanf(parts[len(parts)-1], "%d", &p.Column)
	}
	return p
}

// compileExpr compiles an expression of this policy and checks its V/C references.
func (pe *policyEnv) compileExpr(e *Expr) *program {
	if e == nil {
		return nil
	}
	prog, rf := pe.c.compile(e)
	if prog == nil {
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
		return &condNode{op: condExpr, prog: pe.compileExpr(c.Expr)}
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
	return &outputExprs{activated: pe.compileExpr(o.RuleActivated), notMet: pe.compileExpr(o.ConditionNotMet)}
}

func fmt3(file string, p Position) string { return fmt.Sprintf("%s:%d:%d", file, p.Line, p.Column) }
