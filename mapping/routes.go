package mapping

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/google/cel-go/common/types"
)

// defaultActions maps HTTP methods to actions when a route names none.
var defaultActions = map[string]string{
	"GET": "read", "HEAD": "read", "OPTIONS": "read",
	"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete",
}

// route is a compiled Route.
type route struct {
	name     string
	exact    string
	prefix   string
	segments []segment // template
	methods  map[string]bool
	hosts    []string
	ctxExt   map[string]string
	when     *expr

	kind          string
	kindExpr      *expr
	id            *expr
	attr          []namedExpr
	policyVersion *expr
	scope         *expr
	actions       map[string]string
	action        string
	actionExpr    *expr
}

type namedExpr struct {
	name string
	expr *expr
}

// segment is one part of a path template: a literal, a {param} or a final {rest...}.
type segment struct {
	literal string
	param   string
	rest    bool
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// parseTemplate parses "/api/users/{user}/documents/{id}" and "/files/{path...}".
func parseTemplate(t string) ([]segment, error) {
	if !strings.HasPrefix(t, "/") {
		return nil, errors.New("must start with /")
	}
	parts := strings.Split(t[1:], "/")
	segs := make([]segment, 0, len(parts))
	seen := map[string]bool{}
	for i, p := range parts {
		if !strings.HasPrefix(p, "{") {
			if strings.ContainsAny(p, "{}") {
				return nil, fmt.Errorf("segment %q: a parameter must be a whole segment", p)
			}
			segs = append(segs, segment{literal: p})
			continue
		}
		if !strings.HasSuffix(p, "}") {
			return nil, fmt.Errorf("segment %q: unclosed {", p)
		}
		name := p[1 : len(p)-1]
		rest := strings.HasSuffix(name, "...")
		name = strings.TrimSuffix(name, "...")
		if !paramName.MatchString(name) {
			return nil, fmt.Errorf("segment %q: parameter names are identifiers", p)
		}
		if rest && i != len(parts)-1 {
			return nil, fmt.Errorf("segment %q: {name...} must be the last segment", p)
		}
		if seen[name] {
			return nil, fmt.Errorf("parameter %q appears twice", name)
		}
		seen[name] = true
		segs = append(segs, segment{param: name, rest: rest})
	}
	return segs, nil
}

// match reports whether the route matches the request; its path parameters are left in
// act.params.
func (r *route) match(v *RequestView, act *activation) (bool, error) {
	if r.methods != nil && !r.methods[v.Method] {
		return false, nil
	}
	if len(r.hosts) > 0 && !matchHost(r.hosts, v.Host) {
		return false, nil
	}
	for k, want := range r.ctxExt {
		if v.ContextExtensions[k] != want {
			return false, nil
		}
	}
	act.setParams(act.params[:0])
	switch {
	case r.segments != nil:
		params, ok := matchTemplate(r.segments, v.Path, act.params)
		if !ok {
			return false, nil
		}
		act.setParams(params)
	case r.prefix != "":
		if !hasPathPrefix(v.Path, r.prefix) {
			return false, nil
		}
	default:
		if v.Path != r.exact {
			return false, nil
		}
	}
	if r.when != nil {
		val, err := r.when.eval(act)
		if err != nil {
			return false, err
		}
		if val != types.True {
			return false, nil
		}
	}
	return true, nil
}

// param is one path template parameter.
type param struct {
	name, value string
}

// matchTemplate matches a canonical path ("/a/b") against template segments, appending
// the parameters to params.
func matchTemplate(segs []segment, path string, params []param) ([]param, bool) {
	rest := path[1:]
	for i, s := range segs {
		if s.rest {
			return append(params, param{s.param, rest}), true
		}
		part, tail, more := strings.Cut(rest, "/")
		if s.param != "" {
			if part == "" {
				return params, false
			}
			params = append(params, param{s.param, part})
		} else if part != s.literal {
			return params, false
		}
		if i == len(segs)-1 {
			return params, !more
		}
		if !more {
			return params, false
		}
		rest = tail
	}
	return params, rest == ""
}

func hasPathPrefix(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	return strings.HasSuffix(prefix, "/") || len(path) == len(prefix) || path[len(prefix)] == '/'
}

func matchHost(patterns []string, host string) bool {
	for _, p := range patterns {
		if suffix, ok := strings.CutPrefix(p, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == p {
			return true
		}
	}
	return false
}

// compileRoute checks and compiles one route; path is its configuration key.
func compileRoute(rt Route, path string) (*route, []error) {
	var errs []error
	fail := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	compile := func(field, src string, want ...*types.Type) *expr {
		if src == "" {
			return nil
		}
		x, err := compileExpr(src, want...)
		if err != nil {
			fail(field, "%v", err)
		}
		return x
	}
	r := &route{name: rt.Name, ctxExt: rt.Match.ContextExtensions, kind: rt.Resource.Kind, action: rt.Action}
	if r.name == "" {
		r.name = path
	}
	m := rt.Match
	switch n := btoi(m.Path != "") + btoi(m.Prefix != "") + btoi(m.Template != ""); {
	case n != 1:
		fail("match", "exactly one of path, prefix and template is required")
	case m.Path != "":
		if !strings.HasPrefix(m.Path, "/") {
			fail("match.path", "must start with /")
		}
		r.exact = m.Path
	case m.Prefix != "":
		if !strings.HasPrefix(m.Prefix, "/") {
			fail("match.prefix", "must start with /")
		}
		r.prefix = m.Prefix
	default:
		segs, err := parseTemplate(m.Template)
		if err != nil {
			fail("match.template", "%v", err)
		}
		r.segments = segs
	}
	if len(m.Methods) > 0 {
		r.methods = map[string]bool{}
		for _, meth := range m.Methods {
			r.methods[strings.ToUpper(meth)] = true
		}
		// As in Werkzeug's routing, a GET route also answers HEAD.
		if r.methods["GET"] {
			r.methods["HEAD"] = true
		}
	}
	for _, h := range m.Hosts {
		r.hosts = append(r.hosts, strings.ToLower(strings.TrimSuffix(h, ".")))
	}
	r.when = compile("match.when", m.When, types.BoolType)

	res := rt.Resource
	switch {
	case res.Kind != "" && res.KindExpr != "":
		fail("resource", "kind and kindExpr are exclusive")
	case res.Kind == "" && res.KindExpr == "":
		fail("resource.kind", "value is required")
	}
	r.kindExpr = compile("resource.kindExpr", res.KindExpr, types.StringType)
	r.id = compile("resource.id", res.ID, types.StringType)
	if r.id == nil && res.ID == "" {
		src := "request.path"
		if hasParam(r.segments, "id") {
			src = "params.id"
		}
		r.id, _ = compileExpr(src, types.StringType)
	}
	names := make([]string, 0, len(res.Attr))
	for name := range res.Attr {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if x := compile("resource.attr."+name, res.Attr[name]); x != nil {
			r.attr = append(r.attr, namedExpr{name, x})
		}
	}
	r.policyVersion = compile("resource.policyVersion", res.PolicyVersion, types.StringType)
	r.scope = compile("resource.scope", res.Scope, types.StringType)

	if btoi(len(rt.Actions) > 0)+btoi(rt.Action != "")+btoi(rt.ActionExpr != "") > 1 {
		fail("actions", "actions, action and actionExpr are exclusive")
	}
	if len(rt.Actions) > 0 {
		r.actions = map[string]string{}
		for meth, a := range rt.Actions {
			r.actions[strings.ToUpper(meth)] = a
		}
	}
	r.actionExpr = compile("actionExpr", rt.ActionExpr, types.StringType)
	return r, errs
}

func hasParam(segs []segment, name string) bool {
	for _, s := range segs {
		if s.param == name {
			return true
		}
	}
	return false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// actionFor returns the action of a request on this route ("" if none applies).
func (r *route) actionFor(v *RequestView, act *activation) (string, error) {
	switch {
	case r.action != "":
		return r.action, nil
	case r.actionExpr != nil:
		val, err := r.actionExpr.eval(act)
		if err != nil {
			return "", err
		}
		s, ok := val.(types.String)
		if !ok {
			return "", fmt.Errorf("actionExpr: got %s, want a string", val.Type().TypeName())
		}
		return string(s), nil
	case r.actions != nil:
		if a, ok := r.actions[v.Method]; ok {
			return a, nil
		}
		if v.Method == "HEAD" { // Flask serves HEAD with the GET view
			if a, ok := r.actions["GET"]; ok {
				return a, nil
			}
		}
		return r.actions["*"], nil
	}
	return defaultActions[v.Method], nil
}
