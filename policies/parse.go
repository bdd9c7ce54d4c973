package policies

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

const apiVersionV1 = "api.cerbos.dev/v1"

var (
	scopePattern        = regexp.MustCompile(`^(^$|\.|[0-9a-zA-Z][\w\-]*(\.\w[\w\-]*)*)$`)
	versionPattern      = regexp.MustCompile(`^\w+$`)
	rolePolicyVersion   = regexp.MustCompile(`^\w*$`)
	refNamePattern      = regexp.MustCompile(`^[\w\-\.]+$`)
	ruleNamePattern     = regexp.MustCompile(`^([a-zA-Z][\w@.\-]*)*$`)
	identifierPattern   = regexp.MustCompile(`^[_a-zA-Z][_a-zA-Z0-9]*$`)
	globCharacters      = "!*?[]{}"
	reservedIdentifiers = map[string]bool{"true": true, "false": true, "null": true, "in": true}
)

// ParsePolicy parses one policy file. It returns (nil, nil) for a file that holds no
// document (empty or only comments). Every problem found is returned in a ProblemList.
func ParsePolicy(file string, data []byte) (*Policy, error) {
	ps := &problems{}
	p := parsePolicy(file, data, ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return p, nil
}

func parsePolicy(file string, data []byte, ps *problems) *Policy {
	docs, ok := decodeDocuments(file, data, ps)
	if !ok || len(docs) == 0 {
		return nil
	}
	if len(docs) > 1 {
		ps.add(ErrParse, file, nodePos(docs[1], "$"), "more than one YAML document detected")
		return nil
	}
	return readPolicyDocument(file, data, docs[0].Content[0], ps)
}

// maxDocuments bounds the documents read from one stream.
const maxDocuments = 1000

// parseStream reads every document of a YAML stream as a policy, as the Cerbos parser
// does (a disk store then rejects files with more than one). Documents that are not
// policies are nil in the result; broken YAML yields no documents.
func parseStream(file string, data []byte, ps *problems) []*Policy {
	docs, ok := decodeDocuments(file, data, ps)
	if !ok {
		return nil
	}
	out := make([]*Policy, len(docs))
	for i, d := range docs {
		out[i] = readPolicyDocument(file, data, d.Content[0], ps)
	}
	return out
}

// decodeDocuments returns every non-empty document node of a YAML stream.
// On a syntax error it reports the error (and, if found, the quoting mistake behind it)
// and returns false.
func decodeDocuments(file string, data []byte, ps *problems) ([]*yaml.Node, bool) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for len(docs) <= maxDocuments {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, true
		}
		if err != nil {
			if !reportQuotedPrefixes(file, data, ps) {
				ps.add(ErrParse, file, yamlErrorPos(err, data), "%s", yamlErrorMessage(err))
			}
			return nil, false
		}
		if len(doc.Content) > 0 {
			docs = append(docs, &doc)
		}
	}
	ps.add(ErrParse, file, Position{Line: 1, Column: 1, Path: "$"}, "more than %d YAML documents", maxDocuments)
	return nil, false
}

// readPolicyDocument reads one document as a policy. As in Cerbos, constraint violations
// are reported only for a document that has no parse errors (unknown fields, wrong types).
func readPolicyDocument(file string, data []byte, root *yaml.Node, ps *problems) *Policy {
	if resolve(root) == nil || resolve(root).Kind != yaml.MappingNode {
		ps.add(ErrParse, file, Position{Line: max(root.Line, 1), Column: 1, Path: "$"}, "invalid document: contents are not valid YAML or JSON")
		return nil
	}
	start := len(ps.list)
	pr := &policyReader{nodeReader: nodeReader{file: file, probs: ps, lines: bytes.Split(data, []byte("\n"))}}
	p := pr.policy(root)
	parseErrors := false
	for _, prob := range ps.list[start:] {
		parseErrors = parseErrors || prob.Category == ErrParse
	}
	if parseErrors {
		kept := ps.list[:start]
		for _, prob := range ps.list[start:] {
			if prob.Category != ErrValidation {
				kept = append(kept, prob)
			}
		}
		ps.list = kept
	}
	return p
}

// quotedPrefix finds a flow value that starts with a quoted string and goes on after the
// closing quote ("expr: "a" in b"), which YAML rejects with a confusing message.
var quotedPrefix = regexp.MustCompile(`^(\s*(?:- )?[^\s:#'"][^:#]*:\s+)("[^"]*"|'[^']*')\s*[^\s#]`)

// reportQuotedPrefixes reports every line of a file that YAML cannot parse because a
// value starts with a quoted string; it returns false if there is none.
func reportQuotedPrefixes(file string, data []byte, ps *problems) bool {
	found := false
	for i, line := range bytes.Split(data, []byte("\n")) {
		if m := quotedPrefix.FindSubmatchIndex(line); m != nil {
			ps.add(ErrParse, file, Position{Line: i + 1, Column: m[3] + 1},
				"invalid YAML string: a value that starts with a quote must end with it; use a literal (|) or folded (>) block for expressions containing quotes")
			found = true
		}
	}
	return found
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlErrorPos places a YAML syntax error: yaml.v3 gives only a line, sometimes one past
// the end of the text; the column is that of the line's first character.
func yamlErrorPos(err error, data []byte) Position {
	var line int
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		fmt.Sscanf(m[1], "%d", &line)
	}
	lines := bytes.Split(data, []byte("\n"))
	last := len(lines)
	for last > 1 && len(bytes.TrimSpace(lines[last-1])) == 0 {
		last--
	}
	line = min(max(line, 1), last)
	col := 1
	if line <= len(lines) {
		text := []rune(string(lines[line-1]))
		for col <= len(text) && (text[col-1] == ' ' || text[col-1] == '\t') {
			col++
		}
		if col > len(text) {
			col = 1
		}
	}
	return Position{Line: line, Column: col, Path: "$"}
}

func yamlErrorMessage(err error) string {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		msg = m[2]
	}
	return "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
}

type policyReader struct {
	nodeReader
}

func (r *policyReader) policy(root *yaml.Node) *Policy {
	p := &Policy{File: r.file, Pos: r.pos(root, "$")}
	fs, ok := r.fields(root, "$")
	if !ok {
		return nil
	}
	var apiVersionNode *yaml.Node
	var topVars *field
	kinds := 0
	for i, f := range fs {
		switch f.name {
		case "apiVersion":
			apiVersionNode = f.key
			p.APIVersion, _ = r.str(f.val, f.path)
		case "description":
			p.Description, _ = r.str(f.val, f.path)
		case "disabled":
			p.Disabled = r.boolean(f.val, f.path)
		case "metadata":
			p.Annotations = r.metadata(f.val, f.path)
		case "variables":
			topVars = &fs[i]
			p.TopVariables = r.namedExprs(f.val, f.path)
		case "$schema":
			// editor hint, ignored
		case "resourcePolicy", "principalPolicy", "rolePolicy", "derivedRoles", "exportVariables", "exportConstants":
			if isNull(f.val) {
				continue
			}
			kinds++
			p.KindPos = nodePos(f.key, f.path)
			r.policyBody(p, f)
		default:
			r.unknownField(f)
		}
	}
	if apiVersionNode == nil {
		r.validationError(root, "$.apiVersion", "value is required")
	} else if p.APIVersion != apiVersionV1 {
		r.validationError(apiVersionNode, "$.apiVersion", "must equal `%s`", apiVersionV1)
	}
	if kinds != 1 {
		r.probs.add(ErrValidation, r.file, nodePos(root, "$"), "policyType: exactly one field is required in oneof")
		return p
	}
	if topVars != nil {
		switch p.Kind {
		case KindExportVariables:
			r.errorAt(ErrValidation, topVars.key, topVars.path, "export variables policies do not support the deprecated top-level variables field")
		case KindExportConstants:
			r.errorAt(ErrValidation, topVars.key, topVars.path, "export constants policies do not support the deprecated top-level variables field")
		}
	}
	return p
}

func (r *policyReader) policyBody(p *Policy, f field) {
	switch f.name {
	case "resourcePolicy":
		p.Kind, p.Resource = KindResource, r.resourcePolicy(f.val, f.path)
	case "principalPolicy":
		p.Kind, p.Principal = KindPrincipal, r.principalPolicy(f.val, f.path)
	case "rolePolicy":
		p.Kind, p.Role = KindRole, r.rolePolicy(f.val, f.path)
	case "derivedRoles":
		p.Kind, p.DerivedRoles = KindDerivedRoles, r.derivedRoles(f.val, f.path)
	case "exportVariables":
		p.Kind, p.ExportVariables = KindExportVariables, r.exportVariables(f.val, f.path)
	case "exportConstants":
		p.Kind, p.ExportConstants = KindExportConstants, r.exportConstants(f.val, f.path)
	}
}

func (r *policyReader) metadata(n *yaml.Node, path string) map[string]string {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	var ann map[string]string
	for _, f := range fs {
		switch f.name {
		case "annotations":
			entries, ok := r.entries(f.val, f.path)
			if !ok {
				continue
			}
			ann = make(map[string]string, len(entries))
			for _, e := range entries {
				ann[e.key.Value], _ = r.str(e.val, e.path)
			}
		case "sourceFile", "hash", "storeIdentifier", "storeIdentifer", "sourceAttributes":
			// informational; accepted and ignored
		default:
			r.unknownField(f)
		}
	}
	return ann
}

// requiredString reads a string field and reports it if missing or empty.
func (r *policyReader) requiredString(fs []field, parent *yaml.Node, parentPath, name string) (string, *yaml.Node) {
	for _, f := range fs {
		if f.name == name {
			s, _ := r.str(f.val, f.path)
			if s == "" {
				r.validationError(f.key, f.path, "value is required")
			}
			return s, f.key
		}
	}
	r.validationError(parent, parentPath+"."+name, "value is required")
	return "", parent
}

func (r *policyReader) checkPattern(n *yaml.Node, path, value string, re *regexp.Regexp) {
	if !re.MatchString(value) {
		r.validationError(n, path, "does not match regex pattern `%s`", re.String())
	}
}

func (r *policyReader) checkNoGlob(n *yaml.Node, path, value string) {
	if strings.ContainsAny(value, globCharacters) {
		r.validationError(n, path, "must not contain glob characters (%s)", globCharacters)
	}
}

// nonEmptyUnique checks a list of strings used as actions or roles.
func (r *policyReader) nonEmptyUnique(list []string, nodes []*yaml.Node, n *yaml.Node, path string, required bool) {
	if required && len(list) == 0 {
		r.validationError(n, path, "value must contain at least 1 item(s)")
	}
	seen := make(map[string]bool, len(list))
	for i, s := range list {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		if s == "" {
			r.validationError(nodes[i], ipath, "value length must be at least 1 characters")
		}
		if seen[s] {
			r.validationError(nodes[i], path, "repeated value must contain unique items")
		}
		seen[s] = true
	}
}

func (r *policyReader) scopePermissions(n *yaml.Node, path string) ScopePermissions {
	s, _ := r.str(n, path)
	switch s {
	case "", "SCOPE_PERMISSIONS_UNSPECIFIED":
		return ScopePermissionsUnset
	case "SCOPE_PERMISSIONS_OVERRIDE_PARENT":
		return ScopePermissionsOverrideParent
	case "SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS":
		return ScopePermissionsRequireParentalConsent
	}
	r.errorAt(ErrParse, n, path, "invalid value for enum field scopePermissions: %q (want SCOPE_PERMISSIONS_OVERRIDE_PARENT or SCOPE_PERMISSIONS_REQUIRE_PARENTAL_CONSENT_FOR_ALLOWS)", s)
	return ScopePermissionsUnset
}

func (r *policyReader) effect(n *yaml.Node, path string) Effect {
	rn := resolve(n)
	if rn != nil && rn.Kind == yaml.ScalarNode {
		switch rn.Value {
		case "EFFECT_ALLOW", "1":
			return EffectAllow
		case "EFFECT_DENY", "2":
			return EffectDeny
		case "EFFECT_UNSPECIFIED", "EFFECT_NO_MATCH", "0", "3":
			r.validationError(n, path, "value must be one of [EFFECT_ALLOW, EFFECT_DENY]")
			return EffectNoMatch
		}
	}
	r.errorAt(ErrParse, n, path, "invalid value for enum field effect: %q (want EFFECT_ALLOW or EFFECT_DENY)", orNode(rn, n).Value)
	return EffectNoMatch
}

func (r *policyReader) refs(n *yaml.Node, path string) []Ref {
	names, nodes := r.strList(n, path)
	out := make([]Ref, len(names))
	for i, name := range names {
		ipath := fmt.Sprintf("%s[%d]", path, i)
		r.checkPattern(nodes[i], ipath, name, refNamePattern)
		out[i] = Ref{Name: name, Pos: nodePos(nodes[i], ipath)}
	}
	return out
}

// expr reads a CEL expression scalar, remembering where its text starts in the file.
func (r *policyReader) expr(n *yaml.Node, path string) *Expr {
	s, ok := r.str(n, path)
	if !ok {
		return nil
	}
	rn := resolve(n)
	e := &Expr{Src: s, Pos: nodePos(rn, path), Node: nodePos(rn, path), Style: rn.Style}
	switch {
	case rn.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		// Block scalars start on the line after the indicator, at the block's indentation.
		e.Pos.Line = rn.Line + 1
		e.Pos.Column = 1
		for l := rn.Line; l < len(r.lines); l++ { // r.lines is 0-based, so this is line rn.Line+1
			line := r.lines[l]
			if trimmed := bytes.TrimLeft(line, " \t"); len(trimmed) > 0 {
				e.Pos.Line = l + 1
				e.Pos.Column = len(line) - len(trimmed) + 1
				break
			}
		}
	case rn.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
		e.Pos.Column++
	}
	return e
}

func (r *policyReader) namedExprs(n *yaml.Node, path string) []NamedExpr {
	entries, ok := r.entries(n, path)
	if !ok {
		return nil
	}
	out := make([]NamedExpr, 0, len(entries))
	for _, e := range entries {
		ex := r.expr(e.val, e.path)
		if ex == nil {
			continue
		}
		out = append(out, NamedExpr{Name: e.key.Value, Expr: *ex, Pos: nodePos(e.key, e.path)})
	}
	return out
}

func (r *policyReader) namedValues(n *yaml.Node, path string) []NamedValue {
	entries, ok := r.entries(n, path)
	if !ok {
		return nil
	}
	out := make([]NamedValue, 0, len(entries))
	for _, e := range entries {
		v, ok := r.value(e.val, e.path, 0)
		if !ok {
			continue
		}
		out = append(out, NamedValue{Name: e.key.Value, Value: v, Pos: nodePos(e.key, e.path), ValuePos: r.pos(e.val, e.path)})
	}
	return out
}

func (r *policyReader) constants(n *yaml.Node, path string) Constants {
	var c Constants
	fs, _ := r.fields(n, path)
	for _, f := range fs {
		switch f.name {
		case "import":
			c.Import = r.refs(f.val, f.path)
		case "local":
			c.Local = r.namedValues(f.val, f.path)
		default:
			r.unknownField(f)
		}
	}
	return c
}

func (r *policyReader) variables(n *yaml.Node, path string) Variables {
	var v Variables
	fs, _ := r.fields(n, path)
	for _, f := range fs {
		switch f.name {
		case "import":
			v.Import = r.refs(f.val, f.path)
		case "local":
			v.Local = r.namedExprs(f.val, f.path)
		default:
			r.unknownField(f)
		}
	}
	return v
}

func (r *policyReader) condition(cf field) *Condition {
	n, path := cf.val, cf.path
	if isNull(n) {
		return nil
	}
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	var c *Condition
	for _, f := range fs {
		switch f.name {
		case "match":
			c = r.match(f.val, f.path, 0)
		case "script":
			r.errorAt(ErrCompile, cf.key, cf.path, "scripts in conditions are no longer supported: write the condition as a CEL expression under match.expr")
		default:
			r.unknownField(f)
		}
	}
	return c
}

func (r *policyReader) match(n *yaml.Node, path string, depth int) *Condition {
	if depth > maxNodeDepth {
		r.errorAt(ErrParse, n, path, "condition nesting too deep")
		return nil
	}
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	c := &Condition{Pos: r.pos(n, path)}
	set := 0
	for _, f := range fs {
		switch f.name {
		case "expr":
			set++
			c.Expr = r.expr(f.val, f.path)
		case "all", "any", "none":
			set++
			list := r.matchList(f.val, f.path, depth)
			switch f.name {
			case "all":
				c.All = list
			case "any":
				c.Any = list
			default:
				c.None = list
			}
		default:
			r.unknownField(f)
		}
	}
	if set != 1 {
		r.validationError(resolve(n), path, "exactly one of expr, all, any or none is required")
		return nil
	}
	return c
}

func (r *policyReader) matchList(n *yaml.Node, path string, depth int) []*Condition {
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	var out []*Condition
	found := false
	for _, f := range fs {
		if f.name != "of" {
			r.unknownField(f)
			continue
		}
		found = true
		for i, item := range r.seq(f.val, f.path) {
			if m := r.match(item, fmt.Sprintf("%s[%d]", f.path, i), depth+1); m != nil {
				out = append(out, m)
			}
		}
	}
	if !found || len(out) == 0 {
		r.validationError(resolve(n), path+".of", "value must contain at least 1 item(s)")
	}
	return out
}

// optionalExpr reads an expression field that may be left empty.
func (r *policyReader) optionalExpr(f field) *Expr {
	if isNull(f.val) {
		return nil
	}
	return r.expr(f.val, f.path)
}

func (r *policyReader) output(of field) *RuleOutput {
	n, path := of.val, of.path
	if isNull(n) {
		return nil
	}
	fs, ok := r.fields(n, path)
	if !ok {
		return nil
	}
	o := &RuleOutput{Pos: r.pos(n, path)}
	var deprecated *Expr
	for _, f := range fs {
		switch f.name {
		case "expr":
			deprecated = r.optionalExpr(f)
		case "when":
			wfs, _ := r.fields(f.val, f.path)
			for _, wf := range wfs {
				switch wf.name {
				case "ruleActivated":
					o.RuleActivated = r.optionalExpr(wf)
				case "conditionNotMet":
					o.ConditionNotMet = r.optionalExpr(wf)
				default:
					r.unknownField(wf)
				}
			}
		default:
			r.unknownField(f)
		}
	}
	if o.RuleActivated == nil && o.ConditionNotMet == nil {
		o.RuleActivated = deprecated
	}
	if o.RuleActivated == nil && o.ConditionNotMet == nil {
		r.errorAt(ErrCompile, of.key, path, "empty output: output must have at least one expression (when.ruleActivated, when.conditionNotMet or expr)")
		return nil
	}
	return o
}

func (r *policyReader) scopeField(f field) string {
	s, _ := r.str(f.val, f.path)
	r.checkPattern(f.key, f.path, s, scopePattern)
	return s
}
